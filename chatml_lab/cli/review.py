"""``chatml review|findings|fix|resolve|report``: reviews, their findings, and shareable reports.

Errors are :class:`~chatml_lab.errors.ChatMLError` and reach the user as one line through the
CLI's single handler (:func:`chatml_lab.cli.app.main`).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_review(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml review NAME [--kind K] [--wait]``: start a read-only review conversation."""
    session = cm.session(args.name)
    conv = session.review(args.kind, instructions=args.instructions, model=args.model)
    if not args.wait:
        print(f"started {conv.title} of {session.name}; follow with `chatml log {session.name} -c review -f`,"
              f" then `chatml findings {session.name}`")  # fmt: skip
        return 0
    state = session.wait_conversation(conv, timeout=args.timeout)
    print(f"{conv.title} is {state}")
    return cmd_findings(cm, argparse.Namespace(name=args.name, all=False, json=False))


def cmd_findings(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml findings NAME [--all] [--json]``: the session's review findings."""
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


def cmd_fix(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml fix NAME [ID...]``: hand open findings to the task conversation as one message."""
    session = cm.session(args.name)
    session.fix_findings(args.ids or None)
    print(
        f"sent the findings to {session.name}'s task conversation; follow with `chatml log {session.name} -f`"
    )
    return 0


def cmd_resolve(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml resolve NAME ID fixed|ignored|open``: set a finding's status by hand."""
    session = cm.session(args.name)
    found = session.resolve_finding(args.id, args.resolution, note=args.note)
    print(f"{found.id} is {found.status.value}")
    return 0


def cmd_report(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml report NAME [--out DIR]``: a report notebook with its data embedded, and its HTML."""
    from ..reports.report import write_report

    out = write_report(cm.session(args.name), out_dir=args.out)
    print(
        f"report notebook {out.notebook}\nreport HTML     {out.html} (opens offline, with the folder beside it)"
    )
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of one review or report command, and its handler."""
    parser.add_argument("name")
    match command:
        case "review":
            from ..core.review_prompts import KINDS

            parser.add_argument("--kind", "-k", default="quick", choices=list(KINDS))
            parser.add_argument("--instructions", help="what to focus on, appended to the kind's prompt")
            parser.add_argument("--model", help="model for this review (default: the review_model setting)")
            parser.add_argument(
                "--wait", action="store_true", help="wait for the review and print its findings"
            )
            parser.add_argument("--timeout", type=float, default=None)
            parser.set_defaults(func=cmd_review)
        case "findings":
            parser.add_argument("--all", action="store_true", help="resolved ones too")
            parser.add_argument("--json", action="store_true")
            parser.set_defaults(func=cmd_findings)
        case "fix":
            parser.add_argument("ids", nargs="*", metavar="ID", help="only these findings (F1 F2 ...)")
            parser.set_defaults(func=cmd_fix)
        case "resolve":
            parser.add_argument("id", metavar="ID")
            parser.add_argument("resolution", choices=["fixed", "ignored", "open"])
            parser.add_argument("--note")
            parser.set_defaults(func=cmd_resolve)
        case "report":
            parser.add_argument("--out", help="output directory (default: <data>/reports)")
            parser.set_defaults(func=cmd_report)
