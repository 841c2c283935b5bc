"""``chatml db``: which database holds the sessions; ``chatml db copy URL`` moves them to another."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_db(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml db`` shows the store; ``chatml db copy URL`` copies every row into an empty database."""
    store = cm.store
    if args.action == "show":
        print(f"engine: {store.engine}")
        print(f"location: {store.location}")
        print(f"schema: {store.schema_version()}")
        return 0
    if args.action == "add-person":  # issue 13: a person's PostgreSQL role (cli/owners.py)
        from .owners import add_person

        return add_person(cm, args.url, args.password_stdin)
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


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``db`` and its handler."""
    parser.add_argument("action", nargs="?", choices=("show", "copy", "add-person"), default="show",
                        help="show the database in use (default), copy its rows into another, or"
                             " add-person NAME: create a person's role (PostgreSQL, as the administrator)")  # fmt: skip
    parser.add_argument("url", nargs="?", metavar="URL|NAME",
                        help="copy: postgresql://user@host/db or sqlite:////abs/path.db; add-person: their user name")  # fmt: skip
    parser.add_argument("--password-stdin", action="store_true",
                        help="add-person: read the role's password from the first line of stdin")  # fmt: skip
    parser.set_defaults(func=cmd_db)
