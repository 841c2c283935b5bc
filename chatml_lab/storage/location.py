"""Where the session store lives: one function opens it for every process of the package.

``Config.database_url`` (``$CHATML_DATABASE_URL``) chooses the engine: unset, SQLite at
``<data_dir>/state/chatml.db`` as always; ``sqlite:////abs/path.db``, SQLite elsewhere;
``postgresql://...``, PostgreSQL (:mod:`.postgres`).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config, check_database_url

if TYPE_CHECKING:
    from .store import Store

#: The SQLite file of a data dir when no database URL is set.
DEFAULT_DB = Path("state") / "chatml.db"


def store_target(database_url: str | None, data_dir: Path) -> Path | str:
    """The SQLite file, or the PostgreSQL URL, that ``database_url`` names for ``data_dir``."""
    if database_url is None:
        return data_dir / DEFAULT_DB
    if check_database_url(database_url) == "sqlite":
        return Path(urllib.parse.unquote(database_url.partition("://")[2][1:]))
    return database_url


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and ``chatml settings``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def describe(target: Path | str) -> str:
    """How a store location is shown to people: the file, or the URL without its password."""
    return str(target) if isinstance(target, Path) else masked(target)


def open_store(config: Config, data_dir: Path) -> Store:
    """Open (and migrate) the session store ``config`` names for ``data_dir``.

    Every place of the package that needs the store opens it here, so that the runner, the
    runner host, the CLI, the magics and the server all reach the same database.
    """
    import contextlib

    from .store import Store

    target = store_target(config.database_url, data_dir)
    if not isinstance(target, Path):
        # Logs and the runner host's socket live in the data dir whichever engine holds the rows;
        # a SQLite store makes it when it makes its file, and says so when it cannot.
        with contextlib.suppress(OSError):
            data_dir.mkdir(parents=True, exist_ok=True)
    return Store(target, retry_for=config.database_retry_for)
