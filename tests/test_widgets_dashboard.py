"""The dashboard without a browser: rows mirror the database, and its controls reach the API and git."""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.widgets import poller
from chatml_lab.widgets.chat import ChatPanel
from chatml_lab.widgets.dashboard import Dashboard
from chatml_lab.widgets.rows import _WRAP, Filters, filter_rows, sort_rows, summary_text

from .agent_fixtures import wait_for
from .conftest import commit_file, git


@pytest.fixture
def board(cm: ChatML) -> Iterator[Dashboard]:
    """A dashboard refreshed by the test (no poller) whose actions run in the test's thread."""
    dashboard = Dashboard(cm, autostart=False, background=False)
    yield dashboard
    dashboard.close()


def row(name: str, **fields: Any) -> dict[str, Any]:
    base = {"name": name, "workspace": "ws", "priority": "none", "task_status": "in_progress", "pinned": False,
            "branch": f"chatml/{name}", "archived": False, "updated_at": 0.0, "behind": None, "agent_state": "idle"}  # fmt: skip
    return {**base, **fields}


def test_filter_and_sort_are_pure() -> None:
    rows = [
        row("a", priority="low", updated_at=3.0), row("b", priority="urgent", updated_at=1.0),
        row("c", pinned=True, updated_at=0.5), row("d", archived=True), row("e", workspace="other", behind=4),
        row("f", task_status="done", agent_state="running"),
    ]  # fmt: skip
    assert [r["name"] for r in sort_rows(filter_rows(rows, Filters()))] == ["c", "b", "a", "e", "f"]
    assert [r["name"] for r in sort_rows(rows, "updated")][:2] == ["c", "a"]  # pinned first, then newest
    assert [r["name"] for r in sort_rows(rows, "name")] == ["c", "a", "b", "d", "e", "f"]
    assert [r["name"] for r in sort_rows(rows, "behind")][:2] == ["c", "e"]
    assert [r["name"] for r in filter_rows(rows, Filters(archived=True))][-3:] == ["d", "e", "f"]
    assert [r["name"] for r in filter_rows(rows, Filters(workspace="other"))] == ["e"]
    assert [r["name"] for r in filter_rows(rows, Filters(status="done"))] == ["f"]
    assert [r["name"] for r in filter_rows(rows, Filters(priority="urgent"))] == ["b"]
    assert [r["name"] for r in filter_rows(rows, Filters(text="CHATML/A"))] == ["a"]
    assert summary_text(rows) == "6 sessions · 1 running"


def test_rows_reflect_sessions_and_filters(cm: ChatML, repo: Path, board: Dashboard) -> None:
    assert "no sessions yet" in board.table.children[-1].value
    cm.new_session(repo, name="low", priority="low")
    cm.new_session(repo, name="urgent", priority="urgent")
    pinned = cm.new_session(repo, name="pinned")
    pinned.pin()
    board.refresh()
    assert [r["name"] for r in board.visible] == ["pinned", "urgent", "low"]
    assert board.row("urgent").priority.value == "urgent"
    assert board.row("pinned").pin.value is True
    assert "chatml/low" in board.row("low").name.value
    assert list(board.workspace_filter.options) == ["(all)", "project"]
    board.priority_filter.value = "urgent"
    assert [r["name"] for r in board.visible] == ["urgent"]
    board.priority_filter.value = "(all)"
    board.search.value = "lo"
    assert [r["name"] for r in board.visible] == ["low"]
    board.search.value = ""
    board.sort.value = "name"
    assert [r["name"] for r in board.visible] == ["pinned", "low", "urgent"]
    assert "3 sessions" in board.footer.value


def test_row_controls_change_the_database(cm: ChatML, repo: Path, board: Dashboard) -> None:
    session = cm.new_session(repo, name="edit-me")
    board.refresh()
    controls = board.row("edit-me")
    controls.priority.value = "high"
    controls.status.value = "in_review"
    controls.pin.value = True
    rec = session.record
    assert (rec.priority.value, rec.task_status.value, rec.pinned) == ("high", "in_review", True)
    assert "edit-me: pinned" in board.banner.value
    # A change made elsewhere (CLI, another notebook) shows after a refresh, without writing back.
    cm.update(session.id, priority="low")
    board.refresh()
    assert controls.priority.value == "low"
    assert session.record.priority.value == "low"


def test_sync_archive_restore_buttons(cm: ChatML, repo: Path, board: Dashboard) -> None:
    cm.config = Config(fetch_throttle=0)
    session = cm.new_session(repo, name="drifty")
    commit_file(repo, "upstream.txt", "new\n")
    git(repo, "push", "-q", "origin", "main")
    board.refresh()
    board.row("drifty").sync.click()
    assert (session.record.ahead, session.record.behind) == (0, 1)
    assert "\N{MINUS SIGN}1" in board.row("drifty").drift.value
    (session.worktree / "wip.txt").write_text("unsaved\n")
    board.row("drifty").archive.click()
    assert session.record.archived and not session.worktree.exists()
    assert board.visible == []  # archived rows are hidden by default
    board.show_archived.value = True
    assert board.row("drifty").archive.description == "Restore"
    board.row("drifty").archive.click()
    assert not session.record.archived
    assert (session.worktree / "wip.txt").read_text() == "unsaved\n"


def test_errors_show_in_the_banner(cm: ChatML, repo: Path, board: Dashboard) -> None:
    session = cm.new_session(repo, name="gone")
    board.refresh()
    controls = board.row("gone")
    session.delete(force=True)
    controls.sync.click()
    assert "no longer exists" in board.banner.value
    assert board.visible == [], "the refresh after the failed action drops the row"


def test_new_session_form_creates_a_session_in_the_background(cm: ChatML, repo: Path) -> None:
    board = Dashboard(cm, autostart=False, background=True, default_repo=str(repo))
    try:
        board.form.name.value = "from-form"
        board.form.priority.value = "high"
        board.form.create.click()
        board.wait()
        rec = cm.session("from-form").record
        assert rec.priority.value == "high" and rec.branch == "chatml/from-form"
        assert "created from-form" in board.banner.value
        assert board.form.name.value == ""
        assert [r["name"] for r in board.visible] == ["from-form"]
        board.form.name.value = "from-form"
        board.form.create.click()
        board.wait()
        assert "is taken" in board.banner.value
    finally:
        board.close()


def test_controls_read_labels_and_write_enum_values(cm: ChatML, repo: Path, board: Dashboard) -> None:
    session = cm.new_session(repo, name="labelled")
    board.refresh()
    status = board.row("labelled").status
    assert ("in progress", "in_progress") in status.options
    assert status.label == "in progress" and status.value == "in_progress"
    status.value = "in_review"
    assert session.record.task_status.value == "in_review"
    assert "labelled: status in review" in board.banner.value
    assert ("in review", "in_review") in board.status_filter.options
    board.status_filter.value = "in_review"
    assert [r["name"] for r in board.visible] == ["labelled"]


def test_form_offers_the_installed_agents_and_the_permission_modes(cm: ChatML, repo: Path) -> None:
    installed = sorted({ep.name for ep in entry_points(group="chatml_lab.backends")})
    assert {"anthropic", "scripted"} <= set(installed)
    board = Dashboard(cm, autostart=False, background=False, default_repo=str(repo))
    try:
        form = board.form
        assert [value for _, value in form.agent.options] == ["", *installed]
        assert form.agent.value == "" and form.agent.label == "default agent"
        assert [label for label, _ in form.permission_mode.options] == [
            "default",
            "accept edits",
            "bypass",
            "plan",
        ]
        assert "permission_mode" in form.values() and "agent" not in form.values()
        form.name.value = "planner"
        form.agent.value = "scripted"
        form.permission_mode.value = "plan"
        form.create.click()
        rec = cm.session("planner").record
        assert (rec.agent_backend, rec.permission_mode.value) == ("scripted", "plan")
    finally:
        board.close()


def test_form_starts_on_the_configured_defaults(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = str(tmp_path / "script.json")
    defaults = {"agent": f"scripted:{script}", "permission_mode": "accept_edits"}
    board = Dashboard(cm, autostart=False, background=False, new_session_defaults=defaults)
    try:
        assert board.form.agent.value == f"scripted:{script}"
        assert board.form.agent.options[-1] == (f"scripted:{script}", f"scripted:{script}")
        assert (board.form.permission_mode.value, board.form.permission_mode.label) == (
            "accept_edits", "accept edits",
        )  # fmt: skip
    finally:
        board.close()


def test_long_names_wrap_in_their_cell(cm: ChatML, repo: Path, board: Dashboard) -> None:
    name = "migrate-the-billing-service-to-the-new-event-api"
    cm.new_session(repo, name=name)
    board.refresh()
    cell = board.row(name).name
    assert f'<div class="chatml-name" style="font-weight:bold;{_WRAP}">{name}</div>' in cell.value
    assert "overflow-wrap:anywhere" in _WRAP and cell.layout.min_width == "0"
    assert cell.layout.overflow is None, "nothing is clipped: a name too wide would show, not hide"


def test_chat_button_opens_the_session_chat(cm: ChatML, repo: Path, board: Dashboard) -> None:
    cm.new_session(repo, name="chatty")
    cm.new_session(repo, name="other")
    board.refresh()
    board.row("chatty").chat.click()
    first = board.chat
    assert isinstance(first, ChatPanel) and first.session.name == "chatty"
    assert board.chat_area.children == (first,)
    board.row("other").chat.click()
    assert board.chat is not first and board.chat is not None and board.chat.session.name == "other"
    assert first.comm is None, "the replaced chat is closed"


def test_poller_refreshes_and_close_stops_every_thread(cm: ChatML, repo: Path) -> None:
    board = Dashboard(cm, refresh_interval=0.05)
    try:
        assert board.polling
        cm.new_session(repo, name="external")  # as if made by the CLI
        wait_for(
            lambda: [r["name"] for r in board.visible] == ["external"], what="the poller to show the session"
        )
        board.row("external").chat.click()
        chat = board.chat
        assert chat is not None and chat.polling
    finally:
        board.close()
    assert not board.polling and not chat.polling
    assert board.comm is None
    time.sleep(0.1)
    assert poller.stop_all() == 0, "no poller is left running"


def test_drift_refresh_syncs_visible_sessions(cm: ChatML, repo: Path) -> None:
    cm.config = Config(fetch_throttle=0)
    cm.new_session(repo, name="watched")
    commit_file(repo, "more.txt", "x\n")
    git(repo, "push", "-q", "origin", "main")
    board = Dashboard(cm, refresh_interval=0.05, drift_interval=0.05)
    try:
        wait_for(lambda: board.visible and board.visible[0]["behind"] == 1, what="drift to be counted")
    finally:
        board.close()
