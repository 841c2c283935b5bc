"""Machine rows (issue 13): which machines share this store, whether their runner host is alive,
and the git operations one machine asks of another.

Rows only. When a machine counts as unreachable, and what an asked-for operation does, is the
core's (:mod:`chatml_lab.core.machines`, :mod:`chatml_lab.core.remote`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .database import Database

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class Machine:
    """One row of the ``machines`` table (``host_pid`` None: no runner host serves it now)."""

    name: str
    host_name: str
    host_pid: int | None
    version: str | None
    started_at: float
    seen_at: float
    heartbeat_at: float | None


@dataclass(frozen=True)
class Request:
    """One row of the ``requests`` table: an operation asked of machine ``machine``."""

    id: str
    machine: str
    from_machine: str
    session_id: str | None
    action: str
    args: dict[str, Any]
    state: str
    result: Any
    error_kind: str | None
    error: str | None
    pid: int | None
    created_at: float

    @property
    def finished(self) -> bool:
        """True once the machine answered (``done`` or ``failed``)."""
        return self.state in (DONE, FAILED)


def _machine(row: Any) -> Machine:
    return Machine(
        row["name"], row["host_name"], row["host_pid"], row["version"], row["started_at"],
        row["seen_at"], row["heartbeat_at"],
    )  # fmt: skip


def _request(row: Any) -> Request:
    return Request(
        id=row["id"], machine=row["machine"], from_machine=row["from_machine"],
        session_id=row["session_id"], action=row["action"], args=json.loads(row["args"]),
        state=row["state"], result=json.loads(row["result"]) if row["result"] else None,
        error_kind=row["error_kind"], error=row["error"], pid=row["pid"], created_at=row["created_at"],
    )  # fmt: skip


class MachineRows(Database):
    """The ``machines`` and ``requests`` tables, and the ``machine`` of sessions and workspaces.

    :attr:`machine` is the machine this process runs on: rows it writes (sessions, workspaces,
    leases, operations, inbox items) carry it.
    """

    machine: str | None = None

    # -- machines -------------------------------------------------------------------------------

    def machines(self) -> list[Machine]:
        """Every machine that ever opened this store, by name."""
        return [_machine(r) for r in self.query("SELECT * FROM machines ORDER BY name")]

    def machine_row(self, name: str) -> Machine | None:
        """One machine by name."""
        rows = self.query("SELECT * FROM machines WHERE name = ?", (name,))
        return _machine(rows[0]) if rows else None

    def register_machine(self, name: str, host_name: str, version: str) -> None:
        """Record that ``name`` opened the store now (added on its first open)."""
        now = time.time()
        self.execute(
            "INSERT INTO machines (name, host_name, version, started_at, seen_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET host_name = excluded.host_name,"
            " version = excluded.version, seen_at = excluded.seen_at",
            (name, host_name, version, now, now),
        )

    def unowned_rows(self) -> bool:
        """True when sessions or workspaces have no machine yet (written before migration 7)."""
        return bool(
            self.scalar("SELECT 1 FROM sessions WHERE machine IS NULL")
            or self.scalar("SELECT 1 FROM workspaces WHERE machine IS NULL")
        )

    def adopt_unowned(self, name: str) -> None:
        """Give every session and workspace without a machine to ``name`` (the first to open)."""
        with self._transaction() as conn:
            conn.execute("UPDATE sessions SET machine = ? WHERE machine IS NULL", (name,))
            conn.execute("UPDATE workspaces SET machine = ? WHERE machine IS NULL", (name,))

    def machine_heartbeat(self, name: str, host_name: str, pid: int, version: str) -> None:
        """The runner host ``pid`` of machine ``name`` is alive now."""
        now = time.time()
        self.execute(
            "INSERT INTO machines (name, host_name, host_pid, version, started_at, seen_at, heartbeat_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET host_pid = excluded.host_pid,"
            " host_name = excluded.host_name, version = excluded.version,"
            " heartbeat_at = excluded.heartbeat_at",
            (name, host_name, pid, version, now, now, now),
        )

    def machine_host_stopped(self, name: str, pid: int) -> None:
        """The runner host ``pid`` of ``name`` leaves: nobody serves the machine until the next one."""
        self.execute(
            "UPDATE machines SET host_pid = NULL, heartbeat_at = NULL WHERE name = ? AND host_pid = ?",
            (name, pid),
        )

    # -- inbox items other machines wrote -------------------------------------------------------

    def inbox_from_elsewhere(self, machine: str) -> dict[str, int]:
        """Unconsumed messages other machines queued for ``machine``'s conversations:
        ``{conversation_id: newest item id}`` (a partial index keeps this small).
        """
        rows = self.query(
            "SELECT i.conversation_id, max(i.id) AS newest FROM inbox i"
            " JOIN conversations c ON c.id = i.conversation_id"
            " JOIN sessions s ON s.id = c.session_id"
            " WHERE i.consumed_at IS NULL AND i.kind = 'message' AND s.machine = ?"
            " AND i.sender IS NOT NULL AND i.sender <> ? GROUP BY i.conversation_id",
            (machine, machine),
        )
        return {r["conversation_id"]: int(r["newest"]) for r in rows}

    # -- requests -------------------------------------------------------------------------------

    def add_request(
        self, request_id: str, machine: str, session_id: str | None, action: str, args: dict[str, Any]
    ) -> None:
        """Ask ``machine`` to run ``action`` (on ``session_id``) with ``args``."""
        self.execute(
            "INSERT INTO requests (id, machine, from_machine, session_id, action, args, state, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (request_id, machine, self.machine or "", session_id, action, json.dumps(args), PENDING,
             time.time()),
        )  # fmt: skip

    def request(self, request_id: str) -> Request | None:
        """One request by id."""
        rows = self.query("SELECT * FROM requests WHERE id = ?", (request_id,))
        return _request(rows[0]) if rows else None

    def requests(self, machine: str, state: str) -> list[Request]:
        """The requests of ``machine`` in ``state``, oldest first."""
        rows = self.query(
            "SELECT * FROM requests WHERE machine = ? AND state = ? ORDER BY created_at, id", (machine, state)
        )
        return [_request(r) for r in rows]

    def take_request(self, request_id: str, pid: int) -> bool:
        """Mark a pending request running in process ``pid``; False when another took it first."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE requests SET state = ?, pid = ?, started_at = ? WHERE id = ? AND state = ?",
                (RUNNING, pid, time.time(), request_id, PENDING),
            )
            return cursor.rowcount == 1

    def request_worker(self, request_id: str, pid: int) -> None:
        """Record the process that runs a request (its machine's host forked it)."""
        self.execute("UPDATE requests SET pid = ? WHERE id = ? AND state = ?", (pid, request_id, RUNNING))

    def finish_request(
        self, request_id: str, result: Any = None, error_kind: str | None = None, error: str | None = None
    ) -> None:
        """Record a request's answer: its result, or the error it failed with."""
        state = FAILED if error is not None else DONE
        self.execute(
            "UPDATE requests SET state = ?, result = ?, error_kind = ?, error = ?, finished_at = ?"
            " WHERE id = ? AND state IN (?, ?)",
            (state, json.dumps(result), error_kind, error, time.time(), request_id, PENDING, RUNNING),
        )

    def drop_request(self, request_id: str) -> bool:
        """Withdraw a request nobody took yet; False when its machine already took it."""
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM requests WHERE id = ? AND state = ?", (request_id, PENDING))
            return cursor.rowcount == 1
