"""The PostgreSQL engine: psycopg 3 over a connection pool, for a store many machines share.

It offers what :class:`~chatml_lab.storage.sqlite.SqliteEngine` offers, in the same words (the
store's SQL is translated by :mod:`.dialect`), and adds what a network database needs:

- **A lost connection is retried.** A statement that fails because its connection died (the
  server restarted, a proxy dropped it, ``pg_terminate_backend``) runs again on a fresh connection
  from the pool, with a back-off doubling up to 2 s, for ``retry_for`` seconds in all; past that,
  :class:`~chatml_lab.errors.StoreUnreachableError` names the database (password masked) and the fix.
- **Nothing half-written.** A transaction runs on one connection; if that connection is lost the
  server rolls it back, and the caller gets one line saying nothing was written. A transaction's
  ``BEGIN`` is its first round trip, so a pooled connection that died while idle is replaced
  before any of the caller's statements run.
- **A retried insert is not written twice.** When a single-statement write's connection is lost,
  whether the server committed it is unknown. Before running again, an insert into a table with
  an ``AUTOINCREMENT`` key (the event log: the runner writes one per streamed chunk; the inbox)
  looks for the row it would write, every column equal (``created_at`` is the writer's clock to
  the microsecond, so two different rows never match), and returns that row's key if the first
  attempt landed. A retried insert that hits a unique key it wrote itself counts as done.
  Updates and deletes set absolute values and run again as they are; the one increment
  (``add_usage``) may count a turn's tokens twice if the connection dies exactly then.
- **One writer at a time**, as SQLite's ``BEGIN IMMEDIATE``: every multi-statement transaction
  first takes one transaction-level advisory lock, so check-then-write code (free port blocks,
  lease claims) behaves as it does on SQLite under READ COMMITTED.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

import psycopg
from psycopg import sql as pgsql
from psycopg.adapt import Dumper
from psycopg.rows import RowMaker
from psycopg.types.string import StrDumper
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import (
    ChatMLError,
    NotOwnerError,
    RowGoneError,
    StorageError,
    StoreDamagedError,
    StoreUnreachableError,
    StoreUnwritableError,
)
from .dialect import ddl_to_postgres, identity_columns, inserted_table, plain_insert, statements, to_postgres
from .location import masked
from .pg_listener import PgListener
from .schema import MIGRATIONS, migration_text

T = TypeVar("T")

#: Keys of the transaction-level advisory locks: one writer at a time, one migrator at a time.
WRITE_LOCK = 0x63686D6C  # "chml"
MIGRATE_LOCK = 0x63686D6D
#: Longest pause between two attempts to reach a lost database.
MAX_BACKOFF = 2.0
#: Seconds one attempt waits for a connection from the pool.
ATTEMPT_TIMEOUT = 5.0
#: SQLSTATE classes whose error means "the connection (or the server) went away".
_LOST_STATES = ("08", "57P01", "57P02", "57P03")
#: SQLSTATEs a retry cannot fix: bad password, no such database, no such role.
_FATAL_STATES = ("28000", "28P01", "3D000")


class PgRow(tuple[Any, ...]):
    """A row indexable by position and by column name, with ``keys()`` (as :class:`sqlite3.Row`)."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    return type("PgRow", (PgRow,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}})


def pg_row(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    """Psycopg row factory making :class:`PgRow` (one class per set of column names, cached)."""
    names = tuple(c.name for c in cursor.description or ())
    return _row_class(names)


class _BoolAsInteger(Dumper):
    """Booleans are stored as 0/1 integers, as on SQLite (the schema has no boolean columns)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def _configure(conn: psycopg.Connection[Any]) -> None:
    # str as text (not "unknown"), so that ``length(?)`` and ``? || '%'`` know their types.
    conn.adapters.register_dumper(str, StrDumper)
    conn.adapters.register_dumper(bool, _BoolAsInteger)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _lost(exc: BaseException, conn: psycopg.Connection[Any] | None) -> bool:
    """Whether ``exc`` means the connection is gone (retry on another) rather than a bad statement."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate or ""
    if state in _FATAL_STATES:
        return False
    return state.startswith(_LOST_STATES) or conn is None or conn.broken or conn.closed


def _fatal(exc: psycopg.Error) -> bool:
    """A connection refused for good: a wrong password, user or database name (not worth retrying).

    libpq reports these at connect time without a SQLSTATE, so the server's words are read too.
    """
    text = str(exc)
    return (exc.sqlstate or "") in _FATAL_STATES or any(
        words in text for words in ("does not exist", "authentication failed", "no pg_hba.conf entry")
    )


def translate(exc: psycopg.Error, location: str, doing: str) -> ChatMLError:
    """The :mod:`chatml_lab.errors` error for a PostgreSQL failure: one line, problem and fix."""
    state = exc.sqlstate or ""
    text = _first_line(exc)
    if state == "42501" and "row-level security" in text:  # storage/rls.py: someone else's session
        return NotOwnerError(
            f"{doing}: the database refused it ({text}): the session is someone else's and not shared"
            " with you; its owner can share it (`chatml share NAME YOU`)"
        )
    if state == "42501":
        return StorageError(
            f"{doing}: the database role has no right to it ({text}): an administrator grants a person's"
            " role its rights with `chatml db add-person NAME`, and upgrades the schema with their own URL"
        )
    if state == "23503":
        return RowGoneError(
            f"{doing}: a session or conversation it refers to was deleted by another process meanwhile"
        )
    if state.startswith("XX"):
        return StoreDamagedError(
            f"the session store {location} reports damage ({text}): restore the database from a backup"
        )
    if state == "25006" or state.startswith("53"):
        return StoreUnwritableError(
            f"the session store {location} cannot be written ({text}): free space on the database"
            " server, or connect to a writable one"
        )
    if state in ("40001", "40P01", "55P03"):
        return StorageError(f"the session store {location} is busy ({text}); try again")
    return StorageError(f"{doing} failed: {text}")


class PgCursor:
    """A statement's result inside a transaction: rows, ``rowcount`` and ``lastrowid``."""

    def __init__(self, cursor: psycopg.Cursor[Any], lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


class PgConnection:
    """The connection a transaction body sees: SQLite-dialect statements, translated."""

    def __init__(self, conn: psycopg.Connection[Any], identities: dict[str, str]) -> None:
        self._conn = conn
        self._identities = identities

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        """Run one statement; an insert into an ``AUTOINCREMENT`` table reports its new key."""
        key = _returning(sql, self._identities)
        cursor = self._conn.cursor(row_factory=pg_row)
        if key is None:
            cursor.execute(to_postgres(sql), tuple(parameters))
            return PgCursor(cursor)
        cursor.execute(to_postgres(sql) + f" RETURNING {key}", tuple(parameters))
        row = cursor.fetchone()
        return PgCursor(cursor, int(row[0]) if row else None)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> PgCursor:
        """Run one statement once per parameter set."""
        cursor = self._conn.cursor(row_factory=pg_row)
        cursor.executemany(to_postgres(sql), [tuple(p) for p in parameters])
        return PgCursor(cursor)


@lru_cache(maxsize=1024)
def _write_plan(
    sql: str, identities: tuple[tuple[str, str], ...]
) -> tuple[str, str | None, tuple[str, list[str]] | None, bool]:
    """How :meth:`PostgresEngine.execute` runs ``sql``: its PostgreSQL text (with ``RETURNING``
    the new key, if any), that key column, the insert's table and columns when every value is a
    placeholder (a retry can look the row up), and whether it is an insert at all.
    """
    key = _returning(sql, dict(identities))
    text = to_postgres(sql) + (f" RETURNING {key}" if key is not None else "")
    plain = plain_insert(sql) if key is not None else None
    return text, key, plain, inserted_table(sql) is not None


def _returning(sql: str, identities: dict[str, str]) -> str | None:
    table = inserted_table(sql)
    if table is None or table not in identities or "returning" in sql.lower():
        return None
    return identities[table]


class PostgresEngine:
    """A pool of connections to one PostgreSQL database, shared by the threads of one process."""

    name = "postgresql"

    def __init__(self, url: str, retry_for: float = 30.0) -> None:
        self.url = url
        self.location = masked(url)
        self.retry_for = retry_for
        #: PostgreSQL stores are never opened read-only.
        self.read_only: str | None = None
        self._identities = identity_columns([migration_text(m, self.name)[0] for m in MIGRATIONS])
        self._identity_items = tuple(sorted(self._identities.items()))
        self._closed = threading.Event()
        self._migrate()
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, min_size=1, max_size=8, open=False, configure=_configure,
            kwargs={"autocommit": True}, reconnect_timeout=max(retry_for, 1.0), name="chatml",
        )  # fmt: skip
        self._pool.open(wait=False)

    # -- connections and the retry loop ---------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(max(2, ATTEMPT_TIMEOUT)))
        _configure(conn)
        return conn

    def _unreachable(self, why: BaseException) -> StoreUnreachableError:
        return StoreUnreachableError(
            f"the session store {self.location} cannot be reached ({_first_line(why)}) after"
            f" {self.retry_for:g} s of retries: start the database server or fix CHATML_DATABASE_URL"
        )

    def _attempts(self) -> Iterator[int]:
        """Attempt numbers, with a growing pause before each retry, until :attr:`retry_for` is spent."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        attempt = 0
        while True:
            yield attempt
            attempt += 1
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(delay, left))
            delay = min(delay * 2, MAX_BACKOFF)

    def _run(self, work: Callable[[psycopg.Connection[Any], int], T], doing: str) -> T:
        """``work(connection, attempt)`` on a pooled connection, again on a fresh one while the
        connection is lost, for :attr:`retry_for` seconds.
        """
        last: BaseException | None = None
        for attempt in self._attempts():
            conn: psycopg.Connection[Any] | None = None
            try:
                with self._pool.connection(timeout=min(ATTEMPT_TIMEOUT, max(self.retry_for, 0.1))) as conn:
                    return work(conn, attempt)
            except (psycopg.Error, PoolTimeout) as exc:
                self._raise_unless_lost(exc, conn, doing)
                last = exc
        assert last is not None
        raise self._unreachable(last) from None

    def _raise_unless_lost(
        self, exc: psycopg.Error | PoolTimeout, conn: psycopg.Connection[Any] | None, doing: str
    ) -> None:
        """Raise ``exc`` (as chatml's error) unless it is a lost connection, which the caller retries."""
        if _lost(exc, conn):
            return
        if isinstance(exc, psycopg.Error):
            raise translate(exc, self.location, doing) from None
        raise exc

    def _migrate(self) -> None:
        last: BaseException | None = None
        for _attempt in self._attempts():
            try:
                conn = self._connect()
            except psycopg.OperationalError as exc:
                if _fatal(exc):
                    raise StoreUnreachableError(
                        f"cannot open the session store {self.location} ({_first_line(exc)}):"
                        " fix CHATML_DATABASE_URL (user, password, database name)"
                    ) from None
                last = exc
                continue
            try:
                if _schema_version(conn) >= len(MIGRATIONS):
                    return  # current: no lock, and nothing a role without CREATE rights may not do
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                    conn.execute("CREATE TABLE IF NOT EXISTS chatml_schema (version INTEGER NOT NULL)")
                    row = conn.execute("SELECT version FROM chatml_schema").fetchone()
                    if row is None:
                        conn.execute("INSERT INTO chatml_schema (version) VALUES (0)")
                    version = int(row[0]) if row else 0
                    for index in range(version, len(MIGRATIONS)):
                        shared, own = migration_text(MIGRATIONS[index], self.name)
                        for statement in statements(shared):
                            conn.execute(ddl_to_postgres(statement).encode())
                        for statement in statements(own):
                            conn.execute(statement.encode())
                        conn.execute("UPDATE chatml_schema SET version = %s", (index + 1,))
                return
            except psycopg.Error as exc:
                self._raise_unless_lost(exc, conn, "upgrading the session store")
                last = exc
            finally:
                conn.close()
        assert last is not None
        raise self._unreachable(last) from None

    # -- the store's interface ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """A write transaction under the one write lock; rolled back on any exception."""
        doing = "writing to the session store"
        conn = self._begin(doing)
        try:
            try:
                yield PgConnection(conn, self._identities)
            except BaseException as exc:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, psycopg.Error):
                    if _lost(exc, conn):
                        raise StorageError(
                            f"the connection to the session store {self.location} was lost mid-write:"
                            " the server rolled it back, nothing of it was written; try again"
                        ) from None
                    raise translate(exc, self.location, doing) from None
                raise
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                if _lost(exc, conn):
                    raise StorageError(
                        f"the connection to the session store {self.location} was lost while committing:"
                        " whether the write landed is unknown; look, then try again"
                    ) from None
                raise translate(exc, self.location, doing) from None
        finally:
            self._pool.putconn(conn)

    def _begin(self, doing: str) -> psycopg.Connection[Any]:
        """A pooled connection inside ``BEGIN`` holding the write lock (a dead one is replaced)."""
        last: BaseException | None = None
        for _attempt in self._attempts():
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = self._pool.getconn(timeout=min(ATTEMPT_TIMEOUT, max(self.retry_for, 0.1)))
                conn.execute("BEGIN")
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                return conn
            except (psycopg.Error, PoolTimeout) as exc:
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                    self._pool.putconn(conn)
                self._raise_unless_lost(exc, conn, doing)
                last = exc
        assert last is not None
        raise self._unreachable(last) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read query and return all rows (:class:`PgRow`)."""
        text, values = to_postgres(sql), tuple(params)

        def work(conn: psycopg.Connection[Any], _attempt: int) -> list[Any]:
            return conn.cursor(row_factory=pg_row).execute(text, values).fetchall()

        return self._run(work, "reading the session store")

    def query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return plain tuples."""
        text, values = to_postgres(sql), tuple(params)

        def work(conn: psycopg.Connection[Any], _attempt: int) -> list[tuple[Any, ...]]:
            return conn.execute(text, values).fetchall()

        return self._run(work, "reading the session store")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement on its own; return the new key of an ``AUTOINCREMENT`` insert
        (else 0). Retried when its connection is lost, without writing a row twice (module doc).
        """
        text, key, plain, is_insert = _write_plan(sql, self._identity_items)
        values = tuple(params)

        def work(conn: psycopg.Connection[Any], attempt: int) -> int:
            if attempt and plain is not None and key is not None:
                landed = _find_inserted(conn, plain[0], plain[1], key, values)
                if landed is not None:
                    return landed
            try:
                cursor = conn.execute(text, values)
            except psycopg.errors.UniqueViolation:
                if attempt and is_insert:
                    return 0  # the first attempt committed before its connection was lost
                raise
            if key is None:
                return 0
            row = cursor.fetchone()
            return int(row[0]) if row else 0

        return self._run(work, "writing to the session store")

    def notify(self, channel: str, payload: str = "") -> None:
        """``NOTIFY channel, payload`` (delivered to listeners when sent: autocommit)."""

        def work(conn: psycopg.Connection[Any], _attempt: int) -> None:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))

        self._run(work, "notifying through the session store")

    def listen(self, channels: Sequence[str]) -> PgListener:
        """A dedicated connection ``LISTEN``-ing on ``channels``."""
        return PgListener(self, list(channels))

    def close(self) -> None:
        """Close every pooled connection."""
        if not self._closed.is_set():
            self._closed.set()
            self._pool.close(timeout=5)


def _schema_version(conn: psycopg.Connection[Any]) -> int:
    """The version ``chatml_schema`` records (0 before the first migration)."""
    try:
        row = conn.execute("SELECT version FROM chatml_schema").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def _find_inserted(
    conn: psycopg.Connection[Any], table: str, columns: list[str], key: str, values: tuple[Any, ...]
) -> int | None:
    """The key of a row of ``table`` whose ``columns`` equal ``values`` (an insert that landed)."""
    where = pgsql.SQL(" AND ").join(
        pgsql.SQL("{} IS NOT DISTINCT FROM {}").format(pgsql.Identifier(c), pgsql.Placeholder())
        for c in columns
    )
    query = pgsql.SQL("SELECT {} FROM {} WHERE {} ORDER BY 1 DESC LIMIT 1").format(
        pgsql.Identifier(key), pgsql.Identifier(table), where
    )
    row = conn.execute(query, values).fetchone()
    return int(row[0]) if row else None
