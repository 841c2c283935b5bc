"""The session dashboard: filters, sorting, per-row controls, a new-session form and a chat area.

Rows come from ``manager.rows(include_archived=True)`` (the same dicts as ``chatml list --json``),
filtered and sorted by pure functions (:func:`filter_rows`, :func:`sort_rows`) so tests need no
browser. A poller refreshes it in the background; slow actions (create, sync, archive) run on a
worker thread so the kernel stays free. Errors show in a banner, never as a traceback.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import ChatMLError
from ..models import Priority, TaskStatus
from . import badges
from .chat import ChatPanel, banner_html
from .poller import Poller, Worker, close_tree

if TYPE_CHECKING:
    from ..core.manager import ChatML

ALL = "(all)"
SORTS = ("priority", "updated", "name", "behind")
COLUMNS = ("", "session", "workspace", "priority", "status", "agent", "drift", "PR", "cost", "")
GRID_COLUMNS = "32px minmax(160px,2fr) minmax(80px,1fr) 110px 130px 90px 150px 80px 70px 250px"


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


def _describe(field: str, value: Any) -> str:
    if field == "pinned":
        return "pinned" if value else "unpinned"
    label = "status" if field == "task_status" else field
    return f"{label} {str(value).replace('_', ' ')}"


def _cell(value: str) -> widgets.HTML:
    return widgets.HTML(value, layout=widgets.Layout(margin="0", overflow="hidden"))


class SessionRow:
    """The widgets of one session's row; :meth:`update` sets them without firing their handlers."""

    def __init__(self, dashboard: Dashboard, session_id: str) -> None:
        self.id = session_id
        self._dashboard = dashboard
        self._updating = False
        self.data: dict[str, Any] = {}
        self.pin = widgets.ToggleButton(
            description="\N{WHITE STAR}", tooltip="pin (pinned sessions sort first)",
            layout=widgets.Layout(width="30px", padding="0"),
        )  # fmt: skip
        self.name = _cell("")
        self.workspace = _cell("")
        self.priority = widgets.Dropdown(
            options=[p.value for p in Priority], layout=widgets.Layout(width="105px")
        )
        self.status = widgets.Dropdown(
            options=[s.value for s in TaskStatus], layout=widgets.Layout(width="125px")
        )
        self.state = _cell("")
        self.drift = _cell("")
        self.pr = _cell("")
        self.cost = _cell("")
        small = widgets.Layout(width="auto", padding="0 6px")
        self.sync = widgets.Button(description="Sync", tooltip="fetch and count drift", layout=small)
        self.archive = widgets.Button(description="Archive", layout=small)
        self.chat = widgets.Button(description="Chat", button_style="info", layout=small)
        self.review = widgets.Button(
            description="Review", tooltip="start a quick read-only review", layout=small
        )
        self.actions = widgets.HBox([self.sync, self.archive, self.chat, self.review])
        self.pin.observe(self._on_pin, "value")
        self.priority.observe(self._on_priority, "value")
        self.status.observe(self._on_status, "value")
        self.sync.on_click(lambda _: dashboard.sync(self.id))
        self.archive.on_click(lambda _: self._on_archive())
        self.chat.on_click(lambda _: dashboard.open_chat(self.id))
        self.review.on_click(lambda _: dashboard.review(self.id))

    @property
    def cells(self) -> list[widgets.Widget]:
        """The row's widgets in column order."""
        return [self.pin, self.name, self.workspace, self.priority, self.status, self.state, self.drift,
                self.pr, self.cost, self.actions]  # fmt: skip

    def update(self, row: dict[str, Any]) -> None:
        """Show ``row`` (a dict of ``manager.rows()``)."""
        if row == self.data:
            return
        self.data = dict(row)
        self._updating = True
        try:
            self.pin.value = bool(row["pinned"])
            self.pin.button_style = "warning" if row["pinned"] else ""
            # Plain Unicode rather than icon fonts: exported HTML has no Font Awesome.
            self.pin.description = "\N{BLACK STAR}" if row["pinned"] else "\N{WHITE STAR}"
            health = (
                ""
                if row["health"] == "ok"
                else f'<div style="color:#c62828;font-size:11px">{html.escape(str(row["health"]))}</div>'
            )
            self.name.value = (
                f'<div style="font-family:sans-serif;line-height:1.2"><b>{html.escape(str(row["name"]))}</b>'
                f'<br><code style="font-size:11px;color:#78909c">{html.escape(str(row["branch"]))}</code>{health}</div>'
            )
            self.workspace.value = f'<span style="font-size:12px">{html.escape(str(row["workspace"]))}</span>'
            self.priority.value = row["priority"]
            self.status.value = row["task_status"]
            self.state.value = badges.state_badge("archived" if row["archived"] else str(row["agent_state"]))
            self.drift.value = badges.drift_bar(row["ahead"], row["behind"], width_px=70)
            self.pr.value = badges.pr_badge(str(row["pr_status"]), row.get("pr_number"))
            self.cost.value = f'<span style="font-size:12px">{badges.cost_text(row["cost_usd"])}</span>'
            archived = bool(row["archived"])
            self.archive.description = "Restore" if archived else "Archive"
            self.sync.disabled = archived
            self.chat.disabled = False
            self.review.disabled = archived
            self.priority.disabled = self.status.disabled = False
        finally:
            self._updating = False

    def _on_pin(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._dashboard.update_session(self.id, pinned=bool(change["new"]))

    def _on_priority(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._dashboard.update_session(self.id, priority=change["new"])

    def _on_status(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._dashboard.update_session(self.id, task_status=change["new"])

    def _on_archive(self) -> None:
        if self.data.get("archived"):
            self._dashboard.unarchive(self.id)
        else:
            self._dashboard.archive(self.id)


class NewSessionForm(widgets.VBox):  # type: ignore[misc]
    """Name, repository, prompt, agent and priority of a new session, and a Create button."""

    def __init__(
        self, on_create: Callable[[dict[str, Any]], None], default_repo: str | None, agent: str | None
    ) -> None:
        wide = widgets.Layout(width="320px")
        self.name = widgets.Text(placeholder="generated when empty", description="Name", layout=wide)
        self.repo = widgets.Text(
            value=default_repo or "", placeholder="repository path or workspace name", description="Repository",
            layout=widgets.Layout(width="520px"),
        )  # fmt: skip
        self.agent = widgets.Text(
            value=agent or "",
            placeholder="anthropic | claude-code | scripted",
            description="Agent",
            layout=wide,
        )
        self.priority = widgets.Dropdown(
            options=[p.value for p in Priority], value="none", description="Priority"
        )
        self.prompt = widgets.Textarea(
            placeholder="What should the agent do? (optional: starts the agent at once)", description="Prompt",
            layout=widgets.Layout(width="520px", height="60px"),
        )  # fmt: skip
        self.create = widgets.Button(description="Create session", button_style="success")
        self.create.on_click(lambda _: on_create(self.values()))
        super().__init__(
            [widgets.HBox([self.name, self.priority]), self.repo, self.agent, self.prompt, self.create],
            layout=widgets.Layout(padding="6px"),
        )

    def values(self) -> dict[str, Any]:
        """The form as ``new_session`` keyword arguments (empty fields left out)."""
        values: dict[str, Any] = {
            "name": self.name.value.strip() or None, "repo_or_workspace": self.repo.value.strip() or None,
            "agent": self.agent.value.strip() or None, "priority": self.priority.value,
            "prompt": self.prompt.value.strip() or None,
        }  # fmt: skip
        return {key: value for key, value in values.items() if value is not None}

    def clear(self) -> None:
        """Empty the name and prompt after a successful creation."""
        self.name.value = ""
        self.prompt.value = ""


class Dashboard(widgets.VBox):  # type: ignore[misc]
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
        self.title = widgets.HTML(
            '<div style="font-family:sans-serif;font-size:16px;font-weight:600">ChatML sessions</div>'
        )
        self.banner = widgets.HTML()
        self.workspace_filter = widgets.Dropdown(options=[ALL], value=ALL, description="Workspace")
        self.status_filter = widgets.Dropdown(
            options=[ALL, *(s.value for s in TaskStatus)], value=ALL, description="Status"
        )
        self.priority_filter = widgets.Dropdown(
            options=[ALL, *(p.value for p in Priority)], value=ALL, description="Priority"
        )
        self.search = widgets.Text(
            placeholder="filter by name or branch", layout=widgets.Layout(width="200px")
        )
        self.show_archived = widgets.Checkbox(
            value=False, description="archived", indent=False, layout=widgets.Layout(width="100px")
        )
        self.sort = widgets.Dropdown(options=list(SORTS), value="priority", description="Sort by")
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
                grid_template_columns=GRID_COLUMNS, grid_gap="2px 6px", align_items="center"
            )
        )
        self.footer = widgets.HTML()
        self.form = NewSessionForm(self.create_session, default_repo, self._defaults.get("agent"))
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
        self._poller: Poller | None = None
        self.refresh()
        if autostart:
            self._poller = Poller(refresh_interval, self._tick, name="chatml-dashboard").start()

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
            try:
                rows = self.manager.rows(include_archived=True)
            except ChatMLError as exc:
                self._error(str(exc))
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

    def refresh_drift(self) -> None:
        """Sync every visible live session (the fetch is throttled per workspace)."""
        for row in list(self.visible):
            if not row["archived"]:
                try:
                    self.manager.sync(str(row["id"]))
                except ChatMLError as exc:
                    self._error(f"{row['name']}: {exc}")
        self.refresh()

    # -- acting ---------------------------------------------------------------------------------

    def _run(self, action: Callable[[], str | None]) -> None:
        """Run an action (on the worker when there is one); show its message or error, then refresh."""

        def job() -> None:
            try:
                message = action()
            except ChatMLError as exc:
                self._error(str(exc))
            else:
                self.banner.value = banner_html(message, "info") if message else ""
            self.refresh()

        if self._worker is not None:
            self._worker.submit(job)
        else:
            job()

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Change priority, status or pin of a session."""

        def action() -> str:
            rec = self.manager.update(session_id, **fields)
            return f"{rec.name}: " + ", ".join(_describe(key, value) for key, value in fields.items())

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
            self.manager.progress = lambda step: setattr(
                self.banner, "value", banner_html(f"… {step}", "info")
            )
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

    def _error(self, message: str) -> None:
        self.banner.value = banner_html(message)

    # -- lifetime -------------------------------------------------------------------------------

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until queued actions are done."""
        if self._worker is not None:
            self._worker.wait(timeout)

    @property
    def polling(self) -> bool:
        """True while the background poller runs."""
        return self._poller is not None and self._poller.alive

    def close(self) -> None:
        """Stop the poller, the worker and the open chat; close every widget."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
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
