"""``chatml share|unshare``: let named people change a session you own, or stop letting them.

``chatml db add-person NAME`` (dispatched by :mod:`.db`): an administrator gives a person their
PostgreSQL role (issue 13).
"""

from __future__ import annotations

import argparse
import sys
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


def add_person(cm: ChatML, person: str | None, password_stdin: bool) -> int:
    """``chatml db add-person NAME [--password-stdin]``: the person's role, with the rights a person has."""
    from ..core.owners import check_person
    from ..errors import ConfigError
    from ..storage.rls import add_person as add_role

    url = cm.config.database_url
    if cm.store.engine != "postgresql" or url is None:
        raise ConfigError(
            "people have database roles on PostgreSQL only: set CHATML_DATABASE_URL to the"
            " administrator's postgresql:// URL (on SQLite, owners are checked by chatml alone)"
        )
    person = check_person(person or "")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    created = add_role(url, person, password or None)
    what = "created role" if created else "role exists;"
    print(f"{what} {person}: may read every session and write its own (and those shared with it)")
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
