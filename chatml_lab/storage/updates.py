"""Branch-update rows: an ``update_branch`` under way, recorded before its first side effect (DESIGN §7).

A mixin of :class:`~chatml_lab.storage.store.Store` (the ``branch_updates`` table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

from ..models import SessionChanges
from .database import Database

_FINAL_COLUMNS = {"base_commit", "ahead", "behind", "drift_checked_at", "updated_at"}


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


class BranchUpdateRows(Database):
    """The ``branch_updates`` table: at most one unfinished update per session."""

    def begin_update(self, update: BranchUpdate) -> None:
        """Write the operation row before the first side effect."""
        self.execute(
            "INSERT INTO branch_updates (session_id, method, onto, branch, old_head, head_ref, snapshot_ref,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (update.session_id, update.method, update.onto, update.branch, update.old_head, update.head_ref,
             update.snapshot_ref, update.started_at),
        )  # fmt: skip

    def branch_update(self, session_id: str) -> BranchUpdate | None:
        """The unfinished update of a session, if any."""
        rows = self.query("SELECT * FROM branch_updates WHERE session_id = ?", (session_id,))
        if not rows:
            return None
        r = rows[0]
        return BranchUpdate(
            session_id=r["session_id"], method=r["method"], onto=r["onto"], branch=r["branch"],
            old_head=r["old_head"], head_ref=r["head_ref"], snapshot_ref=r["snapshot_ref"],
            started_at=r["started_at"],
        )  # fmt: skip

    def end_update(self, session_id: str, **final: Unpack[SessionChanges]) -> None:
        """Close the operation row, writing the session's final columns in the same transaction."""
        bad = set(final) - _FINAL_COLUMNS
        if bad:
            raise ValueError(f"not columns an update writes: {bad}")
        with self._transaction() as conn:
            if final:
                sets = ", ".join(f"{k} = ?" for k in final)
                conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*final.values(), session_id))
            conn.execute("DELETE FROM branch_updates WHERE session_id = ?", (session_id,))
