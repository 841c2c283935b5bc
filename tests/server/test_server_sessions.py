"""REST routes for sessions: list, create, read, update, delete, and their 4xx answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatml_lab import __version__
from chatml_lab.core.manager import ChatML

from ..conftest import git
from .conftest import Api


async def test_version_answers_the_handshake(api: Api) -> None:
    status, data = await api("GET", "version", client=__version__, schema=1)
    assert status == 200
    assert data["version"] == __version__ and data["schema_version"] == 1
    assert data["compatible"] is True and data["message"] == ""


async def test_version_names_both_sides_when_the_sidebar_differs(api: Api) -> None:
    status, data = await api("GET", "version", client="0.0.9", schema=1)
    assert status == 200 and data["compatible"] is False
    assert "sidebar in this page is version 0.0.9" in data["message"]
    assert f"Python package on the server is {__version__}" in data["message"]
    assert "pip install --force-reinstall" in data["message"]


async def test_version_refuses_a_schema_that_is_not_a_number(api: Api) -> None:
    assert await api("GET", "version", client=__version__, schema="one") == (
        400, {"error": "schema must be a whole number of at least 1, not 'one'"},
    )  # fmt: skip


async def test_list_shows_sessions_made_through_the_python_api(
    api: Api, server_cm: ChatML, repo: Path
) -> None:
    first = server_cm.new_session(repo, name="first", priority="low", agent="scripted")
    second = server_cm.new_session(repo, name="second", priority="urgent", agent="scripted")
    first.pin()
    status, data = await api("GET", "sessions")
    assert status == 200
    assert [s["name"] for s in data["sessions"]] == ["first", "second"]  # pinned first
    found = {s["name"]: s for s in data["sessions"]}
    assert found["second"]["id"] == second.id
    assert found["second"]["priority"] == "urgent" and found["second"]["task_status"] == "in_progress"
    assert found["first"]["pinned"] is True
    assert found["second"]["workspace"] == "project" and found["second"]["branch"] == "chatml/second"
    assert found["second"]["agent_state"] == "idle" and found["second"]["pending_approvals"] == []
    assert found["second"]["worktree_path"] == str(second.worktree)
    assert found["second"]["worktree_relative"] is None  # outside the server's root


async def test_list_leaves_out_archived_sessions_when_asked(api: Api, server_cm: ChatML, repo: Path) -> None:
    server_cm.new_session(repo, name="live", agent="scripted")
    server_cm.new_session(repo, name="old", agent="scripted").archive()
    _, everything = await api("GET", "sessions")
    _, live = await api("GET", "sessions", archived="false")
    assert sorted(s["name"] for s in everything["sessions"]) == ["live", "old"]
    assert [s["name"] for s in live["sessions"]] == ["live"]


async def test_create_from_a_workspace_name(api: Api, server_cm: ChatML, repo: Path) -> None:
    server_cm.add_workspace(repo)
    body = {"workspace": "project", "name": "from-rest", "priority": "high", "agent": "scripted",
            "permission_mode": "accept_edits"}  # fmt: skip
    status, data = await api("POST", "sessions", body)
    assert status == 201
    session = data["session"]
    assert (session["name"], session["priority"], session["permission_mode"]) == (
        "from-rest",
        "high",
        "accept_edits",
    )
    assert session["agent_backend"] == "scripted"
    assert Path(session["worktree_path"]).is_dir()
    assert git(repo, "branch", "--list", "chatml/from-rest").strip()


async def test_create_from_a_path_relative_to_the_server_root(
    api: Api, server_cm: ChatML, origin: Path, repo: Path, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(jp_root_dir, "clone", "-q", str(origin), "inside")
    monkeypatch.setenv("CHATML_WORKSPACES_DIR", str(jp_root_dir / "worktrees"))
    status, data = await api(
        "POST", "sessions", {"workspace": "inside", "name": "rooted", "agent": "scripted"}
    )
    assert status == 201, data
    assert data["session"]["workspace"] == "inside"
    assert data["session"]["worktree_relative"] == "worktrees/inside/rooted"
    _, spaces = await api("GET", "workspaces")
    assert [(w["name"], w["relative"]) for w in spaces["workspaces"]] == [("inside", "inside")]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "workspace is required"),
        ({"workspace": "project", "colour": "red"}, 400, "unknown field(s) colour for a new session: use workspace,"),
        ({"workspace": "project", "priority": "asap"}, 400, "unknown priority 'asap': use one of urgent|high|medium|low|none"),
        ({"workspace": "project", "permission_mode": "yolo"}, 400, "unknown permission mode 'yolo'"),
        ({"workspace": "project", "name": 7}, 400, "name must be a string, not int"),
        ({"workspace": "project", "from_pr": "12"}, 400, "from_pr must be a pull request number, not '12'"),
        ({"workspace": "project", "agent": "gpt"}, 400, "unknown agent 'gpt': use one of"),
        ({"workspace": "no-such-thing"}, 404, "no workspace or repository 'no-such-thing': give a workspace name (project)"),
        ({"workspace": "project", "base": "no-such-ref"}, 404, "no-such-ref"),
    ],
)  # fmt: skip
async def test_create_refuses_bad_input_and_leaves_nothing(
    api: Api, server_cm: ChatML, repo: Path, body: dict[str, Any], status: int, message: str
) -> None:
    server_cm.add_workspace(repo)
    got_status, data = await api(
        "POST", "sessions", {"agent": "scripted", **body} if "agent" not in body else body
    )
    assert got_status == status, data
    assert message in data["error"]
    assert server_cm.sessions(include_archived=True) == []
    assert git(repo, "branch", "--list", "chatml/*") == ""


async def test_create_refuses_a_taken_name_with_409(api: Api, server_cm: ChatML, repo: Path) -> None:
    server_cm.new_session(repo, name="taken", agent="scripted")
    status, data = await api(
        "POST", "sessions", {"workspace": "project", "name": "taken", "agent": "scripted"}
    )
    assert status == 409
    assert data["error"].startswith("session name 'taken' is taken in workspace 'project'")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "the request body is not JSON"),
        ("[1, 2]", "the request body must be a JSON object, not list"),
    ],
)
async def test_bodies_must_be_json_objects(api: Api, raw: str, message: str) -> None:
    status, data = await api("POST", "sessions", raw)
    assert status == 400 and data["error"].startswith(message)


async def test_get_one_session_by_id_or_name(api: Api, server_cm: ChatML, repo: Path) -> None:
    session = server_cm.new_session(repo, name="findme", agent="scripted")
    for key in (session.id, "findme", session.id[:8]):
        status, data = await api("GET", f"sessions/{key}")
        assert status == 200 and data["session"]["id"] == session.id
    assert await api("GET", "sessions/nope") == (
        404, {"error": "no session named 'nope': see `chatml list --all` for the names"},
    )  # fmt: skip


async def test_patch_changes_priority_status_pin_and_name(api: Api, server_cm: ChatML, repo: Path) -> None:
    session = server_cm.new_session(repo, name="patchy", agent="scripted")
    body = {"priority": "urgent", "task_status": "in review", "pinned": True, "name": "renamed"}
    status, data = await api("PATCH", f"sessions/{session.id}", body)
    assert status == 200
    got = data["session"]
    assert (got["priority"], got["task_status"], got["pinned"], got["name"]) == (
        "urgent",
        "in_review",
        True,
        "renamed",
    )
    assert got["branch"] == "chatml/renamed"
    assert session.record.priority.value == "urgent"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "nothing to change: give one of priority, task_status, pinned, name"),
        ({"archived": True}, "unknown field(s) archived for a session update"),
        ({"pinned": "yes"}, "pinned must be true or false, not 'yes'"),
        ({"task_status": "finished"}, "unknown task status 'finished'"),
        ({"priority": 3}, "priority must be a string, not int"),
    ],
)
async def test_patch_refuses_bad_input(
    api: Api, server_cm: ChatML, repo: Path, body: dict[str, Any], message: str
) -> None:
    session = server_cm.new_session(repo, name="strict", agent="scripted")
    status, data = await api("PATCH", f"sessions/{session.id}", body)
    assert status == 400 and data["error"].startswith(message), data
    assert session.record.priority.value == "none"


async def test_patch_rename_to_a_taken_name_is_a_conflict(api: Api, server_cm: ChatML, repo: Path) -> None:
    server_cm.new_session(repo, name="one", agent="scripted")
    two = server_cm.new_session(repo, name="two", agent="scripted")
    status, data = await api("PATCH", f"sessions/{two.id}", {"name": "one"})
    assert status == 409 and data["error"] == "session name 'one' is taken in workspace 'project'"
    assert await api("PATCH", "sessions/ghost", {"pinned": True}) == (
        404, {"error": "no session named 'ghost': see `chatml list --all` for the names"},
    )  # fmt: skip


async def test_delete_refuses_to_lose_work_then_keeps_a_snapshot_with_force(
    api: Api, server_cm: ChatML, repo: Path
) -> None:
    clean = server_cm.new_session(repo, name="clean", agent="scripted")
    clean_path = clean.worktree
    status, data = await api("DELETE", f"sessions/{clean.id}")
    assert status == 200 and data == {"deleted": clean.id, "name": "clean", "snapshot_ref": None}
    assert not clean_path.exists() and git(repo, "branch", "--list", "chatml/clean") == ""
    dirty = server_cm.new_session(repo, name="dirty", agent="scripted")
    (dirty.worktree / "work.txt").write_text("unsaved\n")
    status, data = await api("DELETE", f"sessions/{dirty.id}")
    assert status == 409
    assert data["error"].startswith("deleting 'dirty' would lose") and "delete with force" in data["error"]
    assert (dirty.worktree / "work.txt").exists()
    status, data = await api("DELETE", f"sessions/{dirty.id}", force="true")
    # Snapshot refs get unique names (never overwritten): .../deleted-<time>-<random>.
    assert status == 200 and data["snapshot_ref"].startswith(f"refs/chatml/snapshots/{dirty.id}/deleted-")
    assert "work.txt" in git(repo, "show", "--stat", "--format=", data["snapshot_ref"])
    assert (await api("DELETE", "sessions/ghost"))[0] == 404
    assert (await api("DELETE", f"sessions/{dirty.id}", force="maybe"))[1] == {
        "error": "force must be true or false, not 'maybe'"
    }
