"""The dashboard's rows: which sessions show, in what order, and the widgets of one row.

:func:`filter_rows` and :func:`sort_rows` are pure functions over ``manager.rows()`` dicts (the
same as ``chatml list --json``), so tests need no browser. :class:`SessionRow` draws one row and
reaches the API only through the small :class:`RowActions` interface the dashboard provides.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import ipywidgets as widgets

from ..models import Priority, TaskStatus
from ..render import badges
from ..render.pr import pr_cell_html

#: Header of each column of the grid (the first is the pin, the last the row's buttons).
COLUMNS = ("", "session", "workspace", "priority", "status", "agent", "drift", "PR", "cost", "")
#: Fixed tracks hold their widest content (``in progress``, ``#1234 merged``, the drift numbers, three
#: buttons); names and workspaces share the rest and wrap. 726 px of fixed tracks and gaps leave
#: 274 px for them in a 1,000 px output area (tests/browser measures it in JupyterLab and Notebook 7).
GRID_COLUMNS = "30px minmax(130px,2fr) minmax(60px,1fr) 84px 104px 66px 92px 90px 62px 162px"
GRID_GAP = "2px 4px"
PRIORITY_WIDTH = "84px"
STATUS_WIDTH = "104px"
DRIFT_BAR_PX = 40


@dataclass(frozen=True)
class Filters:
    """What the dashboard shows. ``None`` means no filter on that field."""

    workspace: str | None = None
    status: str | None = None
    priority: str | None = None
    archived: bool = False
    text: str = ""


def filter_rows(rows: Iterable[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """Rows that pass the filters (archived rows only when ``filters.archived``)."""
    needle = filters.text.strip().lower()
    out = []
    for row in rows:
        if bool(row["archived"]) and not filters.archived:
            continue
        if filters.workspace and row["workspace"] != filters.workspace:
            continue
        if filters.status and row["task_status"] != filters.status:
            continue
        if filters.priority and row["priority"] != filters.priority:
            continue
        if needle and needle not in f"{row['name']} {row['branch']}".lower():
            continue
        out.append(row)
    return out


def sort_rows(rows: Iterable[dict[str, Any]], by: str = "priority") -> list[dict[str, Any]]:
    """Pinned first, then by ``by``: priority (urgent first), updated (newest), name, behind (most)."""
    rank = {p.value: p.rank for p in Priority}

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        recent = -float(row["updated_at"])
        if by == "updated":
            return (not row["pinned"], recent)
        if by == "name":
            return (not row["pinned"], str(row["name"]))
        if by == "behind":
            return (not row["pinned"], -(row["behind"] or 0), rank[str(row["priority"])])
        return (not row["pinned"], rank[str(row["priority"])], recent)

    return sorted(rows, key=key)


def summary_text(rows: list[dict[str, Any]]) -> str:
    """``5 sessions · 2 running · 1 waiting`` for the footer."""
    states: dict[str, int] = {}
    for row in rows:
        states[str(row["agent_state"])] = states.get(str(row["agent_state"]), 0) + 1
    parts = [f"{len(rows)} session{'s' if len(rows) != 1 else ''}"]
    parts += [f"{states[s]} {s}" for s in ("running", "waiting", "crashed") if states.get(s)]
    return " · ".join(parts)


class RowActions(Protocol):
    """What a row's controls ask of the dashboard."""

    def update_session(
        self,
        session_id: str,
        *,
        priority: str | None = None,
        task_status: str | None = None,
        pinned: bool | None = None,
    ) -> None:
        """Change priority, status or pin of a session."""

    def sync(self, session_id: str) -> None:
        """Fetch and count drift of a session."""

    def archive(self, session_id: str) -> None:
        """Archive a session."""

    def unarchive(self, session_id: str) -> None:
        """Restore an archived session."""

    def open_chat(self, session_id: str) -> object:
        """Show the chat of a session."""

    def push(self, session_id: str) -> None:
        """Push a session's branch."""

    def create_pr(self, session_id: str) -> None:
        """Open (or link) a session's pull request."""

    def conflict_mark(self, row: dict[str, Any]) -> str | None:
        """The forecast's conflict marker of a row (None when it conflicts with nothing)."""

    def review(self, session_id: str) -> None:
        """Start a quick review of a session and show it."""


def _cell(value: str) -> widgets.HTML:
    # min_width 0 lets the grid track, not the content, set the width; wrapping text then fits it.
    return widgets.HTML(value, layout=widgets.Layout(margin="0", min_width="0"))


def _small() -> widgets.Layout:
    return widgets.Layout(width="auto", padding="0 6px", margin="1px")


#: Long names and branches break anywhere rather than widen their column.
_WRAP = "white-space:normal;overflow-wrap:anywhere;word-break:break-word"


def name_html(row: dict[str, Any]) -> str:
    """The session cell: name (bold), branch, and the health problem when there is one; all wrap."""
    health = (
        ""
        if row["health"] == "ok"
        else f'<div style="color:#c62828;font-size:11px">{html.escape(str(row["health"]))}</div>'
    )
    return (
        f'<div style="font-family:sans-serif;line-height:1.25;padding:2px 0;{_WRAP}">'
        f'<div class="chatml-name" style="font-weight:bold;{_WRAP}">{html.escape(str(row["name"]))}</div>'
        f'<code style="font-size:11px;color:#78909c;{_WRAP}">{html.escape(str(row["branch"]))}</code>'
        f'<span class="chatml-owner" style="font-size:11px;color:#757575" title="owner">'
        f" · {html.escape(str(row.get('owner') or ''))}</span>"
        f"{health}</div>"
    )


class SessionRow:
    """The widgets of one session's row; :meth:`update` sets them without firing their handlers."""

    def __init__(self, dashboard: RowActions, session_id: str) -> None:
        self.id = session_id
        self._dashboard = dashboard
        self._updating = False
        self.data: dict[str, Any] = {}
        self._mark: str | None = None
        self.pin = widgets.ToggleButton(
            description="\N{WHITE STAR}", tooltip="pin (pinned sessions sort first)",
            layout=widgets.Layout(width="28px", padding="0", margin="0"),
        )  # fmt: skip
        self.name = _cell("")
        self.workspace = _cell("")
        self.priority = widgets.Dropdown(
            options=badges.choices(Priority), layout=widgets.Layout(width=PRIORITY_WIDTH, margin="0")
        )
        self.status = widgets.Dropdown(
            options=badges.choices(TaskStatus), layout=widgets.Layout(width=STATUS_WIDTH, margin="0")
        )
        self.state = _cell("")
        self.drift = _cell("")
        self.pr = _cell("")
        self.cost = _cell("")
        self.sync = widgets.Button(description="Sync", tooltip="fetch and count drift", layout=_small())
        self.archive = widgets.Button(description="Archive", layout=_small())
        self.chat = widgets.Button(description="Chat", button_style="info", layout=_small())
        self.review = widgets.Button(
            description="Review", tooltip="start a quick read-only review", layout=_small()
        )
        self.push = widgets.Button(
            description="Push", tooltip="push the branch (never a plain force)", layout=_small()
        )
        self.open_pr = widgets.Button(
            description="PR", tooltip="open a pull request (or link the open one)", layout=_small()
        )
        # Wraps rather than overflows: six buttons take two lines of the fixed last column.
        self.actions = widgets.HBox(
            [self.sync, self.archive, self.chat, self.review, self.push, self.open_pr],
            layout=widgets.Layout(flex_flow="row wrap", margin="0"),
        )
        self.pin.observe(self._on_pin, "value")
        self.priority.observe(self._on_priority, "value")
        self.status.observe(self._on_status, "value")
        self.sync.on_click(lambda _: dashboard.sync(self.id))
        self.archive.on_click(lambda _: self._on_archive())
        self.chat.on_click(lambda _: dashboard.open_chat(self.id))
        self.push.on_click(lambda _: dashboard.push(self.id))
        self.open_pr.on_click(lambda _: dashboard.create_pr(self.id))
        self.review.on_click(lambda _: dashboard.review(self.id))

    @property
    def cells(self) -> list[widgets.Widget]:
        """The row's widgets in column order."""
        return [self.pin, self.name, self.workspace, self.priority, self.status, self.state, self.drift,
                self.pr, self.cost, self.actions]  # fmt: skip

    def update(self, row: dict[str, Any]) -> None:
        """Show ``row`` (a dict of ``manager.rows()``)."""
        mark = self._dashboard.conflict_mark(row)
        if row == self.data and mark == self._mark:
            return
        self._mark = mark
        self.data = dict(row)
        self._updating = True
        try:
            self.pin.value = bool(row["pinned"])
            self.pin.button_style = "warning" if row["pinned"] else ""
            # Plain Unicode rather than icon fonts: exported HTML has no Font Awesome.
            self.pin.description = "\N{BLACK STAR}" if row["pinned"] else "\N{WHITE STAR}"
            self.name.value = name_html(row)
            machine = html.escape(str(row.get("machine") or ""))  # where the worktree is (issue 13)
            self.workspace.value = (
                f'<div style="font-size:12px;line-height:1.25;{_WRAP}">{html.escape(str(row["workspace"]))}'
                f'<div style="color:#757575;font-size:11px" title="machine">{machine}</div></div>'
            )
            self.priority.value = row["priority"]
            self.status.value = row["task_status"]
            self.state.value = badges.state_badge("archived" if row["archived"] else str(row["agent_state"]))
            self.drift.value = badges.drift_bar(row["ahead"], row["behind"], width_px=DRIFT_BAR_PX)
            self.pr.value = pr_cell_html(row, None if row["archived"] else mark)
            self.cost.value = f'<span style="font-size:12px">{badges.cost_text(row["cost_usd"])}</span>'
            archived = bool(row["archived"])
            self.archive.description = "Restore" if archived else "Archive"
            locked = not row.get("writable", True)  # someone else's session: read-only (issue 13)
            self.sync.disabled = self.push.disabled = self.open_pr.disabled = archived or locked
            self.chat.disabled = False
            self.review.disabled = archived or locked
            self.priority.disabled = self.status.disabled = self.pin.disabled = self.archive.disabled = locked
        finally:
            self._updating = False

    def _on_pin(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._dashboard.update_session(self.id, pinned=bool(change["new"]))

    def _on_priority(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._dashboard.update_session(self.id, priority=str(change["new"]))

    def _on_status(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._dashboard.update_session(self.id, task_status=str(change["new"]))

    def _on_archive(self) -> None:
        if self.data.get("archived"):
            self._dashboard.unarchive(self.id)
        else:
            self._dashboard.archive(self.id)
