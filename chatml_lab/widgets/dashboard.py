"""The session dashboard: filters, sorting, per-row controls, a new-session form and a chat area.

Rows come from ``manager.rows(include_archived=True)`` (the same dicts as ``chatml list --json``),
filtered and sorted by the pure functions of :mod:`chatml_lab.widgets.rows`. A poller refreshes it
in the background; slow actions (create, sync, archive) run on a worker thread so the kernel stays
free. Errors show in a banner (:meth:`Banner.guard <chatml_lab.widgets.banner.Banner.guard>`), never
as a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..models import Priority, TaskStatus
from ..render import badges
from .banner import Banner
from .chat import ChatPanel
from .form import NewSessionForm
from .poller import Polling, Worker, close_tree
from .pr_poll import PullRequestPoll
from .rows import COLUMNS, GRID_COLUMNS, GRID_GAP, Filters, SessionRow, filter_rows, sort_rows, summary_text

if TYPE_CHECKING:
    from ..core.manager import ChatML

ALL = "(all)"
SORTS = ("priority", "updated", "name", "behind")
#: Labels as wide as their text, not ipywidgets' fixed 80 px column.
_LABEL = {"description_width": "initial"}


def _width(width: str) -> widgets.Layout:
    return widgets.Layout(width=width)


def _describe(field: str, value: object) -> str:
    if field == "pinned":
        return "pinned" if value else "unpinned"
    return f"{'status' if field == 'task_status' else field} {badges.label(value)}"


class Dashboard(Polling, widgets.VBox):  # type: ignore[misc]
    """Every session of a manager, live.

    ``refresh()`` re-reads the rows (a background poller calls it every ``refresh_interval`` s
    unless ``autostart=False``). With ``background=True`` slow actions run on a worker thread;
    :meth:`wait` blocks until they are done (tests). ``close()`` stops the poller, the worker and
    any open chat.
    """

    def __init__(
        self,
        manager: ChatML,
        refresh_interval: float = 1.0,
        drift_interval: float = 0.0,
        autostart: bool = True,
        background: bool = True,
        default_repo: str | None = None,
        new_session_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.manager = manager
        self.rows: list[dict[str, Any]] = []
        self.visible: list[dict[str, Any]] = []
        self.chat: ChatPanel | None = None
        self.drift_interval = drift_interval
        self._defaults = dict(new_session_defaults or {})
        self._row_widgets: dict[str, SessionRow] = {}
        self._lock = threading.RLock()
        self._last_drift = time.monotonic()
        self._refresh_interval = refresh_interval
        self._worker = Worker() if background else None
        # PR status every 30/45 s (ChatML's intervals) when the poller runs; conflicts with drift.
        self.pr_poll = PullRequestPoll(manager, enabled=autostart)
        self.title = widgets.HTML(
            '<div style="font-family:sans-serif;font-size:16px;font-weight:600">ChatML sessions</div>'
        )
        self.banner = Banner()
        self.workspace_filter = widgets.Dropdown(
            options=[ALL], value=ALL, description="Workspace", style=_LABEL, layout=_width("250px")
        )
        self.status_filter = widgets.Dropdown(
            options=[(ALL, ALL), *badges.choices(TaskStatus)], value=ALL, description="Status", style=_LABEL,
            layout=_width("190px"),
        )  # fmt: skip
        self.priority_filter = widgets.Dropdown(
            options=[(ALL, ALL), *badges.choices(Priority)], value=ALL, description="Priority", style=_LABEL,
            layout=_width("180px"),
        )  # fmt: skip
        self.search = widgets.Text(placeholder="filter by name or branch", layout=_width("250px"))
        self.show_archived = widgets.Checkbox(
            value=False, description="archived", indent=False, layout=_width("90px")
        )
        self.sort = widgets.Dropdown(
            options=list(SORTS), value="priority", description="Sort by", style=_LABEL, layout=_width("170px")
        )
        self.sync_all_button = widgets.Button(
            description="Sync all", tooltip="fetch and count drift for every session"
        )
        for control in (
            self.workspace_filter,
            self.status_filter,
            self.priority_filter,
            self.search,
            self.show_archived,
            self.sort,
        ):
            control.observe(lambda _: self._layout_rows(), "value")
        self.sync_all_button.on_click(lambda _: self.sync_all())
        self.table = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns=GRID_COLUMNS, grid_gap=GRID_GAP, align_items="center", width="100%"
            )
        )
        self.footer = widgets.HTML()
        self.form = NewSessionForm(
            self.create_session,
            default_repo,
            self._defaults.get("agent"),
            self._defaults.get("permission_mode"),
        )
        self.form_toggle = widgets.Accordion(
            children=[self.form], titles=("New session",), selected_index=None
        )
        self.chat_area = widgets.VBox()
        filters = widgets.HBox(
            [self.workspace_filter, self.status_filter, self.priority_filter],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        tools = widgets.HBox(
            [self.search, self.show_archived, self.sort, self.sync_all_button],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        super().__init__(
            [
                self.title,
                self.banner,
                filters,
                tools,
                self.table,
                self.footer,
                self.form_toggle,
                self.chat_area,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("chatml-dashboard")
        self._header = [
            widgets.HTML(f'<b style="font-family:sans-serif;font-size:12px;color:#616161">{name}</b>')
            for name in COLUMNS
        ]
        self.refresh()
        if autostart:
            self.start_polling(refresh_interval, self._tick, name="chatml-dashboard")

    # -- reading --------------------------------------------------------------------------------

    def filters(self) -> Filters:
        """The filters as chosen in the controls."""

        def chosen(dropdown: widgets.Dropdown) -> str | None:
            return None if dropdown.value == ALL else str(dropdown.value)

        return Filters(
            workspace=chosen(self.workspace_filter), status=chosen(self.status_filter),
            priority=chosen(self.priority_filter), archived=bool(self.show_archived.value), text=self.search.value,
        )  # fmt: skip

    def refresh(self) -> None:
        """Re-read every session and redraw (safe from any thread)."""
        with self._lock:
            with self.banner.guard() as outcome:
                rows = self.manager.rows(include_archived=True)
            if not outcome.ok:
                return
            self.rows = rows
            names = sorted({str(r["workspace"]) for r in rows})
            if list(self.workspace_filter.options) != [ALL, *names]:
                current = self.workspace_filter.value
                self.workspace_filter.options = [ALL, *names]
                self.workspace_filter.value = current if current in names else ALL
            self._layout_rows()

    def _layout_rows(self) -> None:
        with self._lock:
            visible = sort_rows(filter_rows(self.rows, self.filters()), str(self.sort.value))
            live = {str(r["id"]) for r in self.rows}
            for gone in set(self._row_widgets) - live:
                for cell in self._row_widgets.pop(gone).cells:
                    close_tree(cell)
            cells: list[widgets.Widget] = list(self._header)
            for row in visible:
                widget_row = self._row_widgets.get(str(row["id"]))
                if widget_row is None:
                    widget_row = self._row_widgets[str(row["id"])] = SessionRow(self, str(row["id"]))
                widget_row.update(row)
                cells.extend(widget_row.cells)
            if not visible:
                empty = (
                    "no sessions match the filters"
                    if self.rows
                    else "no sessions yet: create one below or with %chatml new"
                )
                cells.append(widgets.HTML(f'<i style="font-family:sans-serif;color:#9e9e9e">{empty}</i>'))
            if [id(c) for c in cells] != [id(c) for c in self.table.children]:
                self.table.children = tuple(cells)
            self.visible = visible
            self.footer.value = f'<span style="font-family:sans-serif;font-size:12px;color:#616161">{summary_text(visible)}</span>'

    def row(self, name: str) -> SessionRow:
        """The row widgets of the session named ``name`` (tests drive its buttons)."""
        for row in self.rows:
            if row["name"] == name:
                return self._row_widgets[str(row["id"])]
        raise KeyError(name)

    def _tick(self) -> None:
        self.refresh()
        if self.drift_interval > 0 and time.monotonic() - self._last_drift >= self.drift_interval:
            self._last_drift = time.monotonic()
            self.refresh_drift()
            self.pr_poll.forecast()
        if self.pr_poll.due():
            error = self.pr_poll.poll()
            if error:
                self.banner.show(error)
            self.refresh()

    def refresh_drift(self) -> None:
        """Sync every visible live session (the fetch is throttled per workspace)."""
        for row in list(self.visible):
            if not row["archived"]:
                with self.banner.guard(prefix=f"{row['name']}: "):
                    self.manager.sync(str(row["id"]), background=True)
        self.refresh()

    # -- acting ---------------------------------------------------------------------------------

    def _run(self, action: Callable[[], str | None]) -> None:
        """Run an action (on the worker when there is one); show its message or error, then refresh."""

        def job() -> None:
            with self.banner.guard():
                self.banner.info(action() or "")
            self.refresh()

        if self._worker is not None:
            self._worker.submit(job)
        else:
            job()

    def update_session(
        self,
        session_id: str,
        *,
        priority: str | None = None,
        task_status: str | None = None,
        pinned: bool | None = None,
    ) -> None:
        """Change priority, status or pin of a session (``None`` leaves a field as it is)."""
        given = {"priority": priority, "task_status": task_status, "pinned": pinned}
        changes = {key: value for key, value in given.items() if value is not None}

        def action() -> str:
            rec = self.manager.update(session_id, priority=priority, task_status=task_status, pinned=pinned)
            return f"{rec.name}: " + ", ".join(_describe(key, value) for key, value in changes.items())

        self._run(action)

    def sync(self, session_id: str) -> None:
        """Fetch and count ahead/behind for one session."""

        def action() -> str:
            rec = self.manager.sync(session_id)
            return f"{rec.name}: {rec.ahead} ahead, {rec.behind} behind"

        self._run(action)

    def sync_all(self) -> None:
        """Sync every live session."""
        self._run(lambda: f"synced {len(self.manager.sync_all())} session(s)")

    def push(self, session_id: str) -> None:
        """Push a session's branch (upstream set; a diverged remote is reported, never forced)."""
        self._run(lambda: f"{self.manager.record(session_id).name}: {self.manager.push(session_id)}")

    def create_pr(self, session_id: str) -> None:
        """Open a pull request for a session, or link the open one."""
        self._run(lambda: self.manager.create_pr(session_id).message)

    def conflict_mark(self, row: dict[str, Any]) -> str | None:
        """The forecast's conflict marker of a row (None when it conflicts with nothing)."""
        return self.pr_poll.mark(row)

    def archive(self, session_id: str) -> None:
        """Archive a session (its work is snapshotted, the branch kept)."""

        def action() -> str:
            rec = self.manager.archive(session_id)
            kept = f", uncommitted work kept in {rec.snapshot_ref}" if rec.snapshot_ref else ""
            return f"archived {rec.name}{kept}"

        self._run(action)

    def unarchive(self, session_id: str) -> None:
        """Recreate an archived session's worktree."""
        self._run(lambda: f"restored {self.manager.unarchive(session_id).name}")

    def create_session(self, values: dict[str, Any]) -> None:
        """Create a session from the form's values (progress shows in the banner)."""
        kwargs = {**self._defaults, **values}
        repo = kwargs.pop("repo_or_workspace", None) or str(Path.cwd())

        def action() -> str:
            previous = self.manager.progress
            self.manager.progress = lambda step: self.banner.info(f"… {step}")
            try:
                session = self.manager.new_session(repo, **kwargs)
            finally:
                self.manager.progress = previous
            self.form.clear()
            return f"created {session.name} on {session.branch}"

        self._run(action)

    def review(self, session_id: str, kind: str = "quick") -> None:
        """Start a review of a session and open its chat on the review's tab."""

        def action() -> str:
            conv = self.manager.session(session_id).review(kind)
            self.open_chat(session_id, conversation=conv.id)
            return f"started {conv.title}"

        self._run(action)

    def open_chat(self, session_id: str, conversation: str | None = None) -> ChatPanel:
        """Show the chat panel of a session below the table (replacing the open one)."""
        with self._lock:
            if self.chat is not None:
                self.chat.close()
            self.chat = ChatPanel(
                self.manager.session(session_id),
                refresh_interval=self._refresh_interval,
                autostart=self._poller is not None,
                conversation=conversation,
            )
            self.chat_area.children = (self.chat,)
            return self.chat

    # -- lifetime -------------------------------------------------------------------------------

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until queued actions are done."""
        if self._worker is not None:
            self._worker.wait(timeout)

    def close(self) -> None:
        """Stop the poller, the worker and the open chat; close every widget."""
        self.stop_polling()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self.chat is not None:
            self.chat.close()
            self.chat = None
        for row in self._row_widgets.values():
            for cell in row.cells:
                close_tree(cell)
        self._row_widgets.clear()
        for child in self.children:
            close_tree(child)
        super().close()
