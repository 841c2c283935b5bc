"""Operation rows: the journal of multi-step session changes (DESIGN §7).

A row is written before an operation's first side effect, names what it will do (its *plan*:
paths, branches, the refs that will hold the work), records each step reached, and is closed in
the same transaction that writes the operation's final state. Rows only: what a step means and
how an unfinished operation is finished or undone is the core's (:mod:`chatml_lab.core.operations`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import SessionChanges
from .database import Connection, Database, Row

#: Columns of a session row that may change after creation.
SESSION_COLUMNS = {
    "name", "branch", "worktree_path", "base_ref", "base_commit", "updated_at", "priority",
    "task_status", "pinned", "archived", "archive_summary", "archive_summary_state", "snapshot_ref",
    "pr_status", "pr_number", "pr_url", "auto_named", "agent_backend", "model", "permission_mode",
    "cost_usd", "input_tokens", "output_tokens", "ahead", "behind", "drift_checked_at", "health",
    "agent_options",
}  # fmt: skip

OPEN = "open"


@dataclass(frozen=True)
class Operation:
    """One row of the ``operations`` table.

    ``state`` is ``open`` until the operation is ``done`` or ``rolled_back``; ``pid`` and
    ``pid_started`` name the process running it (``pid`` 0: given up, any process may finish it).
    """

    id: str
    kind: str
    session_id: str
    workspace_id: str
    session_name: str
    step: str
    state: str
    pid: int
    pid_started: float
    started_at: float
    updated_at: float
    plan: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    @property
    def is_open(self) -> bool:
        """True until the operation was finished or undone."""
        return self.state == OPEN


def _operation(row: Row) -> Operation:
    return Operation(
        id=row["id"], kind=row["kind"], session_id=row["session_id"], workspace_id=row["workspace_id"],
        session_name=row["session_name"], step=row["step"], state=row["state"], pid=row["pid"],
        pid_started=row["pid_started"], started_at=row["started_at"], updated_at=row["updated_at"],
        plan=json.loads(row["plan"]), note=row["note"],
    )  # fmt: skip


def change_session(conn: Connection, session_id: str, fields: SessionChanges) -> None:
    """Set columns of one session inside the caller's transaction (``updated_at`` bumped unless given)."""
    bad = set(fields) - SESSION_COLUMNS
    if bad:
        raise ValueError(f"not session columns: {bad}")
    fields.setdefault("updated_at", time.time())
    values = [
        str(v) if isinstance(v, Path) else json.dumps(v) if isinstance(v, dict) else v
        for v in fields.values()
    ]
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*values, session_id))


def close_operation(
    conn: Connection, operation_id: str, outcome: str, data: dict[str, Any] | None = None
) -> None:
    """Close an open operation as ``outcome`` inside the caller's transaction, merging ``data``
    into its plan.
    """
    row = conn.execute("SELECT plan FROM operations WHERE id = ?", (operation_id,)).fetchone()
    plan = {**json.loads(row["plan"]), **(data or {})} if row else dict(data or {})
    now = time.time()
    conn.execute(
        "UPDATE operations SET state = ?, plan = ?, updated_at = ?, finished_at = ? WHERE id = ?",
        (outcome, json.dumps(plan), now, now, operation_id),
    )


class OperationRows(Database):
    """The ``operations`` table: begin, step, finish (with the session's final state), abandon."""

    def begin_operation(self, op: Operation) -> None:
        """Write an operation's row, before its first side effect."""
        self.execute(
            "INSERT INTO operations (id, kind, session_id, workspace_id, session_name, plan, step, state,"
            " pid, pid_started, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (op.id, op.kind, op.session_id, op.workspace_id, op.session_name, json.dumps(op.plan),
             op.step, op.state, op.pid, op.pid_started, op.started_at, op.updated_at),
        )  # fmt: skip

    def operation(self, operation_id: str) -> Operation | None:
        """One operation by id."""
        rows = self.query("SELECT * FROM operations WHERE id = ?", (operation_id,))
        return _operation(rows[0]) if rows else None

    def operations(
        self, session_id: str | None = None, state: str | None = None, kind: str | None = None
    ) -> list[Operation]:
        """Operations, oldest first, optionally of one session, in one state, of one kind."""
        sql, params = "SELECT * FROM operations WHERE 1 = 1", []
        for column, value in (("session_id", session_id), ("state", state), ("kind", kind)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        return [_operation(r) for r in self.query(sql + " ORDER BY started_at, rowid", params)]

    def open_operations(self, session_id: str | None = None) -> list[Operation]:
        """Operations not finished yet (of one session, or all)."""
        return self.operations(session_id=session_id, state=OPEN)

    def step_operation(self, operation_id: str, step: str, data: dict[str, Any] | None = None) -> None:
        """Record the step an open operation reached, merging ``data`` into its plan."""
        with self._transaction() as conn:
            row = conn.execute("SELECT plan FROM operations WHERE id = ?", (operation_id,)).fetchone()
            plan = {**json.loads(row["plan"]), **(data or {})} if row else dict(data or {})
            conn.execute(
                "UPDATE operations SET step = ?, plan = ?, updated_at = ? WHERE id = ?",
                (step, json.dumps(plan), time.time(), operation_id),
            )

    def finish_operation(
        self,
        operation_id: str,
        outcome: str,
        session_id: str | None = None,
        changes: SessionChanges | None = None,
        delete_session: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Close an operation and write the session's final state in one transaction.

        ``changes`` are set on session ``session_id``, or with ``delete_session`` its row is
        deleted (conversations, events, inbox and leases cascade).
        """
        with self._transaction() as conn:
            if session_id is not None and delete_session:
                conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            elif session_id is not None and changes:
                change_session(conn, session_id, changes)
            close_operation(conn, operation_id, outcome, data)

    def abandon_operation(self, operation_id: str, note: str) -> None:
        """Hand an open operation over to whichever process comes next (its runner gave up)."""
        self.execute(
            "UPDATE operations SET pid = 0, note = ?, updated_at = ? WHERE id = ? AND state = ?",
            (note, time.time(), operation_id, OPEN),
        )

    def note_operation(self, operation_id: str, note: str | None) -> None:
        """Record why finishing an operation failed (shown by ``list`` and ``gc``)."""
        self.execute("UPDATE operations SET note = ? WHERE id = ?", (note, operation_id))
