"""Owner and share rows (issue 13): who owns a workspace or session, whom a session is shared with.

A mixin of :class:`~chatml_lab.storage.store.Store`. Rows only: who may write what is the core's
(:mod:`chatml_lab.core.owners`) and, on PostgreSQL, the database's (:mod:`.rls`).
"""

from __future__ import annotations

import time

from .database import Database


class ShareRows(Database):
    """The ``owner`` columns and the ``session_shares`` table."""

    def shares(self, session_id: str) -> list[str]:
        """The people a session is shared with, by name."""
        rows = self.query(
            "SELECT person FROM session_shares WHERE session_id = ? ORDER BY person", (session_id,)
        )
        return [str(r[0]) for r in rows]

    def shared_with(self, person: str) -> set[str]:
        """Ids of the sessions shared with ``person`` (one query for a whole table)."""
        return {
            str(r[0]) for r in self.query("SELECT session_id FROM session_shares WHERE person = ?", (person,))
        }

    def is_shared(self, session_id: str, person: str) -> bool:
        """True when ``session_id`` is shared with ``person``."""
        return bool(
            self.query(
                "SELECT 1 FROM session_shares WHERE session_id = ? AND person = ?", (session_id, person)
            )
        )

    def add_share(self, session_id: str, person: str) -> bool:
        """Share a session with ``person``; False when it already was."""
        with self._transaction() as conn:
            before = conn.execute(
                "SELECT 1 FROM session_shares WHERE session_id = ? AND person = ?", (session_id, person)
            ).fetchone()
            if before is not None:
                return False
            conn.execute(
                "INSERT INTO session_shares (session_id, person, shared_at) VALUES (?, ?, ?)",
                (session_id, person, time.time()),
            )
            return True

    def remove_share(self, session_id: str, person: str) -> bool:
        """Stop sharing a session with ``person``; False when it was not shared with them."""
        with self._transaction() as conn:
            before = conn.execute(
                "SELECT 1 FROM session_shares WHERE session_id = ? AND person = ?", (session_id, person)
            ).fetchone()
            conn.execute(
                "DELETE FROM session_shares WHERE session_id = ? AND person = ?", (session_id, person)
            )
            return before is not None

    def claim_ownerless(self, user: str) -> int:
        """Give ``user`` the workspaces and sessions that have no owner yet (rows from before
        migration 8); return how many. A read first: a store with none is not written.
        """
        if not self.query(
            "SELECT 1 FROM sessions WHERE owner = '' UNION ALL SELECT 1 FROM workspaces WHERE owner = '' LIMIT 1"
        ):
            return 0
        with self._transaction() as conn:
            count = 0
            for table in ("workspaces", "sessions"):
                cursor = conn.execute(f"UPDATE {table} SET owner = ? WHERE owner = ''", (user,))
                count += max(cursor.rowcount, 0)
            return count

    def database_role(self) -> tuple[str, bool] | None:
        """On PostgreSQL, ``(role, exempt)``: the role this store connects as, and whether row-level
        security passes it by (a superuser or ``BYPASSRLS``: an administrator). None on SQLite.
        """
        if self.engine != "postgresql":
            return None
        rows = self.query(
            "SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        return (str(rows[0][0]), bool(rows[0][1])) if rows else None
