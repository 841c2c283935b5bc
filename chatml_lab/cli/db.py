"""``chatml db``: which database holds the sessions; ``chatml db copy URL`` moves them to another;
``chatml db add-person NAME``: an administrator gives a person their PostgreSQL role (issue 13).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_db(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml db`` shows the store; ``chatml db copy URL`` copies every row into an empty database."""
    store = cm.store
    if args.action in (None, "show"):
        print(f"engine: {store.engine}")
        print(f"location: {store.location}")
        print(f"schema: {store.schema_version()}")
        return 0
    if not args.url:
        raise InvalidArgumentError(
            "db copy needs the URL of the target database: chatml db copy postgresql://..."
        )
    from ..config import check_database_url
    from ..storage.location import describe, store_target
    from ..storage.store import Store
    from ..storage.transfer import copy_rows

    check_database_url(args.url)
    target = Store(store_target(args.url, cm.data_dir), retry_for=cm.config.database_retry_for)
    try:
        copied = copy_rows(store, target)
        where = describe(target.location)
    finally:
        target.close()
    for table, count in copied.items():
        print(f"{count:>8}  {table}")
    print(f"copied into {where}: set CHATML_DATABASE_URL to that URL on every machine to use it")
    return 0


def cmd_add_person(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml db add-person NAME [--password-stdin]``: the person's role, with the rights a person has."""
    from ..core.owners import check_person
    from ..errors import ConfigError
    from ..storage.rls import add_person

    url = cm.config.database_url
    if cm.store.engine != "postgresql" or url is None:
        raise ConfigError(
            "people have database roles on PostgreSQL only: set CHATML_DATABASE_URL to the"
            " administrator's postgresql:// URL (on SQLite, owners are checked by chatml alone)"
        )
    person = check_person(args.person)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    created = add_person(url, person, password or None)
    what = "created role" if created else "role exists;"
    print(f"{what} {person}: may read every session and write its own (and those shared with it)")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``db`` (``show`` when no subcommand is named) and their handlers."""
    parser.set_defaults(func=cmd_db, action=None)
    sub = parser.add_subparsers(dest="action", metavar="SUBCOMMAND")
    sub.add_parser("show", help="the database in use (the default)").set_defaults(func=cmd_db)
    copy = sub.add_parser("copy", help="copy every row into another, empty database")
    copy.add_argument("url", nargs="?", help="postgresql://user@host/db or sqlite:////abs/path.db")
    copy.set_defaults(func=cmd_db)
    add = sub.add_parser("add-person", help="create a person's role (an administrator's URL)")
    add.add_argument("person", help="their chatml user name (CHATML_USER, JupyterHub or login name)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the role's password from the first line of stdin"
    )
    add.set_defaults(func=cmd_add_person)
