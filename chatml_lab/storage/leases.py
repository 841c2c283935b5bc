"""Lease rows: which runner process serves a conversation, and the crash marks that end one.

Rows only. Whether a lease's process is still alive is the agents layer's question
(:mod:`chatml_lab.agents.lease`); it is handed in as a predicate and asked inside the write
transaction, so checking a lease and replacing it is one atomic step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ..models import AgentState
from .database import Connection, Database, Row


@dataclass(frozen=True)
class Lease:
    """One row of the ``leases`` table (``pid`` 0: a client's claim for a runner still starting)."""

    conversation_id: str
    pid: int
    token: str
    started_at: float
    heartbeat_at: float


def _lease(row: Row | None) -> Lease | None:
    if row is None:
        return None
    return Lease(row["conversation_id"], row["pid"], row["token"], row["started_at"], row["heartbeat_at"])


def _drop(conn: Connection, conversation_id: str, token: str) -> bool:
    """Delete the lease if ``token`` still holds it (someone else's lease is left alone)."""
    cursor = conn.execute(
        "DELETE FROM leases WHERE conversation_id = ? AND token = ?", (conversation_id, token)
    )
    return cursor.rowcount == 1


class LeaseRows(Database):
    """The ``leases`` table, and marking a conversation whose runner died as crashed."""

    def lease(self, conversation_id: str) -> Lease | None:
        """The lease row of a conversation, if any."""
        rows = self.query("SELECT * FROM leases WHERE conversation_id = ?", (conversation_id,))
        return _lease(rows[0] if rows else None)

    def leases(self) -> list[Lease]:
        """Every lease row (claims included), oldest first."""
        return [
            lease
            for row in self.query("SELECT * FROM leases ORDER BY started_at")
            if (lease := _lease(row)) is not None
        ]

    def take_lease(
        self, conversation_id: str, token: str, pid: int, may_take: Callable[[Lease | None], bool]
    ) -> bool:
        """Write a fresh lease ``(pid, token)`` when ``may_take(current lease)``; False otherwise.

        The check and the write are one transaction: of two processes racing, one sees the
        other's lease and gets False.
        """
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM leases WHERE conversation_id = ?", (conversation_id,))
            if not may_take(_lease(row.fetchone())):
                return False
            now = time.time()
            conn.execute(
                "INSERT INTO leases (conversation_id, pid, token, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET pid = excluded.pid,"
                " token = excluded.token, started_at = excluded.started_at,"
                " heartbeat_at = excluded.heartbeat_at",
                (conversation_id, pid, token, now, now),
            )
            return True

    def heartbeat_lease(self, conversation_id: str, token: str) -> bool:
        """Refresh the heartbeat of our lease; False when ``token`` no longer holds it."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE leases SET heartbeat_at = ? WHERE conversation_id = ? AND token = ?",
                (time.time(), conversation_id, token),
            )
            return cursor.rowcount == 1

    def release_lease(self, conversation_id: str, token: str) -> bool:
        """Drop the lease ``token`` holds; False (and nothing changed) when it holds none."""
        with self._transaction() as conn:
            return _drop(conn, conversation_id, token)

    def mark_crashed(
        self, conversation_id: str, token: str | None = None, only_from: Collection[str] | None = None
    ) -> bool:
        """Set the conversation's state to ``crashed`` and drop the dead runner's lease, atomically.

        ``token`` names the dead lease (None: there is none to drop). With ``only_from`` the state
        changes only from one of those states, so two clients noticing the same death record it
        once. True when the state changed.
        """
        sql = "UPDATE conversations SET agent_state = ?, updated_at = ? WHERE id = ?"
        params: list[object] = [AgentState.CRASHED.value, time.time(), conversation_id]
        if only_from is not None:
            states = list(only_from)
            sql += f" AND agent_state IN ({', '.join('?' for _ in states)})"
            params += states
        with self._transaction() as conn:
            changed = conn.execute(sql, params).rowcount == 1
            if token is not None:
                _drop(conn, conversation_id, token)
            return changed
