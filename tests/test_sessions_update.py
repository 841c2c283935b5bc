"""Priority, task status, pin, rename, and the session table's columns and order."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import SessionArchivedError, SessionExistsError
from chatml_lab.models import Priority, TaskStatus

from .conftest import commit_file, git

TABLE_COLUMNS = [
    "name", "workspace", "machine", "owner", "priority", "task_status", "pinned", "pr_status", "branch", "ahead", "behind",
    "agent_state", "cost_usd", "updated_at",
]  # fmt: skip


def test_priority_status_pin(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="tweak")
    assert (session.priority, session.task_status, session.pinned) == (
        Priority.NONE,
        TaskStatus.IN_PROGRESS,
        False,
    )
    stamp = session.updated_at
    session.update(priority="urgent", task_status="in-review")
    assert (session.priority, session.task_status) == (Priority.URGENT, TaskStatus.IN_REVIEW)
    assert session.updated_at > stamp
    session.pin()
    assert session.pinned
    session.unpin()
    assert not session.pinned
    cm.update(session.id, priority=Priority.LOW, task_status=TaskStatus.DONE)
    again = ChatML(data_dir=cm.data_dir)  # another process's view: the database is the truth
    try:
        rec = again.record(session.id)
        assert (rec.priority, rec.task_status, rec.pinned) == (Priority.LOW, TaskStatus.DONE, False)
    finally:
        again.close()


def test_update_works_on_archived_sessions_except_rename(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="shelf")
    session.archive()
    session.update(priority="high", task_status="done", pinned=True)
    assert (session.priority, session.task_status, session.pinned) == (Priority.HIGH, TaskStatus.DONE, True)
    with pytest.raises(SessionArchivedError, match="unarchive"):
        session.rename("elsewhere")
    assert (session.name, session.branch) == ("shelf", "chatml/shelf")


def test_rename_moves_an_unpushed_branch(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="old name")
    commit_file(session.worktree, "w.txt", "work\n")
    worktree = session.worktree
    session.rename("New Name")
    assert (session.name, session.branch) == ("new-name", "chatml/new-name")
    assert git(worktree, "branch", "--show-current").strip() == "chatml/new-name"
    assert git(repo, "branch", "--list", "chatml/old-name").strip() == ""
    assert session.worktree == worktree  # the directory stays where it is
    assert cm.session("new-name").id == session.id
    session.sync(fetch=False)
    assert session.ahead == 1


def test_rename_after_push_changes_only_the_name(cm: ChatML, repo: Path, origin: Path) -> None:
    session = cm.new_session(repo, name="published")
    commit_file(session.worktree, "w.txt", "work\n")
    git(session.worktree, "push", "-q", "-u", "origin", "chatml/published")
    session.rename("better title")
    assert (session.name, session.branch) == ("better-title", "chatml/published")
    assert git(session.worktree, "branch", "--show-current").strip() == "chatml/published"
    assert git(origin, "branch", "--list", "chatml/*").split() == ["chatml/published"]


def test_rename_to_a_taken_name_or_branch_is_refused(cm: ChatML, repo: Path) -> None:
    first = cm.new_session(repo, name="first")
    cm.new_session(repo, name="second")
    git(repo, "branch", "chatml/third")
    for taken in ("second", "third"):
        with pytest.raises(SessionExistsError):
            first.rename(taken)
    assert (first.name, first.branch) == ("first", "chatml/first")
    # Renaming to the same slug is no change at all.
    stamp = first.updated_at
    first.rename("FIRST")
    assert (first.name, first.updated_at) == ("first", stamp)


def test_table_columns_and_sort_order(cm: ChatML, repo: Path) -> None:
    names = ["idle", "urgent", "high-old", "high-new", "pinned-low", "pinned-urgent", "medium"]
    made = {name: cm.new_session(repo, name=name) for name in names}
    # Updates in this order: the later an update, the more recent the session.
    made["high-old"].update(priority="high")
    made["urgent"].update(priority="urgent")
    made["medium"].update(priority="medium")
    made["high-new"].update(priority="high")
    made["pinned-low"].update(priority="low", pinned=True)
    made["pinned-urgent"].update(priority="urgent", pinned=True)
    made["idle"].update(task_status="backlog")

    frame = cm.table()
    assert list(frame.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert "health" in frame.columns
    assert list(frame["name"]) == [
        "pinned-urgent", "pinned-low", "urgent", "high-new", "high-old", "medium", "idle",
    ]  # fmt: skip
    assert list(frame["workspace"].unique()) == ["project"]
    assert set(frame["branch"]) == {f"chatml/{n}" for n in names}
    assert frame["updated_at"].dt.tz is not None

    # Bumping the older "high" session makes it the more recent one.
    made["high-old"].update(task_status="in_review")
    order = list(cm.table()["name"])
    assert order.index("high-old") < order.index("high-new")


def test_table_includes_archived_only_when_asked(cm: ChatML, repo: Path) -> None:
    cm.new_session(repo, name="live")
    cm.new_session(repo, name="gone").archive()
    assert list(cm.table()["name"]) == ["live"]
    frame = cm.table(include_archived=True)
    assert set(frame["name"]) == {"live", "gone"}
    assert dict(zip(frame["name"], frame["archived"], strict=True)) == {"live": False, "gone": True}
