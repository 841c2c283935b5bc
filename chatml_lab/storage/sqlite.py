"""The SQLite engine: WAL mode, busy timeout, migrations at open, one write path per process."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import RowGoneError, StorageError, StoreDamagedError, StoreUnwritableError
from .dialect import statements
from .schema import MIGRATIONS, migration_text

BUSY_TIMEOUT_MS = 10_000


def translate(exc: sqlite3.Error, path: Path, doing: str) -> StorageError:
    """The :mod:`chatml_lab.errors` error for a SQLite failure: one line naming the problem and the fix."""
    text = str(exc).strip() or type(exc).__name__
    low = text.lower()
    if "foreign key constraint" in low:
        return RowGoneError(
            f"{doing}: a session or conversation it refers to was deleted by another process meanwhile"
        )
    if "not a database" in low or "malformed" in low or "file is encrypted" in low:
        return StoreDamagedError(
            f"the session store {path} is damaged ({text}): restore it from a backup, or move it aside"
            " to start a new one (worktrees and branches stay in git)"
        )
    if "readonly" in low or "read-only" in low:
        return StoreUnwritableError(
            f"the session store {path} is read-only ({text}): make it writable,"
            " or set CHATML_DATA_DIR to a writable directory"
        )
    if "disk is full" in low or "disk i/o error" in low or "unable to open" in low:
        return StoreUnwritableError(
            f"the session store {path} cannot be written ({text}; is the disk full?):"
            " free some space and try again"
        )
    if "locked" in low or "busy" in low:
        return StorageError(
            f"the session store {path} is busy: another process held it for over"
            f" {BUSY_TIMEOUT_MS // 1000} s; try again"
        )
    return StorageError(f"{doing} failed: {text}")


class SqliteEngine:
    """A thread-safe SQLite connection shared by everything in one process.

    Multi-statement writes go through :meth:`_transaction` (``BEGIN IMMEDIATE``, so two processes
    never deadlock upgrading a read lock); a single write statement and reads run in autocommit.
    Every SQLite failure leaves this class as a :class:`~chatml_lab.errors.StorageError` (see
    :func:`translate`).

    A store that cannot be written (a read-only file or directory, a full disk) is opened
    read-only instead: reading works, and each write raises
    :class:`~chatml_lab.errors.StoreUnwritableError` saying why. :attr:`read_only` tells.
    """

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        #: How the store is shown to people.
        self.location = str(path)
        self._lock = threading.RLock()
        #: Why the store was opened read-only (None: it is writable).
        self.read_only: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if not path.exists():
                raise StorageError(
                    f"cannot open the session store at {path}: {exc.strerror or exc}"
                    " (set CHATML_DATA_DIR to a writable dir)"
                ) from None
        try:
            self._conn = self._open_writable()
        except StoreUnwritableError as exc:
            if not path.exists():
                raise
            self._conn = self._open_read_only(exc)

    def _connect(self, target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False,
                uri=uri,
            )  # fmt: skip
        except sqlite3.Error as exc:
            raise translate(exc, self.path, "opening the session store") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _open_writable(self) -> sqlite3.Connection:
        self._conn = conn = self._connect(str(self.path))
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, self.path, "opening the session store") from None
        except StorageError:
            conn.close()
            raise
        return conn

    def _open_read_only(self, why: StoreUnwritableError) -> sqlite3.Connection:
        """Open for reading only: plain read-only first, then ``immutable`` (no lock files at all,
        for a full disk or a read-only directory where SQLite cannot create its ``-shm`` file).
        """
        uri = "file:" + urllib.parse.quote(str(self.path))
        last: StorageError = why
        for mode in ("?mode=ro", "?mode=ro&immutable=1"):
            conn = self._connect(uri + mode, uri=True)
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.Error as exc:
                conn.close()
                last = translate(exc, self.path, "opening the session store")
                if not isinstance(last, StoreUnwritableError):
                    raise last from None
                continue
            if version < len(MIGRATIONS):
                conn.close()
                raise StoreUnwritableError(f"{why} (the store also needs an upgrade, which needs writing)")
            self.read_only = str(why)
            return conn
        raise last

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        with self.transaction() as conn:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for index in range(version, len(MIGRATIONS)):
                shared, own = migration_text(MIGRATIONS[index], self.name)
                for statement in statements(shared) + statements(own):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {index + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction; rolls back on any exception."""
        with self._lock:
            if self.read_only is not None:
                raise StoreUnwritableError(self.read_only)
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "writing to the session store") from None
            try:
                yield self._conn
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc, self.path, "writing to the session store") from exc
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise translate(exc, self.path, "writing to the session store") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read query and return all rows."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "reading the session store") from None

    def query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return plain tuples (no :class:`sqlite3.Row` per row: for long reads)."""
        with self._lock:
            try:
                cursor = self._conn.cursor()
                cursor.row_factory = None
                return cursor.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "reading the session store") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the last row id.

        One statement is its own (autocommit) transaction: SQLite takes the write lock when the
        statement starts, so there is no read lock to upgrade and no ``BEGIN``/``COMMIT`` round
        trip (the event log writes one of these per streamed chunk).
        """
        with self._lock:
            if self.read_only is not None:
                raise StoreUnwritableError(self.read_only)
            try:
                cursor = self._conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "writing to the session store") from None
            return int(cursor.lastrowid or 0)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def notify(self, channel: str, payload: str = "") -> None:
        """Nothing: SQLite has no notifications; its listeners poll (see :class:`PollingListener`)."""

    def listen(self, channels: Sequence[str]) -> PollingListener:
        """A listener that never hears anything: its :meth:`~PollingListener.wait` sleeps the timeout."""
        return PollingListener()


class PollingListener:
    """What listening means on SQLite: waiting out the poll interval (the caller then re-reads)."""

    def wait(self, timeout: float) -> list[str]:
        """Sleep ``timeout`` seconds and return no payload."""
        time.sleep(max(0.0, timeout))
        return []

    def close(self) -> None:
        """Nothing to release."""
