"""SQLite connection: WAL mode, busy timeout, migrations at open, one write path per process."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StorageError
from .schema import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000


def statements(script: str) -> list[str]:
    """The SQL statements of ``script``, cut at each ``;`` that SQLite says ends a statement.

    A plain split on ``;`` would also cut a string literal or a trigger body that contains one.
    """
    found: list[str] = []
    pending = ""
    for part in re.split(r"(;)", script):
        pending += part
        if part == ";" and sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    rest = [line for line in pending.splitlines() if line.strip() and not line.strip().startswith("--")]
    if rest:
        raise StorageError(f"a migration ends with an incomplete SQL statement: {rest[0].strip()[:60]!r}")
    return found


class Database:
    """A thread-safe SQLite connection shared by everything in one process.

    Multi-statement writes go through :meth:`_transaction` (``BEGIN IMMEDIATE``, so two processes
    never deadlock upgrading a read lock); a single write statement and reads run in autocommit.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(
                f"cannot open the session store at {path}: {exc} (set CHATML_DATA_DIR to a writable dir)"
            ) from exc
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self.scalar("PRAGMA user_version")
        if version >= len(MIGRATIONS):
            return
        with self._transaction() as conn:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for index in range(version, len(MIGRATIONS)):
                for statement in statements(MIGRATIONS[index]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {index + 1}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction; rolls back on any exception."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"the session store is busy or unwritable: {exc}") from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read query and return all rows."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"session store query failed: {exc}") from exc

    def query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return plain tuples (no :class:`sqlite3.Row` per row: for long reads)."""
        with self._lock:
            try:
                cursor = self._conn.cursor()
                cursor.row_factory = None
                return cursor.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"session store query failed: {exc}") from exc

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a read query and return the first column of the first row (or None)."""
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the last row id.

        One statement is its own (autocommit) transaction: SQLite takes the write lock when the
        statement starts, so there is no read lock to upgrade and no ``BEGIN``/``COMMIT`` round
        trip (the event log writes one of these per streamed chunk).
        """
        with self._lock:
            try:
                cursor = self._conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StorageError(f"the session store is busy or unwritable: {exc}") from exc
                raise
            return int(cursor.lastrowid or 0)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
