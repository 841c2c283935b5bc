"""Pull-request rows: what GitHub says of each session's PR, where it pushes, and task-status moves.

A mixin of :class:`~chatml_lab.storage.store.Store` (``session_prs`` and ``workspaces.github_repo``).
The token is never stored.
"""

from __future__ import annotations

import time
from typing import Unpack

from ..models import CheckStatus, PullRequestChanges, PullRequestState, SessionChanges, TaskStatus
from .database import Database, Row

_PR_COLUMNS = set(PullRequestChanges.__annotations__)
_LINK_COLUMNS = {"pr_status", "pr_number", "pr_url"}


def _state(row: Row | None, session_id: str) -> PullRequestState:
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


class PullRequestRows(Database):
    """Typed reads and writes of ``session_prs`` and of ``workspaces.github_repo``."""

    # -- per-session PR state -------------------------------------------------------------------

    def pr_state(self, session_id: str) -> PullRequestState:
        """The session's PR state (defaults when nothing is known yet)."""
        rows = self.query("SELECT * FROM session_prs WHERE session_id = ?", (session_id,))
        return _state(rows[0] if rows else None, session_id)

    def pr_states(self, session_ids: list[str]) -> dict[str, PullRequestState]:
        """PR states of several sessions in one query."""
        if not session_ids:
            return {}
        marks = ",".join("?" for _ in session_ids)
        rows = self.query(f"SELECT * FROM session_prs WHERE session_id IN ({marks})", session_ids)
        found = {r["session_id"]: _state(r, r["session_id"]) for r in rows}
        return {sid: found.get(sid) or PullRequestState(session_id=sid) for sid in session_ids}

    def save_pr(
        self, session_id: str, link: SessionChanges | None = None, **fields: Unpack[PullRequestChanges]
    ) -> None:
        """Upsert PR columns, and the session's PR link columns in the same transaction.

        ``link`` holds the session's ``pr_status``, ``pr_number`` and ``pr_url`` to write.
        """
        bad = set(fields) - _PR_COLUMNS
        if bad:
            raise ValueError(f"not session_prs columns: {bad}")
        link = link or {}
        bad = set(link) - _LINK_COLUMNS
        if bad:
            raise ValueError(f"not PR columns of sessions: {bad}")
        values = {k: (v.value if isinstance(v, CheckStatus) else int(v) if isinstance(v, bool) else v)
                  for k, v in fields.items()}  # fmt: skip
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO session_prs (session_id) VALUES (?) ON CONFLICT (session_id) DO NOTHING",
                (session_id,),
            )
            if values:
                sets = ", ".join(f"{k} = ?" for k in values)
                conn.execute(
                    f"UPDATE session_prs SET {sets} WHERE session_id = ?", (*values.values(), session_id)
                )
            if link:
                sets = ", ".join(f"{k} = ?" for k in link)
                conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*link.values(), session_id))

    # -- task status: automatic moves yield to the user's hand ----------------------------------

    def note_status_by_hand(self, session_id: str) -> None:
        """Record that the user set the task status by hand (automatic moves stop until the next)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO session_prs (session_id) VALUES (?) ON CONFLICT (session_id) DO NOTHING",
                (session_id,),
            )
            conn.execute(
                "UPDATE session_prs SET status_hand_at = ? WHERE session_id = ?", (time.time(), session_id)
            )

    def auto_move_status(self, session_id: str, allowed_from: tuple[TaskStatus, ...], to: TaskStatus) -> bool:
        """Move the task status to ``to`` unless the user set it by hand; True when it moved.

        It moves when it is one of ``allowed_from`` and the user has not set it by hand since the
        last automatic move. Atomic.
        """
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO session_prs (session_id) VALUES (?) ON CONFLICT (session_id) DO NOTHING",
                (session_id,),
            )
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
        value = self.scalar("SELECT github_repo FROM workspaces WHERE id = ?", (workspace_id,))
        return None if value is None else str(value)

    def set_github_repo(self, workspace_id: str, repo: str | None) -> None:
        """Set (or with None, clear) a workspace's GitHub repository."""
        self.execute("UPDATE workspaces SET github_repo = ? WHERE id = ?", (repo, workspace_id))
