"""The attention queue and the notices, as pure functions over session JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatml_lab.events import Event, EventType
from chatml_lab.server.attention import attention, describe_request, reasons
from chatml_lab.server.notices import event_notices, list_notices
from chatml_lab.server.serialize import relative_to_root


def session(name: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"id-{name}", "name": name, "workspace": "ws", "archived": False, "agent_state": "idle",
        "pending_approvals": [], "priority": "none", "pinned": False, "task_status": "in_progress",
        "pr_status": "none", "pr_number": None, "behind": 0, "health": "ok", "base_ref": "origin/main",
        "updated_at": 100.0,
    }  # fmt: skip
    return {**base, **fields}


def request(tool: str, **tool_input: Any) -> dict[str, Any]:
    return {"id": f"r-{tool}", "tool": tool, "input": tool_input, "seq": 1}


def test_each_kind_with_its_reason() -> None:
    cases = {
        "approval": session(
            "a", agent_state="waiting", pending_approvals=[request("Write", file_path="x.py")]
        ),
        "crashed": session("b", agent_state="crashed"),
        "checks_failed": session("c", checks="failure", pr_number=12, pr_status="open"),
        "conflict": session("d", conflicts=["app.py", "db.py"]),
        "health": session("e", health="worktree missing (deleted by hand?): run `chatml gc` or unarchive"),
        "behind": session("f", behind=25),
        "merged": session("g", pr_status="merged", pr_number=7, task_status="done"),
    }
    expected = {
        "approval": "waiting for approval: Write x.py",
        "crashed": "the agent's runner died mid-turn: send a message to resume",
        "checks_failed": "checks failing on PR #12",
        "conflict": "conflicts with origin/main: app.py, db.py",
        "health": "worktree missing (deleted by hand?): run `chatml gc` or unarchive",
        "behind": "25 commits behind origin/main: update the branch before it drifts further",
        "merged": "PR #7 is merged: archive the session to reclaim its worktree",
    }
    for kind, data in cases.items():
        assert reasons(data) == [(kind, expected[kind])]
    queue = attention(list(reversed(cases.values())))
    assert [item["kind"] for item in queue] == list(cases)  # ranked by kind, whatever the input order
    assert [item["rank"] for item in queue] == list(range(1, 8))


def test_within_a_kind_priority_then_pin_then_longest_waiting() -> None:
    waiting = [request("Bash", command="make test")]
    queue = attention([
        session("low-old", priority="low", agent_state="waiting", pending_approvals=waiting, updated_at=1.0),
        session("urgent", priority="urgent", agent_state="waiting", pending_approvals=waiting, updated_at=50.0),
        session("low-pinned", priority="low", pinned=True, agent_state="waiting", pending_approvals=waiting),
        session("low-new", priority="low", agent_state="waiting", pending_approvals=waiting, updated_at=90.0),
    ])  # fmt: skip
    assert [i["name"] for i in queue] == ["urgent", "low-pinned", "low-old", "low-new"]
    assert queue[0]["reason"] == "waiting for approval: Bash make test"


def test_the_most_behind_first_among_equals() -> None:
    queue = attention([session("a", behind=22), session("b", behind=90), session("c", behind=5)])
    assert [(i["name"], i["kind"]) for i in queue] == [("b", "behind"), ("a", "behind")]
    assert attention([session("a", behind=5)], far_behind=5)[0]["kind"] == "behind"


def test_one_item_per_session_with_the_other_reasons_as_also() -> None:
    [item] = attention([session("many", agent_state="crashed", behind=40, health="detached HEAD at abc")])
    assert item["kind"] == "crashed"
    assert item["also"] == [
        "detached HEAD at abc",
        "40 commits behind origin/main: update the branch before it drifts further",
    ]


def test_what_stays_out_of_the_queue() -> None:
    assert attention([
        session("archived", archived=True, agent_state="crashed"),
        session("fine", behind=3),
        session("finished", task_status="done", behind=80, conflicts=["a.py"]),
        session("cancelled", task_status="cancelled", behind=80),
    ]) == []  # fmt: skip
    waiting = session("asks", agent_state="waiting")  # a state without a stored request still shows
    assert reasons(waiting) == [("approval", "the agent is waiting for an answer")]
    many = [request("Write", file_path=f"f{n}.py") for n in range(5)]
    assert reasons(session("lots", pending_approvals=many))[0][1] == (
        "waiting for approval: Write f0.py, Write f1.py, Write f2.py (+2 more)"
    )


def test_describe_request_picks_the_telling_field() -> None:
    assert describe_request("Edit", {"file_path": "a.py", "old_string": "x"}) == "Edit a.py"
    assert describe_request("Bash", {"command": "git   commit\n -m x"}) == "Bash git commit -m x"
    assert describe_request("Bash", {"command": "x" * 100}).endswith("…")
    assert describe_request("Mystery", None) == "Mystery"


def event(kind: EventType, **data: Any) -> Event:
    return Event(seq=1, conversation_id="c", type=kind, data=data, created_at=0.0)


def test_event_notices() -> None:
    s = session("fix")
    notices = event_notices([
        (s, event(EventType.APPROVAL_REQUEST, id="r", tool="Write", input={"file_path": "a.py"})),
        (s, event(EventType.RESULT, usage={}, cost_usd=0, duration_ms=1)),
        (s, event(EventType.RESULT, usage={}, cost_usd=0, duration_ms=1, is_error=True)),
        (s, event(EventType.STATE, agent_state="crashed")),
        (s, event(EventType.ASSISTANT_DELTA, text="hi")),
        (s, event(EventType.STATE, agent_state="running")),
    ])  # fmt: skip
    assert [(n["kind"], n["level"], n["message"]) for n in notices] == [
        ("approval", "warning", "fix waits for your approval: Write a.py"),
        ("turn_end", "info", "fix finished its turn"),
        ("turn_end", "error", "fix ended its turn with an error"),
        ("crashed", "error", "the agent of fix crashed: send a message to resume"),
    ]
    assert all(n["session"] == "id-fix" for n in notices)


def test_list_notices_for_a_merge_and_failing_checks() -> None:
    before = {"id-a": session("a", pr_status="open", pr_number=3, checks="pending"), "id-b": session("b")}
    after = {
        "id-a": session("a", pr_status="merged", pr_number=3, checks="failure"),
        "id-b": session("b"),
        "id-new": session("new", pr_status="merged"),
    }
    assert [(n["kind"], n["level"], n["message"]) for n in list_notices(before, after)] == [
        ("pr_merged", "success", "PR #3 of a was merged"),
        ("checks_failed", "error", "checks are failing on PR #3 of a"),
    ]
    assert list_notices(after, after) == []


def test_relative_to_root(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert relative_to_root(tmp_path / "a" / "b", tmp_path) == "a/b"
    assert relative_to_root(tmp_path, tmp_path) == ""
    assert relative_to_root(tmp_path / "a", tmp_path / "a" / "b") is None
    assert relative_to_root(tmp_path, None) is None
