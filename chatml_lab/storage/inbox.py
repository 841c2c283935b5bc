"""Inbox rows: what clients ask of a conversation's runner (messages, approvals, interrupt, stop)."""

from __future__ import annotations

import json
import time
from typing import Any

from .database import Database


class InboxRows(Database):
    """The ``inbox`` table: clients append, the runner consumes in order."""

    #: The machine this process runs on: an item's ``sender`` (see :class:`.machines.MachineRows`).
    machine: str | None = None

    def push_inbox(self, conversation_id: str, kind: str, data: dict[str, Any]) -> int:
        """Queue a message for a conversation's runner; return its id."""
        return self.execute(
            "INSERT INTO inbox (conversation_id, kind, data, created_at, sender) VALUES (?, ?, ?, ?, ?)",
            (conversation_id, kind, json.dumps(data), time.time(), self.machine),
        )

    def pending_inbox(self, conversation_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        """Unconsumed inbox items, oldest first: ``(id, kind, data)``."""
        rows = self.query(
            "SELECT id, kind, data FROM inbox WHERE conversation_id = ? AND consumed_at IS NULL ORDER BY id",
            (conversation_id,),
        )
        return [(r["id"], r["kind"], json.loads(r["data"])) for r in rows]

    def consume_inbox(self, item_id: int) -> None:
        """Mark one inbox item consumed."""
        self.execute("UPDATE inbox SET consumed_at = ? WHERE id = ?", (time.time(), item_id))
