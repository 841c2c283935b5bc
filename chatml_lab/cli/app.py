"""The ``chatml`` parser and entry point: commands are indexed here, defined in their group's module.

:data:`COMMANDS` names every command, its group module and its one-line help; the module is
imported and asked for the command's arguments only when that command runs, so ``chatml list``
loads neither the demo, the doctor nor the agent commands. Errors are translated here, once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ..errors import ChatMLError

if TYPE_CHECKING:
    from ..core.manager import ChatML

#: command → (module of :mod:`chatml_lab.cli` that defines it, help shown by ``chatml --help``).
COMMANDS: dict[str, tuple[str, str]] = {
    "workspace": ("workspaces", "add, list, re-point or remove repositories"),
    "new": ("sessions", "create a session"),
    "list": ("sessions", "the session table"),
    "show": ("sessions", "details of one session"),
    "unarchive": ("sessions", "recreate an archived session's worktree"),
    "archive": ("sessions", "snapshot work, remove the worktree, keep the branch"),
    "delete": ("sessions", "delete a session (refuses when work would be lost)"),
    "set": ("sessions", "change priority, status, pin or name"),
    "sync": ("sessions", "fetch and count ahead/behind origin's default branch"),
    "gc": ("housekeeping", "find (and clean) orphan worktrees and stale snapshot refs"),
    "du": ("housekeeping", "disk use per session"),
    "settings": ("settings", "show or change settings"),
    "db": ("db", "the database in use; copy its sessions into another (SQLite to PostgreSQL)"),
    "demo": ("demo", "three scripted agents edit a sample repository in parallel (no key)"),
    "doctor": ("doctor", "what is installed and configured"),
    "send": ("agents", "send a message to a session's agent"),
    "log": ("agents", "print a session's event log"),
    "approve": ("agents", "approve a pending tool request"),
    "deny": ("agents", "deny a pending tool request"),
    "stop": ("agents", "stop the agent"),
    "interrupt": ("agents", "interrupt the current turn"),
    "push": ("ship", "push a session's branch (upstream set; never a plain force)"),
    "pr": ("ship", "open a pull request for a session (or link the open one)"),
    "merge": ("ship", "merge a session's pull request"),
    "update": ("ship", "rebase (or merge) a session onto origin's default branch"),
    "prs": ("ship", "refresh PR status now and show it"),
    "conflicts": ("ship", "forecast conflicts between sessions and with main"),
    "review": ("review", "start a read-only review conversation of a session"),
    "findings": ("review", "a session's review findings"),
    "fix": ("review", "send open findings to the task conversation as one message"),
    "resolve": ("review", "mark a finding fixed or ignored by hand (open reopens it)"),
    "report": ("review", "write a report notebook (data embedded) and its offline HTML"),
    "share": ("owners", "let a person change a session you own (without PERSON: who may)"),
    "unshare": ("owners", "make a session read-only for a person again"),
}


def progress(message: str) -> None:
    """The manager's progress sink: steps for people watching a terminal; warnings and notes (an
    interrupted operation finished, say) for everyone.
    """
    if sys.stderr.isatty() or message.startswith(("warning:", "note:")):
        print(f"… {message}", file=sys.stderr, flush=True)


def _manager() -> ChatML:
    from ..core.manager import ChatML

    return ChatML(progress=progress)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors read like every other error: one line, exit status 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"chatml: error: {message} (see `{self.prog} --help`)\n")


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The argparse tree of ``chatml``, with the arguments of ``commands`` (default: every command).

    Every command is listed (``chatml --help`` shows them all); a command's arguments come from its
    group module, imported here only for the commands asked for.
    """
    parser = _Parser(prog="chatml", description="Parallel coding agents in git worktree sessions.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        child = sub.add_parser(name, help=text)
        if commands is None or name in commands:
            importlib.import_module(f"{__package__}.{module}").add_arguments(name, child)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    # `chatml` has no option that takes a value, so the first word that is not an option is the command.
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chatml``."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = _command(words)
    parser = build_parser([command] if command in COMMANDS else [])
    args = parser.parse_args(words)
    if getattr(args, "repo", None) is not None:
        args.repo = str(Path(args.repo).expanduser())
    try:
        if getattr(args, "standalone", None) is not None:
            # The demo works in temp dirs of its own: it must not open (or create) the user's store.
            return int(args.standalone(args))
        cm = _manager()
        try:
            code = int(args.func(cm, args))
        finally:
            cm.close()
        sys.stdout.flush()  # here, not at exit: a reader that left (`| head`) is handled below
        return code
    except ChatMLError as exc:
        # The one place the command line translates errors: one line, its own option syntax.
        print(f"chatml: error: {exc.for_ui('cli')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("chatml: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `chatml list --json | head`: the reader is gone. Stop quietly, as a program killed by
        # SIGPIPE would, and keep the interpreter's own flush at exit from failing again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
