"""``chatml share|unshare``: let named people change a session you own, or stop letting them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_share(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml share NAME [PERSON]``: share the session with PERSON, or say who may change it."""
    session = cm.session(args.name)
    if args.person is not None:
        session.share(args.person)
    shares = session.shares()
    with_whom = ", ".join(shares) if shares else "nobody else"
    print(f"{session.name}: owned by {session.owner or cm.config.user}; shared with {with_whom}")
    return 0


def cmd_unshare(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml unshare NAME PERSON``: the session is read-only for PERSON again."""
    session = cm.session(args.name)
    if not cm.owners.unshare(session.id, args.person):
        print(f"{session.name} was not shared with {args.person.strip()}")
        return 0
    shares = session.shares()
    print(f"{session.name}: shared with {', '.join(shares) if shares else 'nobody else'}")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``share`` or ``unshare``, and its handler."""
    parser.add_argument("name", help="the session (name, id or id prefix)")
    if command == "share":
        parser.add_argument(
            "person", nargs="?", help="who may change it too (their CHATML_USER or login name)"
        )
        parser.set_defaults(func=cmd_share)
    else:
        parser.add_argument("person", help="who may no longer change it")
        parser.set_defaults(func=cmd_unshare)
