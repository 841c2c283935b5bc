"""``chatml push|pr|merge|update|prs|conflicts``: shipping from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import UpdateConflictError
from ..render.table import format_rows

if TYPE_CHECKING:
    from ..core.manager import ChatML

PR_COLUMNS = ["name", "pr", "pr_status", "checks", "mergeable", "draft", "task_status", "title", "url"]
CONFLICT_COLUMNS = ["order", "session", "clean_with_main", "conflicts_with", "files"]


def cmd_push(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml push NAME [--force-with-lease]``: push the branch, upstream set."""
    session = cm.session(args.name)
    outcome = cm.push(session.id, force_with_lease=args.force_with_lease)
    print(f"{session.name}: {outcome}")
    return 0


def cmd_pr(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml pr NAME``: open a pull request, or link the open one."""
    session = cm.session(args.name)
    link = cm.create_pr(session.id, title=args.title, body=args.body, draft=args.draft, base=args.base)
    print(
        f"{link.message}" if not link.created else f"{session.name}: pull request #{link.number} {link.url}"
    )
    return 0


def cmd_merge(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml merge NAME [--method M] [--force]``: merge the session's pull request."""
    session = cm.session(args.name)
    sha = cm.merge_pr(session.id, method=args.method, force=args.force)
    rec = session.record
    print(f"{rec.name}: merged #{rec.pr_number} ({args.method}) as {sha[:10]}; task {rec.task_status.value}")
    return 0


def cmd_update(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml update NAME [--rebase|--merge|--abort]``: catch up with origin's default branch."""
    session = cm.session(args.name)
    if args.abort:
        rec = cm.abort_update(session.id)
        print(f"{rec.name}: update aborted, branch and uncommitted work as before")
        return 0
    try:
        rec = cm.update_branch(session.id, method="merge" if args.merge else "rebase")
    except UpdateConflictError as exc:
        print(f"chatml: error: {exc}", file=sys.stderr)
        for name in exc.files:
            print(f"conflict: {name}")
        return 1
    print(f"{rec.name}: up to date with origin (ahead {rec.ahead}, behind {rec.behind})")
    return 0


def cmd_prs(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml prs``: refresh PR status now and show it."""
    changed = {s.id for s in cm.refresh_prs(args.workspace)}
    rows = []
    for row in cm.rows():
        if args.workspace is not None and row["workspace"] != cm.workspace(args.workspace).name:
            continue
        rows.append({
            "name": row["name"], "pr": f"#{row['pr_number']}" if row["pr_number"] else "",
            "pr_status": row["pr_status"], "checks": row["checks"], "mergeable": row["pr_mergeable"],
            "draft": "draft" if row["pr_draft"] else "", "task_status": row["task_status"],
            "title": row["pr_title"], "url": row["pr_url"], "changed": row["id"] in changed,
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(format_rows(rows, PR_COLUMNS))
        print(f"{len(changed)} changed")
    else:
        print("no live sessions")
    return 0


def cmd_conflicts(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml conflicts``: the conflict forecast and a merge order."""
    rows = cm.conflict_rows(args.workspace, include_uncommitted=not args.committed)
    if args.json:
        for row in rows:
            row["checked_at"] = datetime.fromtimestamp(row["checked_at"], UTC).isoformat()
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no live sessions")
        return 0
    lines = []
    for row in rows:
        files = ", ".join(row["main_conflicts"]) if not row["clean_with_main"] else ""
        others = "; ".join(f"{name}: {', '.join(paths)}" for name, paths in row["conflict_files"].items())
        lines.append({
            "order": row["order"], "session": row["session"] + (" *" if row["uncommitted"] else ""),
            "clean_with_main": "yes" if row["clean_with_main"] else f"no ({files})",
            "conflicts_with": ", ".join(row["conflicts_with"]) or "-", "files": others,
        })  # fmt: skip
    print(format_rows(lines, CONFLICT_COLUMNS))
    if any(row["uncommitted"] for row in rows):
        print("* uncommitted work included")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of one shipping command, and its handler."""
    match command:
        case "push":
            parser.add_argument("name")
            parser.add_argument("--force-with-lease", action="store_true", dest="force_with_lease",
                                help="overwrite the remote branch if it is where it was last fetched")  # fmt: skip
            parser.set_defaults(func=cmd_push)
        case "pr":
            parser.add_argument("name")
            parser.add_argument("--title")
            parser.add_argument("--body")
            parser.add_argument("--draft", action="store_true")
            parser.add_argument("--base", help="base branch (default: the workspace's default branch)")
            parser.set_defaults(func=cmd_pr)
        case "merge":
            parser.add_argument("name")
            parser.add_argument("--method", default="squash", choices=["squash", "merge", "rebase"])
            parser.add_argument(
                "--force", action="store_true", help="merge even with failed or running checks"
            )
            parser.set_defaults(func=cmd_merge)
        case "update":
            parser.add_argument("name")
            how = parser.add_mutually_exclusive_group()
            how.add_argument("--rebase", action="store_true", help="rebase (the default)")
            how.add_argument("--merge", action="store_true", help="merge origin's default branch in")
            how.add_argument("--abort", action="store_true", help="undo an update stopped on conflicts")
            parser.set_defaults(func=cmd_update)
        case "prs":
            parser.add_argument("--workspace")
            parser.add_argument("--json", action="store_true")
            parser.set_defaults(func=cmd_prs)
        case "conflicts":
            parser.add_argument("--workspace")
            parser.add_argument("--committed", action="store_true", help="ignore uncommitted work")
            parser.add_argument("--json", action="store_true")
            parser.set_defaults(func=cmd_conflicts)
