"""``chatml gc|du``: what sessions leave behind on disk, and cleaning it up."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import ChatMLError
from ..render.table import human_bytes

if TYPE_CHECKING:
    from ..core.manager import ChatML
    from ..models import GcReport


def cmd_gc(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml gc``: list what can be collected, then (after confirmation) collect it."""
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


def _print_gc(report: GcReport) -> None:
    for note in report.notes:
        print(f"note: {note}")
    if report.empty:
        print("nothing to collect")
        return
    for path in report.orphan_worktrees:
        print(f"orphan worktree (no session): {path}")
    for name in report.missing_worktrees:
        print(f"missing worktree (deleted by hand): session {name}")
    for ref in report.stale_snapshot_refs:
        print(f"stale snapshot ref: {ref}")
    for record in report.half_made:
        print(f"stale git worktree record: {record}")
    for branch in report.orphan_branches:
        print(f"orphan branch (no session, no unique commit): {branch}")


def cmd_du(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml du``: disk use of each live session's worktree, and the total."""
    total = 0
    for session in cm.sessions(include_archived=False):
        size = session.disk_usage()
        total += size
        print(f"{human_bytes(size):>10}  {session.name}")
    print(f"{human_bytes(total):>10}  total")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``gc`` or ``du``, and its handler."""
    if command == "gc":
        parser.add_argument("--dry-run", action="store_true", dest="dry_run")
        parser.add_argument("--yes", action="store_true", help="clean without asking")
        parser.set_defaults(func=cmd_gc)
    else:
        parser.set_defaults(func=cmd_du)
