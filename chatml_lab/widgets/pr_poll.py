"""The dashboard's background PR poll and conflict markers.

:class:`PullRequestPoll` is called by the dashboard's poller thread every tick: it runs
``refresh_prs`` at ChatML's intervals (30 s without an open PR, 45 s with one) and the conflict
forecast with the drift refresh. The cells it feeds are drawn by :mod:`chatml_lab.render.pr`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import ChatMLError
from ..render.pr import conflict_marks

if TYPE_CHECKING:
    from ..core.manager import ChatML


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

    def mark(self, row: dict[str, object]) -> str | None:
        """The conflict marker of a ``ChatML.rows()`` row (None when it conflicts with nothing)."""
        return self.conflicts.get(f"{row['workspace']}/{row['name']}")
