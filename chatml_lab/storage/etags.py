"""ETag rows: validators of GitHub's conditional requests with the payload they validate.

A mixin of :class:`~chatml_lab.storage.store.Store`; it is the client's
:class:`~chatml_lab.github.types.EtagStore`. Rows hold the validator and the parsed payload,
never the token.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .database import Database


class EtagRows(Database):
    """The ``github_etags`` table."""

    def etag(self, key: str) -> tuple[str, Any] | None:
        """``(etag, payload)`` stored for a request key, or None."""
        rows = self.query("SELECT etag, payload FROM github_etags WHERE key = ?", (key,))
        return (rows[0]["etag"], json.loads(rows[0]["payload"])) if rows else None

    def put_etag(self, key: str, etag: str, payload: Any) -> None:
        """Store the validator and parsed payload of a 200 answer."""
        self.execute(
            "INSERT INTO github_etags (key, etag, payload, stored_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET etag = excluded.etag, payload = excluded.payload,"
            " stored_at = excluded.stored_at",
            (key, etag, json.dumps(payload), time.time()),
        )

    def prune_etags(self, older_than: float) -> int:
        """Forget validators last refreshed before ``older_than`` (checks of old heads pile up)."""
        with self._transaction() as conn:
            return int(conn.execute("DELETE FROM github_etags WHERE stored_at < ?", (older_than,)).rowcount)
