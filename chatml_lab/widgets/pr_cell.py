"""The dashboard's PR column (link, state, checks, conflict marker) and its background PR poll.

Pure HTML builders (inline CSS, like :mod:`.badges`) plus :class:`PullRequestPoll`, which the
dashboard's poller thread calls every tick: it runs ``refresh_prs`` at ChatML's intervals (30 s
without an open PR, 45 s with one) and the conflict forecast with the drift refresh.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

from ..errors import ChatMLError
from .badges import PR_COLORS, badge

if TYPE_CHECKING:
    from ..core.manager import ChatML

#: Checks state → (text colour, background).
CHECK_COLORS: dict[str, tuple[str, str]] = {
    "pending": ("#3e2723", "#ffb300"),
    "success": ("#ffffff", "#2e7d32"),
    "failure": ("#ffffff", "#c62828"),
}
_CHECK_MARK = {"pending": "\N{BLACK CIRCLE}", "success": "\N{CHECK MARK}", "failure": "\N{BALLOT X}"}


def pr_cell_html(row: dict[str, Any], conflict: str | None = None) -> str:
    """``#12 open ✓`` with the number linking to the PR, plus a conflict marker when forecast."""
    status = str(row.get("pr_status") or "none")
    number = row.get("pr_number")
    parts: list[str] = []
    if number and status != "none":
        label = f"#{number} {status}" + (" draft" if row.get("pr_draft") else "")
        state = badge(PR_COLORS, status, label)
        url = row.get("pr_url")
        parts.append(f'<a href="{html.escape(str(url))}" target="_blank" title="{html.escape(str(row.get("pr_title") or ""))}"'
                     f' style="text-decoration:none">{state}</a>' if url else state)  # fmt: skip
        checks = str(row.get("checks") or "none")
        if checks in CHECK_COLORS:
            parts.append(badge(CHECK_COLORS, checks, _CHECK_MARK[checks]))
    else:
        parts.append(badge(PR_COLORS, "none"))
    if conflict:
        parts.append(
            f'<div style="color:#e65100;font-size:11px;font-family:sans-serif" title="{html.escape(conflict)}">'
            f"\N{WARNING SIGN} {html.escape(conflict)}</div>"
        )
    return " ".join(parts)


def conflict_marks(rows: list[dict[str, Any]]) -> dict[str, str]:
    """``{session name: "conflicts with main, b"}`` from the forecast's rows (clean ones left out)."""
    marks: dict[str, str] = {}
    for row in rows:
        others = list(row["conflicts_with"])
        if not row["clean_with_main"]:
            others.insert(0, "main")
        if others:
            marks[f"{row['workspace']}/{row['session']}"] = "conflicts with " + ", ".join(others)
    return marks


class PullRequestPoll:
    """Runs ``refresh_prs`` when due; remembers the last error so the banner shows it once."""

    def __init__(self, manager: ChatML, enabled: bool = True) -> None:
        self.manager = manager
        self.enabled = enabled
        self.last = 0.0
        self.error: str | None = None
        self.conflicts: dict[str, str] = {}

    def due(self, now: float | None = None) -> bool:
        """True when a pass is due."""
        now = time.monotonic() if now is None else now
        return self.enabled and now - self.last >= self.manager.pr_poll_interval()

    def poll(self) -> str | None:
        """One pass; a new error message (None when fine or already reported)."""
        self.last = time.monotonic()
        try:
            self.manager.refresh_prs()
        except ChatMLError as exc:
            message = f"PR status: {exc}"
            fresh = message != self.error
            self.error = message
            return message if fresh else None
        self.error = None
        return None

    def forecast(self) -> None:
        """Refresh the conflict markers (in memory; no fetch: the drift refresh just fetched)."""
        try:
            self.conflicts = conflict_marks(self.manager.conflict_rows(fetch=False))
        except ChatMLError:
            self.conflicts = {}
