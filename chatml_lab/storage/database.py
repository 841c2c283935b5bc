"""The one store over two engines: SQLite (:mod:`.sqlite`, the embedded default) or PostgreSQL
(:mod:`.postgres`, for many machines). The row mixins of :class:`~chatml_lab.storage.store.Store`
see only this class: ``query``, ``query_tuples``, ``scalar``, ``execute`` and ``_transaction``,
with SQL written once in SQLite's dialect (:mod:`.dialect` says it in PostgreSQL's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import StorageError
from .dialect import statements

if TYPE_CHECKING:
    import sqlite3

    from .postgres import PostgresEngine
    from .sqlite import SqliteEngine

__all__ = ["Connection", "Cursor", "Database", "Listener", "Row", "statements"]


class Row(Protocol):
    """A result row: by position and by column name, with ``keys()`` (:class:`sqlite3.Row`'s ways)."""

    def __getitem__(self, key: Any, /) -> Any:
        """The value at a position or of a column name."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The values, in order."""
        ...

    def keys(self) -> list[str]:
        """The column names."""
        ...


class Cursor(Protocol):
    """What a statement run inside :meth:`Database._transaction` returns."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        ...

    @property
    def lastrowid(self) -> int | None:
        """The key of the row an insert made."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows."""
        ...


class Connection(Protocol):
    """The connection :meth:`Database._transaction` yields (SQLite's, or PostgreSQL's wrapped)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement (``?`` placeholders)."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        """Run one statement once per parameter set."""
        ...


class Listener(Protocol):
    """Wake-ups on named channels (:meth:`Database.listen`)."""

    def wait(self, timeout: float) -> list[str]:
        """Block up to ``timeout`` seconds; the payloads heard (an empty list: none, or polling)."""
        ...

    def close(self) -> None:
        """Stop listening."""
        ...


class Database:
    """The session store's connection, shared by everything in one process (thread-safe).

    ``target`` is a SQLite file (a :class:`~pathlib.Path`) or a PostgreSQL URL. Multi-statement
    writes go through :meth:`_transaction`; a single write statement and reads run on their own.
    Every engine failure leaves this class as a :class:`~chatml_lab.errors.StorageError`.

    A SQLite store that cannot be written is opened read-only: reading works and :attr:`read_only`
    says why writes fail. A PostgreSQL connection that is lost is retried for ``retry_for``
    seconds, then :class:`~chatml_lab.errors.StoreUnreachableError` says which database and what to do.
    """

    def __init__(self, target: Path | str, retry_for: float = 30.0) -> None:
        self._engine: SqliteEngine | PostgresEngine
        if isinstance(target, Path):
            from .sqlite import SqliteEngine

            self._engine = SqliteEngine(target)
        else:
            from .postgres import PostgresEngine

            self._engine = PostgresEngine(target, retry_for)

    @property
    def engine(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.name

    @property
    def location(self) -> str:
        """The SQLite file, or the PostgreSQL URL without its password."""
        return self._engine.location

    @property
    def read_only(self) -> str | None:
        """Why the store was opened read-only (None: it is writable)."""
        return self._engine.read_only

    @property
    def path(self) -> Path:
        """The SQLite file (a PostgreSQL store has none: :class:`StorageError`)."""
        return self._sqlite().path

    @property
    def _conn(self) -> sqlite3.Connection:
        """The SQLite connection itself (tests trace its statements)."""
        return self._sqlite()._conn

    def _sqlite(self) -> SqliteEngine:
        from .sqlite import SqliteEngine

        if not isinstance(self._engine, SqliteEngine):
            raise StorageError(f"the session store {self.location} is not a SQLite file")
        return self._engine

    def _transaction(self) -> AbstractContextManager[Connection]:
        """A short write transaction (one writer at a time); rolls back on any exception."""
        return self._engine.transaction()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read query and return all rows."""
        return self._engine.query(sql, params)

    def query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return plain tuples (no row object per row: for long reads)."""
        return self._engine.query_tuples(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a read query and return the first column of the first row (or None)."""
        rows = self._engine.query_tuples(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the new row's id (an insert into
        a table with an ``AUTOINCREMENT`` key), else 0 or the engine's last row id.
        """
        return self._engine.execute(sql, params)

    def _identity_columns(self) -> dict[str, str]:
        """``{table: key}`` of the tables whose key the database counts (PostgreSQL identities)."""
        from .postgres import PostgresEngine

        return dict(self._engine._identities) if isinstance(self._engine, PostgresEngine) else {}

    def schema_version(self) -> int:
        """How many of the numbered migrations the database has had."""
        if self.engine == "sqlite":
            return int(self.scalar("PRAGMA user_version") or 0)
        return int(self.scalar("SELECT version FROM chatml_schema") or 0)

    def notify(self, channel: str, payload: str = "") -> None:
        """Wake the listeners of ``channel`` (PostgreSQL ``NOTIFY``; nothing on SQLite, whose
        listeners poll). Sent at once, outside any transaction.
        """
        self._engine.notify(channel, payload)

    def listen(self, channels: Sequence[str]) -> Listener:
        """A listener on ``channels``: ``wait(timeout)`` returns the payloads heard (PostgreSQL
        ``LISTEN``), or sleeps the timeout and returns ``[]`` (SQLite: the caller polls). A
        notification is a wake-up, never data: after a reconnect the listener returns ``[""]``
        once, since some may have been missed, and the caller re-reads the database.
        """
        return self._engine.listen(channels)

    def close(self) -> None:
        """Close the connection (or the pool)."""
        self._engine.close()
