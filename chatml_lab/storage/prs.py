"""Rows of the pull-request half of the lifecycle: PR state per session, ETags, branch updates.

A companion of :class:`~chatml_lab.storage.store.Store` over the same connection:
``PullRequestRows(store)``. The token is never stored: ETag rows hold the validator and the parsed
payload only.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..models import CheckStatus, PullRequestState, TaskStatus
from .database import Database

_PR_COLUMNS = {
    "title", "head", "head_sha", "base", "draft", "checks", "checks_sha", "checks_at", "mergeable",
    "updated", "polled_at", "push_url", "push_branch", "push_blocked",
}  # fmt: skip


@dataclass(frozen=True)
class BranchUpdate:
    """An ``update_branch`` that has started and not finished (the recorded operation, DESIGN §7)."""

    session_id: str
    method: str
    onto: str
    branch: str
    old_head: str
    head_ref: str
    snapshot_ref: str | None
    started_at: float


def _state(row: sqlite3.Row | None, session_id: str) -> PullRequestState:
    if row is None:
        return PullRequestState(session_id=session_id)
    return PullRequestState(
        session_id=session_id,
        title=row["title"],
        head=row["head"],
        head_sha=row["head_sha"],
        base=row["base"],
        draft=bool(row["draft"]),
        checks=CheckStatus(row["checks"]),
        checks_sha=row["checks_sha"],
        checks_at=row["checks_at"],
        mergeable=row["mergeable"],
        updated=row["updated"],
        polled_at=row["polled_at"],
        push_url=row["push_url"],
        push_branch=row["push_branch"],
        push_blocked=row["push_blocked"],
    )


class PullRequestRows:
    """Typed reads and writes of ``session_prs``, ``github_etags``, ``branch_updates`` and
    ``workspaces.github_repo``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- per-session PR state -------------------------------------------------------------------

    def state(self, session_id: str) -> PullRequestState:
        """The session's PR state (defaults when nothing is known yet)."""
        rows = self.db.query("SELECT * FROM session_prs WHERE session_id = ?", (session_id,))
        return _state(rows[0] if rows else None, session_id)

    def states(self, session_ids: list[str]) -> dict[str, PullRequestState]:
        """PR states of several sessions in one query."""
        if not session_ids:
            return {}
        marks = ",".join("?" for _ in session_ids)
        rows = self.db.query(f"SELECT * FROM session_prs WHERE session_id IN ({marks})", session_ids)
        found = {r["session_id"]: _state(r, r["session_id"]) for r in rows}
        return {sid: found.get(sid) or PullRequestState(session_id=sid) for sid in session_ids}

    def save(self, session_id: str, session_fields: dict[str, Any] | None = None, **fields: Any) -> None:
        """Upsert PR columns (and, in the same transaction, ``pr_status``/``pr_number``/``pr_url``
        of the session row)."""
        bad = set(fields) - _PR_COLUMNS
        if bad:
            raise ValueError(f"not session_prs columns: {bad}")
        session_fields = session_fields or {}
        bad = set(session_fields) - {"pr_status", "pr_number", "pr_url"}
        if bad:
            raise ValueError(f"not PR columns of sessions: {bad}")
        values = {k: (v.value if isinstance(v, CheckStatus) else int(v) if isinstance(v, bool) else v)
                  for k, v in fields.items()}  # fmt: skip
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO session_prs (session_id) VALUES (?)", (session_id,))
            if values:
                sets = ", ".join(f"{k} = ?" for k in values)
                conn.execute(
                    f"UPDATE session_prs SET {sets} WHERE session_id = ?", (*values.values(), session_id)
                )
            if session_fields:
                sets = ", ".join(f"{k} = ?" for k in session_fields)
                conn.execute(
                    f"UPDATE sessions SET {sets} WHERE id = ?", (*session_fields.values(), session_id)
                )

    # -- task status: automatic moves yield to the user's hand ----------------------------------

    def note_status_by_hand(self, session_id: str) -> None:
        """Record that the user set the task status by hand (automatic moves stop until the next)."""
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO session_prs (session_id) VALUES (?)", (session_id,))
            conn.execute(
                "UPDATE session_prs SET status_hand_at = ? WHERE session_id = ?", (time.time(), session_id)
            )

    def auto_move_status(self, session_id: str, allowed_from: tuple[TaskStatus, ...], to: TaskStatus) -> bool:
        """Move the task status to ``to`` when it is one of ``allowed_from`` and the user has not
        set it by hand since the last automatic move. Atomic; True when it moved."""
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO session_prs (session_id) VALUES (?)", (session_id,))
            row = conn.execute(
                "SELECT s.task_status, p.status_auto_at, p.status_hand_at FROM sessions s"
                " JOIN session_prs p ON p.session_id = s.id WHERE s.id = ?",
                (session_id,),
            ).fetchone()
            if row is None or row["task_status"] not in {s.value for s in allowed_from}:
                return False
            hand, auto = row["status_hand_at"], row["status_auto_at"]
            if hand is not None and (auto is None or hand > auto):
                return False
            conn.execute(
                "UPDATE sessions SET task_status = ?, updated_at = ? WHERE id = ?",
                (to.value, now, session_id),
            )
            conn.execute("UPDATE session_prs SET status_auto_at = ? WHERE session_id = ?", (now, session_id))
        return True

    # -- workspaces -----------------------------------------------------------------------------

    def github_repo(self, workspace_id: str) -> str | None:
        """The ``owner/name`` set for a workspace (None: derive it from the remote URL)."""
        value = self.db.scalar("SELECT github_repo FROM workspaces WHERE id = ?", (workspace_id,))
        return None if value is None else str(value)

    def set_github_repo(self, workspace_id: str, repo: str | None) -> None:
        """Set (or with None, clear) a workspace's GitHub repository."""
        self.db.execute("UPDATE workspaces SET github_repo = ? WHERE id = ?", (repo, workspace_id))

    # -- ETags of conditional requests ----------------------------------------------------------

    def etag(self, key: str) -> tuple[str, Any] | None:
        """``(etag, payload)`` stored for a request key, or None."""
        rows = self.db.query("SELECT etag, payload FROM github_etags WHERE key = ?", (key,))
        return (rows[0]["etag"], json.loads(rows[0]["payload"])) if rows else None

    def put_etag(self, key: str, etag: str, payload: Any) -> None:
        """Store the validator and parsed payload of a 200 answer."""
        self.db.execute(
            "INSERT INTO github_etags (key, etag, payload, stored_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET etag = excluded.etag, payload = excluded.payload,"
            " stored_at = excluded.stored_at",
            (key, etag, json.dumps(payload), time.time()),
        )

    def prune_etags(self, older_than: float) -> int:
        """Forget validators last refreshed before ``older_than`` (checks of old heads pile up)."""
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM github_etags WHERE stored_at < ?", (older_than,)).rowcount

    # -- the recorded branch update -------------------------------------------------------------

    def begin_update(self, update: BranchUpdate) -> None:
        """Write the operation row before the first side effect."""
        self.db.execute(
            "INSERT INTO branch_updates (session_id, method, onto, branch, old_head, head_ref, snapshot_ref,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (update.session_id, update.method, update.onto, update.branch, update.old_head, update.head_ref,
             update.snapshot_ref, update.started_at),
        )  # fmt: skip

    def branch_update(self, session_id: str) -> BranchUpdate | None:
        """The unfinished update of a session, if any."""
        rows = self.db.query("SELECT * FROM branch_updates WHERE session_id = ?", (session_id,))
        if not rows:
            return None
        r = rows[0]
        return BranchUpdate(
            session_id=r["session_id"], method=r["method"], onto=r["onto"], branch=r["branch"],
            old_head=r["old_head"], head_ref=r["head_ref"], snapshot_ref=r["snapshot_ref"],
            started_at=r["started_at"],
        )  # fmt: skip

    def end_update(self, session_id: str, **session_fields: Any) -> None:
        """Close the operation row, writing the session's final columns in the same transaction."""
        bad = set(session_fields) - {"base_commit", "ahead", "behind", "drift_checked_at", "updated_at"}
        if bad:
            raise ValueError(f"not columns an update writes: {bad}")
        with self.db.transaction() as conn:
            if session_fields:
                sets = ", ".join(f"{k} = ?" for k in session_fields)
                conn.execute(
                    f"UPDATE sessions SET {sets} WHERE id = ?", (*session_fields.values(), session_id)
                )
            conn.execute("DELETE FROM branch_updates WHERE session_id = ?", (session_id,))
