"""``LISTEN`` for the PostgreSQL engine: wake-ups (``NOTIFY``) heard on a connection of its own."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from ..errors import StorageError

if TYPE_CHECKING:
    from .postgres import PostgresEngine


class PgListener:
    """``LISTEN`` on a connection of its own (a pooled one would be handed to others)."""

    def __init__(self, engine: PostgresEngine, channels: list[str]) -> None:
        self._engine = engine
        self._channels = channels
        self._conn: psycopg.Connection[Any] | None = None
        self._connect()

    def _connect(self) -> None:
        last: BaseException | None = None
        for _attempt in self._engine._attempts():
            try:
                conn = self._engine._connect()
                for channel in self._channels:
                    conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(channel)))
            except psycopg.OperationalError as exc:
                last = exc
                continue
            self._conn = conn
            return
        assert last is not None
        raise self._engine._unreachable(last) from None

    def wait(self, timeout: float) -> list[str]:
        """The payloads heard within ``timeout`` seconds (returns at the first, with any queued
        behind it). After a lost connection it reconnects and returns ``[""]``: a wake-up, since
        notifications sent meanwhile were missed.
        """
        if self._conn is None:
            raise StorageError("this listener is closed: call listen() again")
        try:
            heard = [n.payload for n in self._conn.notifies(timeout=max(timeout, 0.0), stop_after=1)]
            if heard:
                heard += [n.payload for n in self._conn.notifies(timeout=0.001)]
            return heard
        except psycopg.OperationalError:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
            self._connect()
            return [""]

    def close(self) -> None:
        """Stop listening and close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
