"""Review findings, scorecards and per-conversation options: the SQL behind issue 10.

Rows mixed into :class:`~chatml_lab.storage.store.Store`. Findings are numbered per session
(``F1``, ``F2``, ...): the number is what the agent, the chat and the user quote, so it stays
short and survives a copy into a message. It is taken inside the insert's write transaction, so
two review conversations filing at once never get the same number.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..models import Finding, FindingStatus, Scorecard, Severity
from .database import Database, Row


def finding_number(finding_id: str | int) -> int | None:
    """``"F3"``, ``"f3"``, ``"3"`` or ``3`` -> 3; None for anything else."""
    if isinstance(finding_id, bool):
        return None
    if isinstance(finding_id, int):
        return finding_id if finding_id > 0 else None
    text = str(finding_id).strip().upper().removeprefix("F")
    return int(text) if text.isdigit() and int(text) > 0 else None


def _finding(row: Row) -> Finding:
    return Finding(
        id=f"F{row['number']}",
        session_id=row["session_id"],
        conversation_id=row["conversation_id"],
        file_path=row["file_path"],
        line_number=row["line_number"],
        title=row["title"],
        content=row["content"],
        severity=Severity(row["severity"]),
        status=FindingStatus(row["status"]),
        source=row["source"],
        created_at=row["created_at"],
        resolved_at=row["resolved_at"],
        resolution_note=row["resolution_note"],
    )


def _scorecard(row: Row) -> Scorecard:
    return Scorecard(
        id=row["id"],
        session_id=row["session_id"],
        conversation_id=row["conversation_id"],
        review_kind=row["review_kind"],
        scores=list(json.loads(row["scores"])),
        summary=row["summary"],
        created_at=row["created_at"],
    )


class FindingRows(Database):
    """Findings, scorecards and conversation options (mixed into ``Store``)."""

    # -- findings -------------------------------------------------------------------------------

    def add_finding(
        self,
        session_id: str,
        conversation_id: str | None,
        file_path: str,
        line_number: int | None,
        title: str,
        content: str,
        severity: Severity,
        source: str = "agent",
    ) -> Finding:
        """Store a new open finding with the session's next number; return it."""
        with self._transaction() as conn:
            number = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM findings WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            row_id = conn.execute(
                "INSERT INTO findings (session_id, number, conversation_id, file_path, line_number, title,"
                " content, severity, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, number, conversation_id, file_path, line_number, title, content,
                 severity.value, source, time.time()),
            ).lastrowid  # fmt: skip
            row = conn.execute("SELECT * FROM findings WHERE id = ?", (row_id,)).fetchone()
        return _finding(row)

    def findings(
        self, session_id: str, status: FindingStatus | None = None, conversation_id: str | None = None
    ) -> list[Finding]:
        """A session's findings by number, optionally only one status or one conversation's."""
        sql = "SELECT * FROM findings WHERE session_id = ?"
        params: list[Any] = [session_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        if conversation_id is not None:
            sql += " AND conversation_id = ?"
            params.append(conversation_id)
        return [_finding(r) for r in self.query(sql + " ORDER BY number", params)]

    def finding(self, session_id: str, finding_id: str | int) -> Finding | None:
        """One finding by ``F<number>`` (or the bare number)."""
        number = finding_number(finding_id)
        if number is None:
            return None
        rows = self.query("SELECT * FROM findings WHERE session_id = ? AND number = ?", (session_id, number))
        return _finding(rows[0]) if rows else None

    def resolve_finding(
        self,
        session_id: str,
        finding_id: str | int,
        status: FindingStatus,
        note: str | None = None,
        resolved_by: str | None = None,
    ) -> Finding | None:
        """Set a finding's status (``open`` reopens it); None when there is no such finding."""
        number = finding_number(finding_id)
        if number is None:
            return None
        resolved_at = None if status is FindingStatus.OPEN else time.time()
        with self._transaction() as conn:
            conn.execute(
                "UPDATE findings SET status = ?, resolution_note = ?, resolved_by = ?, resolved_at = ?"
                " WHERE session_id = ? AND number = ?",
                (status.value, note, resolved_by, resolved_at, session_id, number),
            )
        return self.finding(session_id, number)

    def finding_counts(self, session_id: str) -> dict[str, dict[str, int]]:
        """``{"status": {open: n, ...}, "severity": {error: n, ...}, "open_by_severity": {...}}``."""
        rows = self.query(
            "SELECT status, severity, COUNT(*) AS n FROM findings WHERE session_id = ? GROUP BY status, severity",
            (session_id,),
        )
        by_status = {s.value: 0 for s in FindingStatus}
        by_severity = {s.value: 0 for s in Severity}
        open_by_severity = {s.value: 0 for s in Severity}
        for row in rows:
            by_status[row["status"]] += row["n"]
            by_severity[row["severity"]] += row["n"]
            if row["status"] == FindingStatus.OPEN.value:
                open_by_severity[row["severity"]] += row["n"]
        return {"status": by_status, "severity": by_severity, "open_by_severity": open_by_severity}

    # -- scorecards -----------------------------------------------------------------------------

    def add_scorecard(
        self,
        session_id: str,
        conversation_id: str | None,
        review_kind: str,
        scores: list[dict[str, Any]],
        summary: str,
    ) -> Scorecard:
        """Store a review's scorecard; return it."""
        row_id = self.execute(
            "INSERT INTO scorecards (session_id, conversation_id, review_kind, scores, summary, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, conversation_id, review_kind, json.dumps(scores), summary, time.time()),
        )
        return _scorecard(self.query("SELECT * FROM scorecards WHERE id = ?", (row_id,))[0])

    def scorecards(self, session_id: str) -> list[Scorecard]:
        """A session's scorecards, oldest first."""
        rows = self.query("SELECT * FROM scorecards WHERE session_id = ? ORDER BY id", (session_id,))
        return [_scorecard(r) for r in rows]

    # -- per-conversation options ---------------------------------------------------------------

    def conversation_options(self, conversation_id: str) -> dict[str, Any]:
        """A conversation's own agent options (model, permission mode, review kind...), ``{}`` if none."""
        raw = self.scalar("SELECT options FROM conversations WHERE id = ?", (conversation_id,))
        return dict(json.loads(raw)) if raw else {}

    def set_conversation_options(self, conversation_id: str, options: dict[str, Any]) -> None:
        """Replace a conversation's own agent options."""
        self.execute(
            "UPDATE conversations SET options = ?, updated_at = ? WHERE id = ?",
            (json.dumps(options), time.time(), conversation_id),
        )
