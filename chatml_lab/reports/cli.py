"""``chatml review|findings|fix|report``: the review and report commands of the command line.

Registered by :func:`add_review_commands` (one call in the ``chatml`` parser), like the agent
commands of :mod:`chatml_lab.agents.cli`. Errors are :class:`~chatml_lab.errors.ChatMLError`
and reach the user as one line through the CLI's single handler.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..core.review_prompts import KINDS


def cmd_review(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    conv = session.review(args.kind, instructions=args.instructions, model=args.model)
    if not args.wait:
        print(f"started {conv.title} of {session.name}; follow with `chatml log {session.name} -c review -f`,"
              f" then `chatml findings {session.name}`")  # fmt: skip
        return 0
    state = session.wait_conversation(conv, timeout=args.timeout)
    print(f"{conv.title} is {state}")
    return cmd_findings(cm, argparse.Namespace(name=args.name, all=False, json=False))


def cmd_findings(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    rows = session.finding_list(None if args.all else "open")
    if args.json:
        print(json.dumps([{
            "id": f.id, "file": f.file_path, "line": f.line_number, "severity": f.severity.value,
            "title": f.title, "body": f.content, "status": f.status.value,
        } for f in rows], indent=2))  # fmt: skip
        return 0
    if not rows:
        print(f"no {'' if args.all else 'open '}findings for {session.name}")
        return 0
    for f in rows:
        place = f.file_path + (f":{f.line_number}" if f.line_number else "")
        print(f"{f.id:<4} {f.severity.value:<10} {f.status.value:<8} {place}  {f.title}")
    return 0


def cmd_fix(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    session.fix_findings(args.ids or None)
    print(
        f"sent the findings to {session.name}'s task conversation; follow with `chatml log {session.name} -f`"
    )
    return 0


def cmd_resolve(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    found = session.resolve_finding(args.id, args.resolution, note=args.note)
    print(f"{found.id} is {found.status.value}")
    return 0


def cmd_report(cm: Any, args: argparse.Namespace) -> int:
    from .report import write_report

    out = write_report(cm.session(args.name), out_dir=args.out)
    print(
        f"report notebook {out.notebook}\nreport HTML     {out.html} (opens offline, with the folder beside it)"
    )
    return 0


def add_review_commands(sub: Any) -> None:
    """Add ``review``, ``findings``, ``fix``, ``resolve`` and ``report`` to the ``chatml`` parser."""
    rv = sub.add_parser("review", help="start a read-only review conversation of a session")
    rv.add_argument("name")
    rv.add_argument("--kind", "-k", default="quick", choices=list(KINDS))
    rv.add_argument("--instructions", help="what to focus on, appended to the kind's prompt")
    rv.add_argument("--model", help="model for this review (default: the review_model setting)")
    rv.add_argument("--wait", action="store_true", help="wait for the review and print its findings")
    rv.add_argument("--timeout", type=float, default=None)
    rv.set_defaults(func=cmd_review)

    fd = sub.add_parser("findings", help="a session's review findings")
    fd.add_argument("name")
    fd.add_argument("--all", action="store_true", help="resolved ones too")
    fd.add_argument("--json", action="store_true")
    fd.set_defaults(func=cmd_findings)

    fx = sub.add_parser("fix", help="send open findings to the task conversation as one message")
    fx.add_argument("name")
    fx.add_argument("ids", nargs="*", metavar="ID", help="only these findings (F1 F2 ...)")
    fx.set_defaults(func=cmd_fix)

    rs = sub.add_parser("resolve", help="mark a finding fixed or ignored by hand (open reopens it)")
    rs.add_argument("name")
    rs.add_argument("id", metavar="ID")
    rs.add_argument("resolution", choices=["fixed", "ignored", "open"])
    rs.add_argument("--note")
    rs.set_defaults(func=cmd_resolve)

    rp = sub.add_parser("report", help="write a report notebook (data embedded) and its offline HTML")
    rp.add_argument("name")
    rp.add_argument("--out", help="output directory (default: <data>/reports)")
    rp.set_defaults(func=cmd_report)
