"""Arguments of the ``%chatml`` magic, parsed into typed commands by one pure function.

:func:`parse` turns a magic line into a frozen dataclass per subcommand; it touches no files, no
database and no git, so the whole grammar is tested as a table (DESIGN §6, as in jupyter-ai).
Errors raise :class:`~chatml_lab.errors.InvalidArgumentError` whose message is one line ending in
a usage hint. Only the standard library is imported here: ``%load_ext`` must stay fast.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from ..errors import InvalidArgumentError
from ..models import PermissionMode, Priority, TaskStatus
from . import ship_args

T = TypeVar("T")


@dataclass(frozen=True)
class New:
    """``new [NAME] [--repo PATH] [--prompt TEXT] [--agent A] [--model M] [--priority P] [--from-pr N] [--base REF]``."""

    name: str | None = None
    repo: str | None = None
    prompt: str | None = None
    agent: str | None = None
    model: str | None = None
    priority: Priority | None = None
    from_pr: int | None = None
    base: str | None = None
    permission_mode: PermissionMode | None = None


@dataclass(frozen=True)
class List:
    """``list [--all]``: the styled session table."""

    all: bool = False


@dataclass(frozen=True)
class Dashboard:
    """``dashboard``: the live session list."""


@dataclass(frozen=True)
class Chat:
    """``chat NAME``: the chat panel of one session."""

    name: str


@dataclass(frozen=True)
class Send:
    """``send NAME TEXT``: a message to the session's agent."""

    name: str
    text: str


@dataclass(frozen=True)
class Set:
    """``set NAME [--priority P] [--status S] [--pin|--unpin] [--rename NEW] [--agent A] [--model M]
    [--permission-mode M]``.
    """

    name: str
    priority: Priority | None = None
    status: TaskStatus | None = None
    pinned: bool | None = None
    rename: str | None = None
    agent: str | None = None
    model: str | None = None
    permission_mode: PermissionMode | None = None


@dataclass(frozen=True)
class Sync:
    """``sync [NAME | --all]``: ``name`` None means every live session."""

    name: str | None = None


@dataclass(frozen=True)
class Archive:
    """``archive NAME [--force]``."""

    name: str
    force: bool = False


@dataclass(frozen=True)
class Unarchive:
    """``unarchive NAME``."""

    name: str


@dataclass(frozen=True)
class Delete:
    """``delete NAME [--force]``."""

    name: str
    force: bool = False


@dataclass(frozen=True)
class Approve:
    """``approve NAME [--id REQUEST]``: the oldest pending request unless an id is given."""

    name: str
    request_id: str | None = None


@dataclass(frozen=True)
class Deny:
    """``deny NAME [--id REQUEST]``."""

    name: str
    request_id: str | None = None


@dataclass(frozen=True)
class Stop:
    """``stop NAME``: end the agent's turn and its runner."""

    name: str


@dataclass(frozen=True)
class Interrupt:
    """``interrupt NAME``: stop the current turn, keep the runner."""

    name: str


@dataclass(frozen=True)
class Share:
    """``share NAME [PERSON]`` / ``unshare NAME PERSON``: who may change a session you own."""

    name: str
    person: str | None = None
    remove: bool = False


@dataclass(frozen=True)
class Settings:
    """``settings [--workspaces-dir DIR] [--branch-prefix P]``: show, or change then show."""

    workspaces_dir: str | None = None
    branch_prefix: str | None = None


@dataclass(frozen=True)
class Doctor:
    """``doctor``: what is installed and configured."""


@dataclass(frozen=True)
class Report:
    """``report NAME [--out DIR]``: an executed report notebook plus its HTML."""

    name: str
    out: str | None = None


@dataclass(frozen=True)
class Review:
    """``review NAME [--kind K] [--instructions TEXT]``: start a review conversation."""

    name: str
    kind: str = "quick"
    instructions: str | None = None


@dataclass(frozen=True)
class Findings:
    """``findings NAME [--all]``: the review findings table (open ones unless ``--all``)."""

    name: str
    all: bool = False


@dataclass(frozen=True)
class Help:
    """``help [SUBCOMMAND]``."""

    topic: str | None = None


@dataclass(frozen=True)
class CellChat:
    """``%%chatml [NAME] [--repo PATH] [--agent A] [--model M] [--priority P]`` over a message body."""

    name: str | None
    text: str
    repo: str | None = None
    agent: str | None = None
    model: str | None = None
    priority: Priority | None = None


Command = (
    New | List | Dashboard | Chat | Send | Set | Sync | Archive | Unarchive | Delete | Approve | Deny
    | Stop | Interrupt | Settings | Doctor | Report | Help | Review | Findings | Share | ship_args.ShipCommand
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise InvalidArgumentError(f"{message}; usage: {_usage(self)}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise InvalidArgumentError(f"{(message or 'invalid arguments').strip()}; usage: {_usage(self)}")


def _usage(parser: argparse.ArgumentParser) -> str:
    # argparse wraps long usages over several lines: the hint must stay one line.
    return " ".join(parser.format_usage().removeprefix("usage:").split())


def _parser(sub: str) -> _Parser:
    return _Parser(prog=f"%chatml {sub}", add_help=False, exit_on_error=False, allow_abbrev=False)


def _name_only(sub: str) -> _Parser:
    parser = _parser(sub)
    parser.add_argument("name", metavar="NAME")
    return parser


def _new_parser() -> _Parser:
    p = _parser("new")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--repo", metavar="PATH")
    p.add_argument("--prompt", metavar="TEXT")
    p.add_argument("--agent", metavar="NAME")
    p.add_argument("--model", metavar="MODEL")
    p.add_argument("--priority", metavar="{urgent,high,medium,low,none}")
    p.add_argument("--from-pr", dest="from_pr", type=int, metavar="N")
    p.add_argument("--base", metavar="REF")
    p.add_argument("--permission-mode", dest="permission_mode", metavar="{default,accept_edits,bypass,plan}")
    return p


def _set_parser() -> _Parser:
    p = _name_only("set")
    p.add_argument("--priority", metavar="{urgent,high,medium,low,none}")
    p.add_argument("--status", metavar="{backlog,in_progress,in_review,done,cancelled}")
    pin = p.add_mutually_exclusive_group()
    pin.add_argument("--pin", action="store_true")
    pin.add_argument("--unpin", action="store_true")
    p.add_argument("--rename", metavar="NEW_NAME")
    p.add_argument("--agent", metavar="NAME")
    p.add_argument("--model", metavar="MODEL")
    p.add_argument("--permission-mode", dest="permission_mode", metavar="{default,accept_edits,bypass,plan}")
    return p


def _cell_parser() -> _Parser:
    p = _parser("")
    p.prog = "%%chatml"
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--repo", metavar="PATH")
    p.add_argument("--agent", metavar="NAME")
    p.add_argument("--model", metavar="MODEL")
    p.add_argument("--priority", metavar="{urgent,high,medium,low,none}")
    return p


def _share_parser(sub: str) -> _Parser:
    p = _name_only(sub)
    p.add_argument("person", metavar="PERSON", nargs="?" if sub == "share" else None)
    return p


def _simple(sub: str, flags: tuple[str, ...] = (), positional: str | None = None) -> _Parser:
    p = _parser(sub)
    if positional:
        p.add_argument(positional, metavar=positional.upper())
    for flag in flags:
        p.add_argument(flag, action="store_true")
    return p


def _with_request_id(sub: str) -> _Parser:
    p = _name_only(sub)
    p.add_argument("--id", dest="request_id", metavar="REQUEST_ID")
    return p


def _settings_parser() -> _Parser:
    p = _parser("settings")
    p.add_argument("--workspaces-dir", dest="workspaces_dir", metavar="DIR")
    p.add_argument("--branch-prefix", dest="branch_prefix", metavar="PREFIX")
    return p


def _report_parser() -> _Parser:
    p = _name_only("report")
    p.add_argument("--out", metavar="DIR")
    return p


def _review_parser() -> _Parser:
    p = _name_only("review")
    p.add_argument(
        "--kind", default="quick", metavar="{quick,deep,security,performance,architecture,premerge}"
    )
    p.add_argument("--instructions", metavar="TEXT")
    return p


def _send_parser() -> _Parser:
    p = _name_only("send")
    p.add_argument("text", nargs="+", metavar="TEXT")
    return p


def _sync_parser() -> _Parser:
    p = _parser("sync")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--all", action="store_true")
    return p


#: Each subcommand: (one-line help, parser factory).
SUBCOMMANDS: dict[str, tuple[str, Callable[[], _Parser]]] = {
    "new": ("create a session (worktree + branch + agent)", _new_parser),
    "list": ("the session table (--all: with archived)", lambda: _simple("list", ("--all",))),
    "dashboard": ("the live session dashboard", lambda: _simple("dashboard")),
    "chat": ("the chat panel of a session", lambda: _name_only("chat")),
    "send": ("send a message to a session's agent", _send_parser),
    "set": ("change priority, status, pin, name or agent", _set_parser),
    "sync": ("fetch and count ahead/behind (one session or all)", _sync_parser),
    "archive": ("snapshot work, remove the worktree, keep the branch", lambda: _simple("archive", ("--force",), "name")),
    "unarchive": ("recreate an archived session's worktree", lambda: _name_only("unarchive")),
    "delete": ("delete a session (refuses when work would be lost)", lambda: _simple("delete", ("--force",), "name")),
    "approve": ("approve the agent's pending request", lambda: _with_request_id("approve")),
    "deny": ("deny the agent's pending request", lambda: _with_request_id("deny")),
    "stop": ("stop the session's agent", lambda: _name_only("stop")),
    "interrupt": ("interrupt the agent's current turn", lambda: _name_only("interrupt")),
    "settings": ("show or change settings", _settings_parser),
    "doctor": ("what is installed and configured", lambda: _simple("doctor")),
    "report": ("write an executed report notebook + HTML for a session", _report_parser),
    "review": ("start a read-only review conversation (findings land in %chatml findings)", _review_parser),
    "findings": ("the review findings of a session (--all: resolved too)", lambda: _simple("findings", ("--all",), "name")),
    "share": ("let PERSON change a session you own (no PERSON: who may)", lambda: _share_parser("share")),
    "unshare": ("make a session read-only for PERSON again", lambda: _share_parser("unshare")),
    "help": ("this help (help SUBCOMMAND for its usage)", lambda: _simple("help")),
}  # fmt: skip
SUBCOMMANDS.update(ship_args._parsers(_parser))  # push, pr, merge, update, prs, conflicts (issue 9)


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"cannot split the arguments ({exc}); quote text with '...' or \"...\""
        ) from None


def _choice(parse: Callable[[str], T], value: str | None) -> T | None:
    return None if value is None else parse(value)


def usage(sub: str | None = None) -> str:
    """The usage line of one subcommand, or the list of all of them."""
    if sub is None:
        width = max(len(name) for name in SUBCOMMANDS)
        lines = [f"  %chatml {name.ljust(width)}  {text}" for name, (text, _) in SUBCOMMANDS.items()]
        lines.append(
            f"  %%chatml {'[NAME]'.ljust(width - 1)}  the cell is a message to NAME (or a new session)"
        )
        return "Usage: %chatml SUBCOMMAND ...\n" + "\n".join(lines)
    if sub not in SUBCOMMANDS:
        raise InvalidArgumentError(
            f"unknown subcommand {sub!r}; usage: %chatml {{{'|'.join(SUBCOMMANDS)}}} ..."
        )
    return _usage(SUBCOMMANDS[sub][1]())


def parse(line: str) -> Command:
    """Parse a ``%chatml`` line into its command object (pure: no I/O)."""
    tokens = _split(line)
    if not tokens:
        return Help()
    sub, rest = tokens[0], tokens[1:]
    if sub in ("-h", "--help"):
        return Help()
    if sub not in SUBCOMMANDS:
        raise InvalidArgumentError(
            f"unknown subcommand {sub!r}; usage: %chatml {{{'|'.join(SUBCOMMANDS)}}} ... (see %chatml help)"
        )
    if sub == "help":
        if len(rest) > 1:
            raise InvalidArgumentError("help takes at most one subcommand; usage: %chatml help [SUBCOMMAND]")
        topic = rest[0] if rest else None
        if topic is not None:
            usage(topic)  # validates the topic
        return Help(topic)
    parser = SUBCOMMANDS[sub][1]()
    try:
        ns = parser.parse_args(rest)
    except argparse.ArgumentError as exc:
        raise InvalidArgumentError(f"{exc}; usage: {_usage(parser)}") from None
    return _build(sub, ns, parser)


def _build(sub: str, ns: argparse.Namespace, parser: _Parser) -> Command:
    hint = f"; usage: {_usage(parser)}"
    if sub in ship_args.SHIP:
        return ship_args.build(sub, ns, hint)
    if sub == "new":
        if ns.from_pr is not None and ns.base is not None:
            raise InvalidArgumentError("give either --from-pr or --base, not both" + hint)
        if ns.from_pr is not None and ns.from_pr <= 0:
            raise InvalidArgumentError(f"--from-pr must be a positive number, not {ns.from_pr}" + hint)
        return New(
            name=ns.name, repo=ns.repo, prompt=ns.prompt, agent=ns.agent, model=ns.model,
            priority=_choice(Priority.parse, ns.priority), from_pr=ns.from_pr, base=ns.base,
            permission_mode=_choice(PermissionMode.parse, ns.permission_mode),
        )  # fmt: skip
    if sub == "set":
        pinned = True if ns.pin else (False if ns.unpin else None)
        given = (ns.priority, ns.status, pinned, ns.rename, ns.agent, ns.model, ns.permission_mode)
        if all(value is None for value in given):
            raise InvalidArgumentError(
                "nothing to set: give --priority, --status, --pin/--unpin, --rename, --agent, --model"
                " or --permission-mode" + hint
            )
        return Set(
            name=ns.name, priority=_choice(Priority.parse, ns.priority),
            status=_choice(TaskStatus.parse, ns.status), pinned=pinned, rename=ns.rename,
            agent=ns.agent, model=ns.model, permission_mode=_choice(PermissionMode.parse, ns.permission_mode),
        )  # fmt: skip
    if sub == "sync":
        if ns.all and ns.name:
            raise InvalidArgumentError("give a session NAME or --all, not both" + hint)
        return Sync(name=ns.name)
    if sub == "send":
        return Send(name=ns.name, text=" ".join(ns.text))
    simple: dict[str, Callable[[], Command]] = {
        "list": lambda: List(all=ns.all),
        "dashboard": Dashboard,
        "chat": lambda: Chat(ns.name),
        "archive": lambda: Archive(ns.name, force=ns.force),
        "unarchive": lambda: Unarchive(ns.name),
        "delete": lambda: Delete(ns.name, force=ns.force),
        "approve": lambda: Approve(ns.name, ns.request_id),
        "deny": lambda: Deny(ns.name, ns.request_id),
        "stop": lambda: Stop(ns.name),
        "interrupt": lambda: Interrupt(ns.name),
        "settings": lambda: Settings(ns.workspaces_dir, ns.branch_prefix),
        "doctor": Doctor,
        "report": lambda: Report(ns.name, ns.out),
        "review": lambda: Review(ns.name, ns.kind, ns.instructions),
        "findings": lambda: Findings(ns.name, ns.all),
        "share": lambda: Share(ns.name, ns.person),
        "unshare": lambda: Share(ns.name, ns.person, remove=True),
    }
    return simple[sub]()


def parse_cell(line: str, body: str) -> CellChat:
    """Parse the ``%%chatml`` line; the cell body (stripped) is the message and must not be empty."""
    parser = _cell_parser()
    try:
        ns = parser.parse_args(_split(line))
    except argparse.ArgumentError as exc:
        raise InvalidArgumentError(f"{exc}; usage: {_usage(parser)}") from None
    text = body.strip()
    if not text:
        raise InvalidArgumentError(
            f"the cell is empty: write the message below the %%chatml line; usage: {_usage(parser)}"
        )
    return CellChat(
        name=ns.name, text=text, repo=ns.repo, agent=ns.agent, model=ns.model,
        priority=_choice(Priority.parse, ns.priority),
    )  # fmt: skip
