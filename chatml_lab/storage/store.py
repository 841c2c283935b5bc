"""Typed reads and writes over the SQLite schema. No git, no policy: rows in, records out."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Unpack

from ..errors import StorageError, WorkspaceExistsError
from ..events import Event, EventType, validate
from ..models import (
    AgentState,
    Conversation,
    ConversationKind,
    PermissionMode,
    Priority,
    PRStatus,
    SessionChanges,
    SessionRecord,
    SummaryState,
    TaskStatus,
    Workspace,
)
from .database import Connection, Row
from .etags import EtagRows
from .findings import FindingRows
from .inbox import InboxRows
from .leases import Lease, LeaseRows
from .machines import MachineRows
from .operations import OperationRows, change_session, close_operation
from .prs import PullRequestRows
from .shares import ShareRows
from .updates import BranchUpdateRows


def new_id() -> str:
    """A fresh random id (hex UUID)."""
    import uuid  # here: reading commands never pay for it

    return uuid.uuid4().hex


def _workspace(row: Row) -> Workspace:
    return Workspace(
        id=row["id"],
        name=row["name"],
        path=Path(row["path"]),
        default_branch=row["default_branch"],
        remote=row["remote"],
        branch_prefix=row["branch_prefix"],
        created_at=row["created_at"],
        last_fetch_at=row["last_fetch_at"],
        machine=row["machine"],
        owner=row["owner"],
    )


def _session(row: Row) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        branch=row["branch"],
        worktree_path=Path(row["worktree_path"]),
        base_ref=row["base_ref"],
        base_commit=row["base_commit"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        priority=Priority(row["priority"]),
        task_status=TaskStatus(row["task_status"]),
        pinned=bool(row["pinned"]),
        archived=bool(row["archived"]),
        archive_summary=row["archive_summary"],
        archive_summary_state=SummaryState(row["archive_summary_state"]),
        snapshot_ref=row["snapshot_ref"],
        pr_status=PRStatus(row["pr_status"]),
        pr_number=row["pr_number"],
        pr_url=row["pr_url"],
        auto_named=bool(row["auto_named"]),
        agent_backend=row["agent_backend"],
        model=row["model"],
        permission_mode=PermissionMode(row["permission_mode"]),
        cost_usd=row["cost_usd"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        port_base=row["port_base"],
        ahead=row["ahead"],
        behind=row["behind"],
        drift_checked_at=row["drift_checked_at"],
        health=row["health"],
        agent_options=json.loads(row["agent_options"]) if row["agent_options"] else {},
        machine=row["machine"],
        owner=row["owner"],
    )


def _conversation(row: Row) -> Conversation:
    return Conversation(
        id=row["id"],
        session_id=row["session_id"],
        kind=ConversationKind(row["kind"]),
        title=row["title"],
        agent_state=AgentState(row["agent_state"]),
        agent_session_id=row["agent_session_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


_EVENT = partial(tuple.__new__, Event)


class Store(
    LeaseRows,
    InboxRows,
    PullRequestRows,
    EtagRows,
    BranchUpdateRows,
    FindingRows,
    OperationRows,
    MachineRows,
    ShareRows,
):
    """The session store: workspaces, sessions, conversations, events, inbox, leases, settings.

    The inbox, lease and operation rows live in their own modules (:mod:`.inbox`, :mod:`.leases`,
    :mod:`.operations`), as do the pull-request rows (:mod:`.prs`, :mod:`.etags`, :mod:`.updates`)
    and the review findings (:mod:`.findings`), owners and shares (:mod:`.shares`).
    """

    # -- workspaces -----------------------------------------------------------------------------

    def workspaces(self) -> list[Workspace]:
        """All workspaces by name."""
        return [_workspace(r) for r in self.query("SELECT * FROM workspaces ORDER BY name")]

    def workspace(self, key: str) -> Workspace | None:
        """The workspace whose id, name or path is ``key``."""
        rows = self.query("SELECT * FROM workspaces WHERE id = ? OR name = ? OR path = ?", (key, key, key))
        return _workspace(rows[0]) if rows else None

    def remove_workspace(self, workspace_id: str) -> None:
        """Delete a workspace row (sessions cascade)."""
        self.execute("DELETE FROM workspaces WHERE id = ?", (workspace_id,))

    def update_workspace(self, workspace_id: str, **fields: Any) -> None:
        """Set columns of one workspace."""
        allowed = {"name", "path", "default_branch", "remote", "branch_prefix", "last_fetch_at"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not workspace columns: {bad}")
        values = [str(v) if isinstance(v, Path) else v for v in fields.values()]
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.execute(f"UPDATE workspaces SET {sets} WHERE id = ?", (*values, workspace_id))

    # -- sessions -------------------------------------------------------------------------------

    def insert_session(self, conn: Connection, rec: SessionRecord) -> None:
        """Insert a session row inside the caller's transaction."""
        conn.execute(
            "INSERT INTO sessions (id, workspace_id, name, branch, worktree_path, base_ref, base_commit,"
            " created_at, updated_at, priority, task_status, pinned, agent_backend, model,"
            " permission_mode, port_base, pr_number, pr_status, agent_options, auto_named, machine, owner)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.id, rec.workspace_id, rec.name, rec.branch, str(rec.worktree_path), rec.base_ref,
                rec.base_commit, rec.created_at, rec.updated_at, rec.priority.value,
                rec.task_status.value, int(rec.pinned), rec.agent_backend, rec.model,
                rec.permission_mode.value, rec.port_base, rec.pr_number, rec.pr_status.value,
                json.dumps(rec.agent_options), int(rec.auto_named), rec.machine or self.machine, rec.owner,
            ),
        )  # fmt: skip

    def sessions(
        self, include_archived: bool = False, workspace_id: str | None = None
    ) -> list[SessionRecord]:
        """Session records, optionally with archived ones and for one workspace."""
        sql = "SELECT * FROM sessions WHERE 1 = 1"
        params: list[Any] = []
        if not include_archived:
            sql += " AND archived = 0"
        if workspace_id:
            sql += " AND workspace_id = ?"
            params.append(workspace_id)
        return [_session(r) for r in self.query(sql + " ORDER BY created_at", params)]

    def session(self, session_id: str) -> SessionRecord | None:
        """One session by id."""
        rows = self.query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _session(rows[0]) if rows else None

    def sessions_named(self, name: str) -> list[SessionRecord]:
        """Sessions whose name or id (or id prefix of 8+ characters) is ``name``."""
        rows = self.query(
            "SELECT * FROM sessions WHERE name = ? OR id = ? OR (length(?) >= 8 AND id LIKE ? || '%')",
            (name, name, name, name),
        )
        return [_session(r) for r in rows]

    def update_session(self, session_id: str, **fields: Unpack[SessionChanges]) -> None:
        """Set columns of one session and bump ``updated_at`` unless given."""
        with self._transaction() as conn:
            change_session(conn, session_id, fields)

    def add_usage(
        self, session_id: str, input_tokens: int, output_tokens: int, cost_usd: float | None
    ) -> None:
        """Add one turn's tokens and cost to the session's totals.

        An unknown cost (None) makes the total unknown for good: "unknown" is truer than an
        undercount.
        """
        self.execute(
            "UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
            " cost_usd = CASE WHEN cost_usd IS NULL OR ? = 1 THEN NULL ELSE cost_usd + ? END"
            " WHERE id = ?",
            (input_tokens, output_tokens, int(cost_usd is None), cost_usd or 0.0, session_id),
        )

    def set_drift(self, counts: list[tuple[str, int, int]], checked_at: float) -> None:
        """Store ``(session_id, ahead, behind)`` for many sessions in one transaction.

        ``updated_at`` stays: counting drift is not a change the user made.
        """
        if not counts:
            return
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE sessions SET ahead = ?, behind = ?, drift_checked_at = ? WHERE id = ?",
                [(ahead, behind, checked_at, session_id) for session_id, ahead, behind in counts],
            )

    def task_states(self) -> dict[str, tuple[str, AgentState, Lease | None]]:
        """Every session's task conversation: ``{session_id: (conversation_id, state, lease)}``.

        One query for the whole table (the first task conversation of a session, as
        :meth:`conversations` orders them).
        """
        rows = self.query(
            "SELECT c.session_id, c.id, c.agent_state, l.conversation_id AS leased, l.pid, l.token,"
            " l.started_at, l.heartbeat_at, l.machine FROM conversations c"
            " LEFT JOIN leases l ON l.conversation_id = c.id"
            " WHERE c.kind = ? ORDER BY c.created_at DESC, c.rowid DESC",
            (ConversationKind.TASK.value,),
        )
        found: dict[str, tuple[str, AgentState, Lease | None]] = {}
        for r in rows:  # newest first, so the oldest task conversation is written last and wins
            held = (
                Lease(r["leased"], r["pid"], r["token"], r["started_at"], r["heartbeat_at"], r["machine"])
                if r["leased"]
                else None
            )
            found[r["session_id"]] = (r["id"], AgentState(r["agent_state"]), held)
        return found

    def delete_session(self, session_id: str) -> None:
        """Delete a session row (conversations, events, inbox and leases cascade)."""
        self.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def free_port_base(self, conn: Connection, start: int, block: int) -> int:
        """The lowest free port block, inside the caller's transaction."""
        used = {r[0] for r in conn.execute("SELECT port_base FROM sessions")}
        port = start
        while port in used:
            port += block
        return port

    # -- conversations --------------------------------------------------------------------------

    def insert_conversation(
        self, conn: Connection, session_id: str, kind: ConversationKind, title: str
    ) -> str:
        """Add a conversation inside the caller's transaction; return its id."""
        conv_id = new_id()[:12]
        now = time.time()
        conn.execute(
            "INSERT INTO conversations (id, session_id, kind, title, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (conv_id, session_id, kind.value, title, now, now),
        )
        return conv_id

    def add_conversation(
        self, session_id: str, kind: ConversationKind, title: str, options: dict[str, Any] | None = None
    ) -> str:
        """Add a conversation (with its own agent ``options``, if any) in one transaction; return its id."""
        with self._transaction() as conn:
            conv_id = self.insert_conversation(conn, session_id, kind, title)
            if options:
                conn.execute(
                    "UPDATE conversations SET options = ? WHERE id = ?", (json.dumps(options), conv_id)
                )
            return conv_id

    def delete_conversation(self, conversation_id: str) -> None:
        """Remove a conversation and, by cascade, its events and inbox (a review that failed to start)."""
        self.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def conversations(self, session_id: str) -> list[Conversation]:
        """A session's conversations, oldest first."""
        rows = self.query(
            "SELECT * FROM conversations WHERE session_id = ? ORDER BY created_at, rowid", (session_id,)
        )
        return [_conversation(r) for r in rows]

    def conversations_in_state(self, *states: AgentState) -> list[Conversation]:
        """Every conversation (of any session) whose agent state is one of ``states``."""
        if not states:
            return []
        marks = ", ".join("?" for _ in states)
        rows = self.query(
            f"SELECT * FROM conversations WHERE agent_state IN ({marks}) ORDER BY created_at, rowid",
            [s.value for s in states],
        )
        return [_conversation(r) for r in rows]

    def conversation(self, conversation_id: str) -> Conversation | None:
        """One conversation by id."""
        rows = self.query("SELECT * FROM conversations WHERE id = ?", (conversation_id,))
        return _conversation(rows[0]) if rows else None

    def update_conversation(self, conversation_id: str, **fields: Any) -> None:
        """Set columns of one conversation."""
        allowed = {"title", "agent_state", "agent_session_id", "backend_state"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not conversation columns: {bad}")
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.execute(f"UPDATE conversations SET {sets} WHERE id = ?", (*fields.values(), conversation_id))

    def backend_state(self, conversation_id: str) -> dict[str, Any]:
        """The backend's saved JSON state for a conversation (``{}`` when none)."""
        raw = self.scalar("SELECT backend_state FROM conversations WHERE id = ?", (conversation_id,))
        return dict(json.loads(raw)) if raw else {}

    def save_backend_state(self, conversation_id: str, state: dict[str, Any]) -> None:
        """Replace the backend's saved JSON state."""
        self.update_conversation(conversation_id, backend_state=json.dumps(state))

    # -- events ---------------------------------------------------------------------------------

    def append_event(self, conversation_id: str, event_type: str | EventType, data: dict[str, Any]) -> int:
        """Validate and append one event; return its sequence number."""
        kind = validate(event_type, data)
        return self.execute(
            "INSERT INTO events (conversation_id, type, data, created_at) VALUES (?, ?, ?, ?)",
            (conversation_id, kind.value, json.dumps(data), time.time()),
        )

    def events(self, conversation_ids: list[str], after: int = 0, limit: int | None = None) -> list[Event]:
        """Events of the given conversations with ``seq > after``, in order."""
        if not conversation_ids:
            return []
        marks = ",".join("?" for _ in conversation_ids)
        sql = (
            "SELECT seq, conversation_id, type, data, created_at FROM events"
            f" WHERE conversation_id IN ({marks}) AND seq > ? ORDER BY seq"
        )
        params: list[Any] = [*conversation_ids, after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        # Plain tuples become events without Python code per row (see :class:`Event`).
        return list(map(_EVENT, self.query_tuples(sql, params)))

    def pending_approvals(self, conversation_ids: list[str]) -> list[Event]:
        """Approval requests of the given conversations that no response answers, in order.

        Two partial indexes (migration 3) make this a look-up per request: the log is not read.
        """
        if not conversation_ids:
            return []
        marks = ",".join("?" for _ in conversation_ids)
        rows = self.query_tuples(
            "SELECT q.seq, q.conversation_id, q.type, q.data, q.created_at"
            " FROM events q INDEXED BY events_approval_requests"
            f" WHERE q.conversation_id IN ({marks}) AND q.type = 'approval_request'"
            " AND NOT EXISTS (SELECT 1 FROM events r WHERE r.conversation_id = q.conversation_id"
            " AND r.type = 'approval_response'"
            " AND json_extract(r.data, '$.id') = json_extract(q.data, '$.id'))"
            " ORDER BY q.seq",
            conversation_ids,
        )
        return list(map(_EVENT, rows))

    def last_seq(self, conversation_ids: list[str]) -> int:
        """The highest sequence number of the given conversations' events (0 when none)."""
        if not conversation_ids:
            return 0
        marks = ",".join("?" for _ in conversation_ids)
        found = self.scalar(
            f"SELECT max(seq) FROM events WHERE conversation_id IN ({marks})", conversation_ids
        )
        return int(found or 0)

    # -- settings -------------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A stored setting or None."""
        value = self.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_setting(self, key: str, value: str | None) -> None:
        """Store (or with None, clear) a setting."""
        if value is None:
            self.execute("DELETE FROM settings WHERE key = ?", (key,))
        else:
            self.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- named writes for the core: it never holds a raw connection nor sees sqlite3 -----------

    def add_workspace(self, ws: Workspace) -> None:
        """Insert a workspace row; :class:`WorkspaceExistsError` when its name or path is taken."""
        with self._transaction() as conn:
            # Checked inside the write transaction (one writer at a time), so no engine's
            # constraint error needs catching.
            taken = conn.execute(
                "SELECT 1 FROM workspaces WHERE name = ? OR path = ?", (ws.name, str(ws.path))
            ).fetchone()
            if taken is not None:
                raise WorkspaceExistsError(
                    f"a workspace named {ws.name!r} or at {ws.path} was just added by another process:"
                    " try again"
                )
            conn.execute(
                "INSERT INTO workspaces (id, name, path, default_branch, remote, branch_prefix,"
                " created_at, machine, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ws.id, ws.name, str(ws.path), ws.default_branch, ws.remote, ws.branch_prefix,
                 ws.created_at, ws.machine or self.machine, ws.owner),
            )  # fmt: skip

    def create_session(
        self, rec: SessionRecord, port_start: int, port_block: int, operation_id: str | None = None
    ) -> tuple[SessionRecord, str]:
        """Insert a session on the lowest free port block, with its task conversation, atomically.

        ``operation_id`` names the ``create`` operation this insert finishes: it is closed in the
        same transaction. Returns the record as stored (its ``port_base`` set) and the task
        conversation's id.
        """
        try:
            with self._transaction() as conn:
                rec = replace(
                    rec,
                    port_base=self.free_port_base(conn, port_start, port_block),
                    machine=rec.machine or self.machine,
                )
                self.insert_session(conn, rec)
                task = self.insert_conversation(conn, rec.id, ConversationKind.TASK, "Task")
                if operation_id is not None:
                    close_operation(conn, operation_id, "done")
        except StorageError as exc:
            raise type(exc)(f"could not record session {rec.name!r}: {exc}") from exc
        return rec, task
