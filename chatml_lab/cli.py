"""The ``chatml`` command line: the same API as the notebook, from a terminal.

Errors print one line on stderr and exit with status 1; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from .errors import ChatMLError

Handler = Callable[[Any, argparse.Namespace], int]


def _progress(message: str) -> None:
    # Steps are for people watching a terminal; warnings are for everyone.
    if sys.stderr.isatty() or message.startswith("warning:"):
        print(f"… {message}", file=sys.stderr, flush=True)


def _manager() -> Any:
    from .core.manager import ChatML

    return ChatML(progress=_progress)


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def format_rows(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table."""
    if not rows:
        return "no sessions (create one with `chatml new`)"

    def cell(row: dict[str, Any], col: str) -> str:
        value = row.get(col)
        if col == "updated_at" and isinstance(value, float):
            return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")
        if col == "pinned":
            return "*" if value else ""
        if col == "cost_usd":
            return "unknown" if value is None else f"{value:.4f}"
        return "" if value is None else str(value)

    table = [list(columns)] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in table
    )


LIST_COLUMNS = ["name", "workspace", "priority", "task_status", "pinned", "pr_status", "branch",
                "ahead", "behind", "agent_state", "cost_usd", "updated_at"]  # fmt: skip


def _json_rows(rows: list[dict[str, Any]], include_archived: bool = False) -> list[dict[str, Any]]:
    # The same fields as the DataFrame of ChatML.table() (core/table.py COLUMNS), in its order.
    columns = [*LIST_COLUMNS, "health", *(["archived"] if include_archived else [])]
    out = []
    for row in rows:
        item = {k: row[k] for k in columns}
        item["updated_at"] = datetime.fromtimestamp(row["updated_at"], UTC).isoformat()
        out.append(item)
    return out


# -- commands ---------------------------------------------------------------------------------------


def cmd_workspace(cm: Any, args: argparse.Namespace) -> int:
    if args.ws_command == "add":
        ws = cm.add_workspace(args.path, name=args.name)
        print(f"added workspace {ws.name} ({ws.path}), default branch {ws.default_branch}"
              f"{', remote ' + ws.remote if ws.remote else ', no remote'}")  # fmt: skip
    elif args.ws_command == "list":
        items = cm.workspaces()
        if args.json:
            print(json.dumps([{"name": w.name, "path": str(w.path), "default_branch": w.default_branch,
                               "remote": w.remote} for w in items], indent=2))  # fmt: skip
        elif not items:
            print("no workspaces (add one with `chatml workspace add PATH`)")
        for w in [] if args.json else items:
            print(f"{w.name}\t{w.path}\t{w.default_branch}\t{w.remote or '-'}")
    elif args.ws_command == "remove":
        ws = cm.workspace(args.workspace)
        cm.remove_workspace(args.workspace, force=args.force)
        print(f"removed workspace {ws.name} (the repository at {ws.path} is untouched)")
    return 0


def cmd_new(cm: Any, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    session = cm.new_session(
        args.repo, name=args.name, prompt=args.prompt, base=args.base, priority=args.priority,
        from_pr=args.from_pr, agent=args.agent, model=args.model, permission_mode=args.permission_mode,
    )  # fmt: skip
    rec = session.record
    if args.name and rec.name != args.name:
        print(f"note: name {args.name!r} became {rec.name!r}", file=sys.stderr)
    print(f"created session {rec.name} on branch {rec.branch} at {rec.worktree_path}"
          f" ({time.perf_counter() - started:.2f} s)")  # fmt: skip
    if rec.health != "ok":
        print(f"warning: {rec.health}", file=sys.stderr)
    return 0


def cmd_list(cm: Any, args: argparse.Namespace) -> int:
    rows = cm.rows(include_archived=args.all)
    if args.json:
        print(json.dumps(_json_rows(rows, include_archived=args.all), indent=2))
    else:
        print(
            format_rows(
                rows, [*LIST_COLUMNS, "health"] if any(r["health"] != "ok" for r in rows) else LIST_COLUMNS
            )
        )
    return 0


def cmd_show(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    rec = cm.reconcile(session.record)
    info = {
        "name": rec.name, "id": rec.id, "branch": rec.branch, "worktree": str(rec.worktree_path),
        "base": f"{rec.base_ref} ({rec.base_commit[:10]})", "priority": rec.priority.value,
        "task_status": rec.task_status.value, "pinned": rec.pinned, "archived": rec.archived,
        "pr_status": rec.pr_status.value, "ahead": rec.ahead, "behind": rec.behind,
        "agent_state": cm.agent_state(rec.id), "ports": f"{rec.port_base}-{rec.port_base + 9}",
        "disk": _human_bytes(cm.disk_usage(rec.id)), "health": rec.health,
    }  # fmt: skip
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key.ljust(width)}  {value}")
    if rec.archive_summary:
        print("\n" + rec.archive_summary)
    return 0


def cmd_set(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    pinned = True if args.pin else (False if args.unpin else None)
    if args.priority is None and args.status is None and pinned is None and args.rename is None:
        raise ChatMLError("nothing to set: give --priority, --status, --pin/--unpin or --rename")
    rec = cm.update(
        session.id, priority=args.priority, task_status=args.status, pinned=pinned, name=args.rename
    )
    print(f"{rec.name}: priority {rec.priority.value}, status {rec.task_status.value},"
          f" {'pinned' if rec.pinned else 'not pinned'}, branch {rec.branch}")  # fmt: skip
    return 0


def cmd_sync(cm: Any, args: argparse.Namespace) -> int:
    if args.all or not args.name:
        records = cm.sync_all()
    else:
        records = [cm.sync(cm.session(args.name).id)]
    for rec in records:
        print(f"{rec.name}: ahead {rec.ahead}, behind {rec.behind}")
    if not records:
        print("no live sessions to sync")
    return 0


def cmd_archive(cm: Any, args: argparse.Namespace) -> int:
    rec = cm.archive(cm.session(args.name).id, force=args.force)
    kept = f", uncommitted work kept in {rec.snapshot_ref}" if rec.snapshot_ref else ""
    print(f"archived {rec.name}: worktree removed, branch {rec.branch} kept{kept}")
    return 0


def cmd_unarchive(cm: Any, args: argparse.Namespace) -> int:
    rec = cm.unarchive(cm.session(args.name).id)
    print(f"restored {rec.name} at {rec.worktree_path} on {rec.branch}")
    return 0


def cmd_delete(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    name = session.name
    kept = cm.delete(session.id, force=args.force)
    print(f"deleted {name}" + (f"; its work is kept in {kept} until `chatml gc`" if kept else ""))
    return 0


def cmd_gc(cm: Any, args: argparse.Namespace) -> int:
    report = cm.gc(dry_run=True)
    _print_gc(report)
    if report.empty or args.dry_run:
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise ChatMLError("gc needs confirmation: run it in a terminal or pass --yes")
        if input("Clean these up? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 0
    for action in cm.gc(dry_run=False).actions:
        print(action)
    return 0


def _print_gc(report: Any) -> None:
    if report.empty:
        print("nothing to collect")
        return
    for path in report.orphan_worktrees:
        print(f"orphan worktree (no session): {path}")
    for name in report.missing_worktrees:
        print(f"missing worktree (deleted by hand): session {name}")
    for ref in report.stale_snapshot_refs:
        print(f"stale snapshot ref: {ref}")
    for path in report.half_made:
        print(f"stale git worktree record: {path}")


def cmd_du(cm: Any, args: argparse.Namespace) -> int:
    total = 0
    for session in cm.sessions(include_archived=False):
        size = session.disk_usage()
        total += size
        print(f"{_human_bytes(size):>10}  {session.name}")
    print(f"{_human_bytes(total):>10}  total")
    return 0


def cmd_settings(cm: Any, args: argparse.Namespace) -> int:
    if args.workspaces_dir is not None:
        cm.set_setting("workspaces_dir", args.workspaces_dir or None)
    if args.branch_prefix is not None:
        cm.set_setting("branch_prefix", args.branch_prefix)
    for key, value in cm.settings().items():
        print(f"{key}: {value}")
    return 0


# -- parser -----------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors read like every other error: one line, exit status 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"chatml: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``chatml``."""
    parser = _Parser(prog="chatml", description="Parallel coding agents in git worktree sessions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ws = sub.add_parser("workspace", help="add, list or remove repositories")
    ws_sub = ws.add_subparsers(dest="ws_command", required=True)
    ws_add = ws_sub.add_parser("add", help="register a git repository")
    ws_add.add_argument("path")
    ws_add.add_argument("--name")
    ws_list = ws_sub.add_parser("list", help="list workspaces")
    ws_list.add_argument("--json", action="store_true")
    ws_rm = ws_sub.add_parser("remove", help="forget a workspace (the repository is untouched)")
    ws_rm.add_argument("workspace")
    ws_rm.add_argument("--force", action="store_true")
    ws.set_defaults(func=cmd_workspace)

    new = sub.add_parser("new", help="create a session")
    new.add_argument("name", nargs="?")
    new.add_argument("--repo", default=None, help="repository or workspace (default: the current one)")
    new.add_argument("--priority")
    new.add_argument("--from-pr", type=int, dest="from_pr")
    new.add_argument("--base")
    new.add_argument("--prompt")
    new.add_argument("--agent")
    new.add_argument("--model")
    new.add_argument("--permission-mode", dest="permission_mode")
    new.set_defaults(func=cmd_new)

    lst = sub.add_parser("list", help="the session table")
    lst.add_argument("--all", action="store_true", help="include archived sessions")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    for cmd, func, text in (
        ("show", cmd_show, "details of one session"),
        ("unarchive", cmd_unarchive, "recreate an archived session's worktree"),
    ):
        p = sub.add_parser(cmd, help=text)
        p.add_argument("name")
        p.set_defaults(func=func)

    arc = sub.add_parser("archive", help="snapshot work, remove the worktree, keep the branch")
    arc.add_argument("name")
    arc.add_argument("--force", action="store_true", help="archive even if an archive script fails")
    arc.set_defaults(func=cmd_archive)

    dele = sub.add_parser("delete", help="delete a session (refuses when work would be lost)")
    dele.add_argument("name")
    dele.add_argument("--force", action="store_true", help="delete anyway, keeping a snapshot ref")
    dele.set_defaults(func=cmd_delete)

    st = sub.add_parser("set", help="change priority, status, pin or name")
    st.add_argument("name")
    st.add_argument("--priority")
    st.add_argument("--status")
    pin = st.add_mutually_exclusive_group()
    pin.add_argument("--pin", action="store_true")
    pin.add_argument("--unpin", action="store_true")
    st.add_argument("--rename")
    st.set_defaults(func=cmd_set)

    sy = sub.add_parser("sync", help="fetch and count ahead/behind origin's default branch")
    sy.add_argument("name", nargs="?")
    sy.add_argument("--all", action="store_true")
    sy.set_defaults(func=cmd_sync)

    gc = sub.add_parser("gc", help="find (and clean) orphan worktrees and stale snapshot refs")
    gc.add_argument("--dry-run", action="store_true", dest="dry_run")
    gc.add_argument("--yes", action="store_true", help="clean without asking")
    gc.set_defaults(func=cmd_gc)

    du = sub.add_parser("du", help="disk use per session")
    du.set_defaults(func=cmd_du)

    se = sub.add_parser("settings", help="show or change settings")
    se.add_argument("--workspaces-dir", dest="workspaces_dir", help="base directory of worktrees ('' resets)")
    se.add_argument("--branch-prefix", dest="branch_prefix", help="branch prefix ('none' for no prefix)")
    se.set_defaults(func=cmd_settings)

    from .demo import cmd_demo
    from .doctor import cmd_doctor

    dm = sub.add_parser("demo", help="three scripted agents edit a sample repository in parallel (no key)")
    dm.add_argument("out_dir", nargs="?", metavar="OUT_DIR", help="default: a new temp dir")
    # The demo works in temp dirs of its own: it must not open (or create) the user's store.
    dm.set_defaults(func=cmd_demo, needs_manager=False)
    dr = sub.add_parser("doctor", help="what is installed and configured")
    dr.set_defaults(func=cmd_doctor)

    from .agents.cli import add_agent_commands

    add_agent_commands(sub)

    from .reports.cli import add_review_commands

    add_review_commands(sub)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chatml``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "repo", None) is not None:
        args.repo = str(Path(args.repo).expanduser())
    try:
        if not getattr(args, "needs_manager", True):
            return int(args.func(None, args))
        cm = _manager()
        try:
            return int(args.func(cm, args))
        finally:
            cm.close()
    except ChatMLError as exc:
        print(f"chatml: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("chatml: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
