"""``chatml push|pr|merge|update|prs|conflicts`` and ``chatml workspace set``: shipping from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from .errors import ChatMLError, UpdateConflictError

PR_COLUMNS = ["name", "pr", "pr_status", "checks", "mergeable", "draft", "task_status", "title", "url"]
CONFLICT_COLUMNS = ["order", "session", "clean_with_main", "conflicts_with", "files"]


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [columns] + [["" if r.get(c) is None else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def cmd_workspace_set(cm: Any, args: argparse.Namespace) -> int:
    if args.github_repo is None:
        raise ChatMLError("nothing to set: give --github-repo OWNER/NAME ('' goes back to the remote URL)")
    ws = cm.update_workspace(args.workspace, github_repo=args.github_repo)
    repo = cm.github_repo(ws.name)
    print(f"workspace {ws.name}: GitHub repository {repo or '(none: the remote URL names none)'}")
    return 0


def cmd_push(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    outcome = cm.push(session.id, force_with_lease=args.force_with_lease)
    print(f"{session.name}: {outcome}")
    return 0


def cmd_pr(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    link = cm.create_pr(session.id, title=args.title, body=args.body, draft=args.draft, base=args.base)
    print(
        f"{link.message}" if not link.created else f"{session.name}: pull request #{link.number} {link.url}"
    )
    return 0


def cmd_merge(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    sha = cm.merge_pr(session.id, method=args.method, force=args.force)
    rec = session.record
    print(f"{rec.name}: merged #{rec.pr_number} ({args.method}) as {sha[:10]}; task {rec.task_status.value}")
    return 0


def cmd_update(cm: Any, args: argparse.Namespace) -> int:
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


def cmd_prs(cm: Any, args: argparse.Namespace) -> int:
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
        print(_table(rows, PR_COLUMNS))
        print(f"{len(changed)} changed")
    else:
        print("no live sessions")
    return 0


def cmd_conflicts(cm: Any, args: argparse.Namespace) -> int:
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
    print(_table(lines, CONFLICT_COLUMNS))
    if any(row["uncommitted"] for row in rows):
        print("* uncommitted work included")
    return 0


def add_ship_commands(sub: Any, workspace_sub: Any) -> None:
    """Register the shipping commands on the ``chatml`` parser (and ``workspace set``)."""
    ws_set = workspace_sub.add_parser("set", help="change a workspace (its GitHub repository)")
    ws_set.add_argument("workspace")
    ws_set.add_argument("--github-repo", dest="github_repo", metavar="OWNER/NAME")
    ws_set.set_defaults(func=cmd_workspace_set)

    push = sub.add_parser("push", help="push a session's branch (upstream set; never a plain force)")
    push.add_argument("name")
    push.add_argument("--force-with-lease", action="store_true", dest="force_with_lease",
                      help="overwrite the remote branch if it is where it was last fetched")  # fmt: skip
    push.set_defaults(func=cmd_push)

    pr = sub.add_parser("pr", help="open a pull request for a session (or link the open one)")
    pr.add_argument("name")
    pr.add_argument("--title")
    pr.add_argument("--body")
    pr.add_argument("--draft", action="store_true")
    pr.add_argument("--base", help="base branch (default: the workspace's default branch)")
    pr.set_defaults(func=cmd_pr)

    merge = sub.add_parser("merge", help="merge a session's pull request")
    merge.add_argument("name")
    merge.add_argument("--method", default="squash", choices=["squash", "merge", "rebase"])
    merge.add_argument("--force", action="store_true", help="merge even with failed or running checks")
    merge.set_defaults(func=cmd_merge)

    update = sub.add_parser("update", help="rebase (or merge) a session onto origin's default branch")
    update.add_argument("name")
    how = update.add_mutually_exclusive_group()
    how.add_argument("--rebase", action="store_true", help="rebase (the default)")
    how.add_argument("--merge", action="store_true", help="merge origin's default branch in")
    how.add_argument("--abort", action="store_true", help="undo an update stopped on conflicts")
    update.set_defaults(func=cmd_update)

    prs = sub.add_parser("prs", help="refresh PR status now and show it")
    prs.add_argument("--workspace")
    prs.add_argument("--json", action="store_true")
    prs.set_defaults(func=cmd_prs)

    conflicts = sub.add_parser("conflicts", help="forecast conflicts between sessions and with main")
    conflicts.add_argument("--workspace")
    conflicts.add_argument("--committed", action="store_true", help="ignore uncommitted work")
    conflicts.add_argument("--json", action="store_true")
    conflicts.set_defaults(func=cmd_conflicts)
