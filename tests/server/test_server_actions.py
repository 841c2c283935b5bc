"""REST actions on a session (archive, unarchive, sync, send, approve, deny, stop, interrupt),
its event log, and the attention queue, with real runner processes and the scripted agent."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from chatml_lab.agents import lease
from chatml_lab.core.manager import ChatML

from ..agent_fixtures import write_script
from ..conftest import commit_file, git
from .conftest import Api, until

ASKS = [
    [
        {"type": "text", "text": "I'll write the greeting."},
        {"type": "tool_use", "name": "Write", "input": {"file_path": "hello.txt", "content": "hi\n"}},
    ],
    [{"type": "text", "text": "Written."}],
]
SLOW = [[{"type": "text", "text": " ".join(f"word{i}" for i in range(200))}]]


async def test_archive_and_unarchive_and_their_conflicts(api: Api, server_cm: ChatML, repo: Path) -> None:
    session = server_cm.new_session(repo, name="box", agent="scripted")
    (session.worktree / "notes.txt").write_text("keep me\n")
    status, data = await api("POST", f"sessions/{session.id}/archive")
    assert status == 200 and data["session"]["archived"] is True
    assert not session.worktree.exists()
    status, data = await api("POST", f"sessions/{session.id}/archive")
    assert status == 409 and data["error"].startswith("session 'box' is archived")
    status, data = await api("POST", f"sessions/{session.id}/unarchive")
    assert status == 200 and data["session"]["archived"] is False
    assert (session.worktree / "notes.txt").read_text() == "keep me\n"
    status, data = await api("POST", f"sessions/{session.id}/unarchive")
    assert (status, data) == (409, {"error": "session 'box' is not archived"})
    status, data = await api("POST", f"sessions/{session.id}/archive", {"force": "yes"})
    assert (status, data) == (400, {"error": "force must be true or false, not 'yes'"})


async def test_sync_counts_drift_after_origin_moves(api: Api, server_cm: ChatML, repo: Path) -> None:
    session = server_cm.new_session(repo, name="drifty", agent="scripted")
    commit_file(session.worktree, "mine.txt", "mine\n")
    for n in range(3):
        commit_file(repo, f"main{n}.txt", f"{n}\n")
    git(repo, "push", "-q", "origin", "main")
    status, data = await api("POST", f"sessions/{session.id}/sync")
    assert status == 200
    assert (data["session"]["ahead"], data["session"]["behind"]) == (1, 3)
    assert data["session"]["drift_checked_at"] is not None
    session.archive()
    status, data = await api("POST", f"sessions/{session.id}/sync")
    assert status == 409 and data["error"].startswith(
        "session 'drifty' is archived: `chatml unarchive drifty`"
    )
    status, data = await api("POST", f"sessions/{session.id}/sync", {"fetch": True, "prune": 1})
    assert status == 400 and data["error"].startswith("unknown field(s) prune for sync")


async def test_send_runs_the_agent_and_the_log_pages(
    api: Api, server_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "hello.json", [[{"type": "text", "text": "Hello from the script."}]])
    session = server_cm.new_session(repo, name="talker", agent=f"scripted:{script}", permission_mode="bypass")
    status, data = await api("POST", f"sessions/{session.id}/send", {"text": "say hello"})
    assert status == 202 and data["session"]["id"] == session.id

    async def finished() -> list[dict[str, object]]:
        _, page = await api("GET", f"sessions/{session.id}/events")
        return [e for e in page["events"] if e["type"] == "result"]

    await until(finished, what="the turn's result")
    _, full = await api("GET", f"sessions/{session.id}/events")
    kinds = [e["type"] for e in full["events"] if e["type"] != "state"]
    assert kinds[0] == "user_message" and "assistant_delta" in kinds and kinds.count("assistant_text") == 1
    text = next(e for e in full["events"] if e["type"] == "assistant_text")
    assert text["data"]["text"] == "Hello from the script." and text["session"] == session.id
    seqs = [e["seq"] for e in full["events"]]
    assert seqs == sorted(seqs) and full["last_seq"] == seqs[-1] and full["more"] is False

    status, first = await api("GET", f"sessions/{session.id}/events", limit=2)
    assert status == 200 and [e["seq"] for e in first["events"]] == seqs[:2] and first["more"] is True
    _, rest = await api("GET", f"sessions/{session.id}/events", after=first["last_seq"])
    assert [e["seq"] for e in rest["events"]] == seqs[2:]
    _, none = await api("GET", f"sessions/{session.id}/events", after=seqs[-1])
    assert none == {"session": session.id, "events": [], "last_seq": seqs[-1], "more": False}


async def test_send_and_events_refuse_bad_input(api: Api, server_cm: ChatML, repo: Path) -> None:
    session = server_cm.new_session(repo, name="quiet", agent="scripted")
    assert await api("POST", f"sessions/{session.id}/send", {}) == (
        400, {"error": "text is required: the message for the agent"},
    )  # fmt: skip
    assert await api("POST", f"sessions/{session.id}/send", {"text": "   "}) == (
        400, {"error": "the message is empty: write what the agent should do"},
    )  # fmt: skip
    assert (await api("GET", f"sessions/{session.id}/events", after=-1))[1] == {
        "error": "after must be a whole number of at least 0, not '-1'"
    }
    assert (await api("GET", f"sessions/{session.id}/events", after="x"))[0] == 400
    assert (await api("GET", f"sessions/{session.id}/events", limit=0))[1] == {
        "error": "limit must be a whole number of at least 1 and at most 5000, not '0'"
    }
    assert (await api("GET", "sessions/ghost/events"))[0] == 404
    session.archive()
    status, data = await api("POST", f"sessions/{session.id}/send", {"text": "hello?"})
    assert status == 409 and data["error"] == "session 'quiet' is archived: unarchive it before you send"


async def test_approval_through_rest_with_the_attention_queue(
    api: Api, server_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "asks.json", ASKS)
    session = server_cm.new_session(repo, name="asker", agent=f"scripted:{script}", priority="high")
    assert (await api("POST", f"sessions/{session.id}/approve"))[1] == {
        "error": "no pending approval request for this session"
    }
    await api("POST", f"sessions/{session.id}/send", {"text": "write hello.txt"})

    async def waiting() -> dict[str, object] | None:
        _, data = await api("GET", f"sessions/{session.id}")
        return data["session"] if data["session"]["pending_approvals"] else None

    got = await until(waiting, what="an approval request")
    assert got["agent_state"] == "waiting"
    [request] = got["pending_approvals"]
    assert request["tool"] == "Write" and request["input"]["file_path"] == "hello.txt"
    _, queue = await api("GET", "attention")
    [item] = queue["attention"]
    assert item["session"] == session.id and item["kind"] == "approval" and item["rank"] == 1
    assert item["reason"] == "waiting for approval: Write hello.txt" and item["priority"] == "high"

    status, data = await api("POST", f"sessions/{session.id}/deny", {"request_id": "nope"})
    assert (status, data) == (404, {"error": "no pending approval request 'nope' for this session"})
    status, data = await api("POST", f"sessions/{session.id}/approve", {"request_id": request["id"]})
    assert status == 200 and data["request_id"] == request["id"] and data["approved"] is True

    async def done() -> bool:
        _, page = await api("GET", f"sessions/{session.id}/events")
        return any(e["type"] == "result" for e in page["events"])

    await until(done, what="the end of the turn")
    assert (session.worktree / "hello.txt").read_text() == "hi\n"
    await until(lambda: server_cm.agent_state(session.id) == "idle", what="idle")
    _, queue = await api("GET", "attention")
    assert queue["attention"] == []


async def test_deny_with_a_reason_reaches_the_agent(
    api: Api, server_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "asks.json", ASKS)
    session = server_cm.new_session(repo, name="denied", agent=f"scripted:{script}")
    await api("POST", f"sessions/{session.id}/send", {"text": "write hello.txt"})
    await until(lambda: session.pending_approvals(), what="an approval request")
    status, data = await api("POST", f"sessions/{session.id}/deny", {"reason": "not now"})
    assert status == 200 and data["approved"] is False
    responses = await until(
        lambda: [e for e in session.events() if e.type.value == "approval_response"], what="the answer"
    )
    assert responses[0].data == {"id": data["request_id"], "approved": False, "reason": "not now"}
    assert (await api("POST", f"sessions/{session.id}/approve", {"reason": "x"}))[0] == 400


async def test_interrupt_and_stop_answer_202_and_stop_the_turn(
    api: Api, server_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "slow.json", SLOW, delay=0.05)
    session = server_cm.new_session(
        repo, name="slowpoke", agent=f"scripted:{script}", permission_mode="bypass"
    )
    await api("POST", f"sessions/{session.id}/send", {"text": "talk"})
    await until(lambda: any(e.type.value == "assistant_delta" for e in session.events()), what="streaming")
    status, data = await api("POST", f"sessions/{session.id}/interrupt")
    assert status == 202 and data["session"]["id"] == session.id
    texts = await until(
        lambda: [e for e in session.events() if e.type.value == "assistant_text"], what="the interrupted text"
    )
    assert texts[0].data.get("interrupted") is True
    status, _ = await api("POST", f"sessions/{session.id}/stop")
    assert status == 202
    assert (await api("POST", "sessions/ghost/stop"))[0] == 404
    assert (await api("POST", f"sessions/{session.id}/stop", {"now": True}))[0] == 400


async def test_attention_ranks_crashed_before_far_behind(
    api: Api, server_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    behind = server_cm.new_session(repo, name="behind", agent="scripted", priority="urgent")
    for n in range(21):
        commit_file(repo, f"m{n}.txt", f"{n}\n")
    git(repo, "push", "-q", "origin", "main")
    await api("POST", f"sessions/{behind.id}/sync")
    script = write_script(tmp_path / "slow.json", SLOW, delay=0.05)
    crashy = server_cm.new_session(repo, name="crashy", agent=f"scripted:{script}", permission_mode="bypass")
    await api("POST", f"sessions/{crashy.id}/send", {"text": "talk"})
    conv = server_cm.agents.conversation(crashy.id).id

    def runner_pid() -> int:
        found = lease.read_lease(server_cm.store, conv)
        return found.pid if found and found.pid > 0 else 0

    pid = await until(runner_pid, what="a runner")
    # Mid-turn: killed before it took the message, a runner leaves the conversation idle, not crashed.
    await until(lambda: any(e.type.value == "assistant_delta" for e in crashy.events()), what="streaming")
    os.kill(pid, signal.SIGKILL)

    async def crashed() -> list[dict[str, object]] | None:
        _, data = await api("GET", "attention")
        return data["attention"] if any(i["kind"] == "crashed" for i in data["attention"]) else None

    queue = await until(crashed, what="the crash in the queue")
    assert [(i["name"], i["kind"]) for i in queue] == [("crashy", "crashed"), ("behind", "behind")]
    assert queue[1]["reason"] == "21 commits behind origin/main: update the branch before it drifts further"
    assert queue[0]["reason"] == "the agent's runner died mid-turn: send a message to resume"


async def test_unknown_actions_and_routes_are_json_404(api: Api, server_cm: ChatML, repo: Path) -> None:
    session = server_cm.new_session(repo, name="plain", agent="scripted")
    status, data = await api("POST", f"sessions/{session.id}/explode")
    assert status == 404 and data["error"].startswith(
        "unknown action 'explode': use one of archive, unarchive"
    )
    assert await api("GET", "nothing/here") == (
        404, {"error": "no ChatML route 'nothing/here': the API is described at /chatml/api/version"},
    )  # fmt: skip


async def test_workspaces_and_backends(api: Api, server_cm: ChatML, repo: Path) -> None:
    server_cm.add_workspace(repo)
    status, data = await api("GET", "workspaces")
    assert status == 200
    [ws] = data["workspaces"]
    assert (ws["name"], ws["path"], ws["default_branch"], ws["remote"]) == (
        "project",
        str(repo),
        "main",
        "origin",
    )
    status, data = await api("GET", "backends")
    assert status == 200
    found = {b["name"]: b for b in data["backends"]}
    assert found["scripted"] == {"name": "scripted", "available": True, "reason": None, "scripted": True}
    assert found["anthropic"]["available"] is False and "ANTHROPIC_API_KEY" in found["anthropic"]["reason"]
    assert data["default"] is None and "no agent is configured" in data["default_reason"]


async def test_an_unexpected_failure_is_a_json_500(api: Api, ext: object, monkeypatch: object) -> None:
    def broken() -> list[object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ext.service, "workspaces", broken)  # type: ignore[attr-defined]
    status, data = await api("GET", "workspaces")
    assert status == 500
    assert data == {"error": "internal error (RuntimeError: disk on fire); see the Jupyter server log"}
