"""``chatml new|list|show|set|sync|archive|unarchive|delete``: the session commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from ..errors import ChatMLError, SessionArchivedError, SessionNotArchivedError, SessionNotFoundError
from ..render.badges import label
from ..render.table import LIST_COLUMNS, format_rows, human_bytes, json_rows

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_new(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml new [NAME]``: create a session (worktree, branch, optionally a first prompt)."""
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


def cmd_list(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml list``: the session table (``--json`` for scripts)."""
    rows = cm.rows(include_archived=args.all)
    if args.json:
        print(json.dumps(json_rows(rows, include_archived=args.all), indent=2))
    else:
        print(
            format_rows(
                rows, [*LIST_COLUMNS, "health"] if any(r["health"] != "ok" for r in rows) else LIST_COLUMNS
            )
        )
    return 0


def cmd_show(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml show NAME``: every detail of one session."""
    session = cm.session(args.name)
    rec = cm.reconcile(session.record)
    info = {
        "name": rec.name, "id": rec.id, "branch": rec.branch, "worktree": str(rec.worktree_path),
        "base": f"{rec.base_ref} ({rec.base_commit[:10]})", "priority": label(rec.priority),
        "task_status": label(rec.task_status), "pinned": rec.pinned, "archived": rec.archived,
        "pr_status": label(rec.pr_status), "ahead": rec.ahead, "behind": rec.behind,
        "agent_state": label(cm.agent_state(rec.id)), "ports": f"{rec.port_base}-{rec.port_base + 9}",
        "disk": "on its machine" if cm.elsewhere(rec.id) else human_bytes(cm.disk_usage(rec.id)),
        "machine": rec.machine or cm.config.machine, "health": rec.health,
    }  # fmt: skip
    info["owner"] = rec.owner + "".join(f", shared with {p}" for p in cm.owners.shares(rec.id))
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key.ljust(width)}  {value}")
    if rec.archive_summary:
        print("\n" + rec.archive_summary)
    return 0


def cmd_set(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml set NAME``: change priority, task status, pin or name."""
    pinned = True if args.pin else (False if args.unpin else None)
    agent_args = (args.agent, args.model, args.permission_mode)
    if (args.priority is None and args.status is None and pinned is None and args.rename is None
            and all(a is None for a in agent_args)):  # fmt: skip
        raise ChatMLError(
            "nothing to set: give --priority, --status, --pin/--unpin, --rename, --agent, --model"
            " or --permission-mode"
        )
    try:
        session = cm.session(args.name)
    except SessionNotFoundError:
        done = cm.operations.last_done_named(args.name, "rename") if args.rename else None
        if done is None or done.plan.get("name") != args.rename:
            raise
        # A rename to that name was killed half-way and has been finished since.
        session = cm.session(done.session_id)
    rec = cm.update(
        session.id, priority=args.priority, task_status=args.status, pinned=pinned, name=args.rename,
        agent=args.agent, model=args.model, permission_mode=args.permission_mode,
    )  # fmt: skip
    agent = f", agent {rec.agent_backend or '(default)'} ({label(rec.permission_mode)})"
    print(f"{rec.name}: priority {label(rec.priority)}, status {label(rec.task_status)},"
          f" {'pinned' if rec.pinned else 'not pinned'}, branch {rec.branch}{agent}")  # fmt: skip
    return 0


def cmd_sync(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml sync [NAME|--all]``: fetch and count ahead/behind."""
    if args.all or not args.name:
        records = cm.sync_all()
    else:
        records = [cm.sync(cm.session(args.name).id)]
    for rec in records:
        print(f"{rec.name}: ahead {rec.ahead}, behind {rec.behind}")
    if not records:
        print("no live sessions to sync")
    return 0


def cmd_archive(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml archive NAME``: snapshot work, remove the worktree, keep the branch.

    Run again after it was done (a retry of a command that was killed), it says so and succeeds.
    """
    session = cm.session(args.name)
    try:
        rec = cm.archive(session.id, force=args.force)
    except SessionArchivedError:
        if cm.operations.last_done(session.id, "archive") is None:
            raise
        rec, already = cm.record(session.id), " (already)"
    else:
        already = ""
    kept = f", uncommitted work kept in {rec.snapshot_ref}" if rec.snapshot_ref else ""
    print(f"archived{already} {rec.name}: worktree removed, branch {rec.branch} kept{kept}")
    return 0


def cmd_unarchive(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml unarchive NAME``: recreate the worktree and restore the snapshot (again: succeeds)."""
    session = cm.session(args.name)
    try:
        rec = cm.unarchive(session.id)
    except SessionNotArchivedError:
        if cm.operations.last_done(session.id, "unarchive") is None:
            raise
        rec = cm.record(session.id)
    print(f"restored {rec.name} at {rec.worktree_path} on {rec.branch}")
    return 0


def cmd_delete(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml delete NAME``: delete a session unless work would be lost (``--force`` keeps a ref)."""
    try:
        session = cm.session(args.name)
    except SessionNotFoundError:
        done = cm.operations.last_done_named(args.name, "delete")
        if done is None:
            raise
        # Deleted already (a retry of a delete that was killed, say): the work is done.
        name, kept = args.name, done.plan.get("keep")
    else:
        name = session.name
        kept = cm.delete(session.id, force=args.force)
    print(f"deleted {name}" + (f"; its work is kept in {kept} until `chatml gc`" if kept else ""))
    return 0


def _pr_ref(text: str) -> int | str:
    """``--from-pr``: a number, or a ``…/OWNER/NAME/pull/N`` URL (checked against the workspace)."""
    if text.strip().lstrip("#").isdigit():
        return int(text.strip().lstrip("#"))
    if "/pull/" in text:
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a pull request number or URL")


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of one session command, and its handler."""
    match command:
        case "new":
            parser.add_argument("name", nargs="?")
            parser.add_argument(
                "--repo", default=None, help="repository or workspace (default: the current one)"
            )
            parser.add_argument("--priority")
            parser.add_argument(
                "--from-pr",
                dest="from_pr",
                type=_pr_ref,
                metavar="N|URL",
                help="a pull request number or URL",
            )
            parser.add_argument("--base")
            parser.add_argument("--prompt")
            parser.add_argument("--agent")
            parser.add_argument("--model")
            parser.add_argument("--permission-mode", dest="permission_mode")
            parser.set_defaults(func=cmd_new)
        case "list":
            parser.add_argument("--all", action="store_true", help="include archived sessions")
            parser.add_argument("--json", action="store_true")
            parser.set_defaults(func=cmd_list)
        case "show" | "unarchive":
            parser.add_argument("name")
            parser.set_defaults(func=cmd_show if command == "show" else cmd_unarchive)
        case "archive":
            parser.add_argument("name")
            parser.add_argument(
                "--force", action="store_true", help="archive even if an archive script fails"
            )
            parser.set_defaults(func=cmd_archive)
        case "delete":
            parser.add_argument("name")
            parser.add_argument("--force", action="store_true", help="delete anyway, keeping a snapshot ref")
            parser.set_defaults(func=cmd_delete)
        case "set":
            parser.add_argument("name")
            parser.add_argument("--priority")
            parser.add_argument("--status")
            pin = parser.add_mutually_exclusive_group()
            pin.add_argument("--pin", action="store_true")
            pin.add_argument("--unpin", action="store_true")
            parser.add_argument("--rename")
            parser.add_argument(
                "--agent", help="the agent from its next start (scripted:PATH gives a script)"
            )
            parser.add_argument("--model")
            parser.add_argument("--permission-mode", dest="permission_mode")
            parser.set_defaults(func=cmd_set)
        case "sync":
            parser.add_argument("name", nargs="?")
            parser.add_argument("--all", action="store_true")
            parser.set_defaults(func=cmd_sync)
