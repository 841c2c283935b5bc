"""Runner processes end to end: real subprocesses, the real SDK, the scripted server over HTTP."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatml_lab.agents import lease
from chatml_lab.agents.scripted_server import ScriptedServer
from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType
from chatml_lab.models import AgentState

from .agent_fixtures import agent_cm, types, wait_for, write_script
from .conftest import git

__all__ = ["agent_cm"]

THREE_TURNS = [
    [
        {"type": "text", "text": "I'll write the greeting file."},
        {"type": "tool_use", "name": "Write", "input": {"file_path": "hello.txt", "content": "hi\n"}},
    ],
    [
        {
            "type": "tool_use",
            "name": "Bash",
            "input": {"command": "git add hello.txt && git commit -qm 'Add hello'"},
        }
    ],
    [{"type": "text", "text": "Done: hello.txt is committed."}],
]

SLOW_TEXT = [
    [{"type": "text", "text": " ".join(f"word{i}" for i in range(60))}],
    [{"type": "text", "text": "Resumed."}],
]


def _runner_pid(cm: ChatML, conversation_id: str) -> int:
    def pid() -> int:
        found = lease.read_lease(cm.store, conversation_id)
        return found.pid if found and found.pid > 0 else 0

    return int(wait_for(pid, what="a runner pid"))


def _serving_lines(cm: ChatML, conversation_id: str) -> int:
    log = cm.agents.log_path(conversation_id)
    return sum("serving" in line for line in log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.usefixtures("engine")
def test_three_turn_conversation_edits_and_commits_in_the_worktree(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "three.json", THREE_TURNS)
    session = agent_cm.new_session(repo, name="hello", agent=f"scripted:{script}", permission_mode="bypass")
    session.send("Write hello.txt and commit it")
    assert session.wait(timeout=60) == "idle"

    events = session.events()
    assert types(events) == [
        "user_message",
        "assistant_text", "tool_start", "tool_end",
        "tool_start", "tool_end",
        "assistant_text", "result",
    ]  # fmt: skip
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    first_text = next(e for e in events if e.type is EventType.ASSISTANT_TEXT)
    deltas = [e for e in events if e.type is EventType.ASSISTANT_DELTA and e.seq < first_text.seq]
    assert "".join(d.data["text"] for d in deltas) == first_text.data["text"]
    assert first_text.data.get("scripted") is True
    starts = [e for e in events if e.type is EventType.TOOL_START]
    ends = [e for e in events if e.type is EventType.TOOL_END]
    assert [s.data["tool"] for s in starts] == ["Write", "Bash"]
    assert [e.data["id"] for e in ends] == [s.data["id"] for s in starts]
    assert all(e.data["ok"] for e in ends)
    result = next(e for e in events if e.type is EventType.RESULT)
    assert result.data["usage"]["output_tokens"] > 0
    assert result.data["cost_usd"] == 0.0

    assert (session.worktree / "hello.txt").read_text() == "hi\n"
    assert not (repo / "hello.txt").exists()
    assert git(session.worktree, "log", "-1", "--format=%s").strip() == "Add hello"
    assert git(repo, "status", "--porcelain") == ""
    session.sync()
    row = agent_cm.table().set_index("name").loc["hello"]
    assert row["ahead"] == 1 and row["behind"] == 0
    assert row["agent_state"] == "idle"


@pytest.mark.usefixtures("engine")
def test_default_mode_waits_for_approval_deny_then_approve(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "approve.json",
        [
            [{"type": "tool_use", "name": "Write", "input": {"file_path": "denied.txt", "content": "no\n"}}],
            [
                {
                    "type": "tool_use",
                    "name": "Write",
                    "input": {"file_path": "approved.txt", "content": "yes\n"},
                }
            ],
            [{"type": "text", "text": "Finished."}],
        ],
    )
    session = agent_cm.new_session(repo, name="asks", agent=f"scripted:{script}")
    session.send("write two files")
    assert session.wait(timeout=60) == "waiting"
    assert session.agent_state == "waiting"
    [request] = session.pending_approvals()
    assert request.data["tool"] == "Write"
    session.deny(reason="not that file")
    assert session.wait(timeout=60) == "waiting"
    assert not (session.worktree / "denied.txt").exists()
    denied_end = next(e for e in session.events() if e.type is EventType.TOOL_END)
    assert denied_end.data["ok"] is False
    session.approve()
    assert session.wait(timeout=60) == "idle"
    assert (session.worktree / "approved.txt").read_text() == "yes\n"
    responses = [e.data["approved"] for e in session.events() if e.type is EventType.APPROVAL_RESPONSE]
    assert responses == [False, True]


@pytest.mark.usefixtures("engine")
def test_sigkill_mid_turn_shows_crashed_then_resumes(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "slow.json", SLOW_TEXT, delay=0.05)
    session = agent_cm.new_session(repo, name="crashy", agent=f"scripted:{script}", permission_mode="bypass")
    conv = agent_cm.agents.conversation(session.id)
    session.send("talk slowly")
    pid = _runner_pid(agent_cm, conv.id)
    wait_for(lambda: any(e.type is EventType.ASSISTANT_DELTA for e in session.events()), what="first delta")
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: session.agent_state == "crashed", timeout=5, what="crashed state")
    assert time.monotonic() - killed < 5
    errors = [e for e in session.events() if e.type is EventType.ERROR]
    assert errors and "died" in errors[-1].data["message"]
    assert session.agent_state != "running"

    session.send("please continue")
    assert session.wait(timeout=60) == "idle"
    assert [e.type for e in session.events()][-2:] == [EventType.RESULT, EventType.STATE]
    assert _serving_lines(agent_cm, conv.id) == 2


@pytest.mark.usefixtures("engine")
def test_two_clients_sending_at_once_start_one_runner(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "two.json", [[{"type": "text", "text": "one"}], [{"type": "text", "text": "two"}]]
    )
    session = agent_cm.new_session(repo, name="busy", agent=f"scripted:{script}")
    conv = agent_cm.agents.conversation(session.id)
    cli = [sys.executable, "-m", "chatml_lab.cli", "send", "busy"]
    procs = [
        subprocess.Popen([*cli, f"message {i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(2)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    # The CLIs have exited; the runner they started goes on and serves both messages.
    assert session.wait(timeout=60) == "idle"
    assert [e.data["text"] for e in session.events() if e.type is EventType.USER_MESSAGE] == [
        "message 0",
        "message 1",
    ] or [e.data["text"] for e in session.events() if e.type is EventType.USER_MESSAGE] == [
        "message 1",
        "message 0",
    ]
    assert _serving_lines(agent_cm, conv.id) == 1


def test_runner_exits_when_idle_and_restarts_with_history(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "idle.json", [[{"type": "text", "text": "first"}], [{"type": "text", "text": "second"}]]
    )
    session = agent_cm.new_session(repo, name="sleepy", agent=f"scripted:{script}")
    conv = agent_cm.agents.conversation(session.id)
    session.send("one")
    assert session.wait(timeout=60) == "idle"
    pid = _runner_pid(agent_cm, conv.id)
    wait_for(lambda: lease.read_lease(agent_cm.store, conv.id) is None, timeout=15, what="idle exit")
    wait_for(lambda: not lease.pid_is_runner(pid), timeout=5, what="process exit")
    session.send("two")
    assert session.wait(timeout=60) == "idle"
    texts = [e.data["text"] for e in session.events() if e.type is EventType.ASSISTANT_TEXT]
    assert texts == ["first", "second"]  # the second runner sent the whole history
    assert _serving_lines(agent_cm, conv.id) == 2


@pytest.mark.usefixtures("engine")
def test_interrupt_mid_stream_keeps_the_conversation_usable(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "interrupt.json", SLOW_TEXT, delay=0.05)
    session = agent_cm.new_session(repo, name="chatty", agent=f"scripted:{script}")
    session.send("talk")
    wait_for(lambda: any(e.type is EventType.ASSISTANT_DELTA for e in session.events()), what="first delta")
    session.interrupt()
    assert session.wait(timeout=30) == "idle"
    result = [e for e in session.events() if e.type is EventType.RESULT][-1]
    assert result.data["stop_reason"] == "interrupted"
    session.send("go on")
    assert session.wait(timeout=60) == "idle"
    assert [e.data["text"] for e in session.events() if e.type is EventType.ASSISTANT_TEXT][-1] == "Resumed."


@pytest.mark.usefixtures("engine")
def test_stop_ends_the_runner(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "stop.json", SLOW_TEXT, delay=0.05)
    session = agent_cm.new_session(repo, name="stopper", agent=f"scripted:{script}")
    conv = agent_cm.agents.conversation(session.id)
    session.send("talk")
    pid = _runner_pid(agent_cm, conv.id)
    session.stop()
    assert session.wait(timeout=30) == "stopped"
    wait_for(lambda: not lease.pid_is_runner(pid), timeout=10, what="runner exit")


def test_startup_reconciles_stale_leases(agent_cm: ChatML, repo: Path) -> None:
    session = agent_cm.new_session(repo, name="ghost")
    conv = agent_cm.agents.conversation(session.id)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    agent_cm.store.update_conversation(conv.id, agent_state="running")
    agent_cm.store.execute(
        "INSERT INTO leases (conversation_id, pid, token, started_at, heartbeat_at) VALUES (?, ?, 't', 0, 0)",
        (conv.id, dead.pid),
    )
    fresh = ChatML(data_dir=agent_cm.data_dir)
    try:
        assert fresh.store.conversation(conv.id).agent_state is AgentState.CRASHED  # type: ignore[union-attr]
        assert [e.type for e in fresh.session("ghost").events()][-2:] == [EventType.ERROR, EventType.STATE]
    finally:
        fresh.close()


def test_api_key_never_reaches_database_events_or_logs(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    secret = "sk-ant-test-DO-NOT-LEAK-0123456789"
    os.environ["ANTHROPIC_API_KEY"] = secret
    try:
        script = write_script(
            tmp_path / "leak.json",
            [
                [
                    {
                        "type": "tool_use",
                        "name": "Bash",
                        "input": {"command": "echo key=$ANTHROPIC_API_KEY; env | grep ANTHROPIC || true"},
                    }
                ],
                [{"type": "text", "text": "checked"}],
            ],
        )
        session = agent_cm.new_session(
            repo, name="leaky", agent=f"scripted:{script}", permission_mode="bypass"
        )
        session.send(f"do not echo {secret}")
        assert session.wait(timeout=60) == "idle"
    finally:
        del os.environ["ANTHROPIC_API_KEY"]
    scanned = 0
    for path in agent_cm.data_dir.rglob("*"):
        if path.is_file():
            scanned += 1
            assert secret.encode() not in path.read_bytes(), path
    assert scanned >= 2
    assert all(secret not in str(e.data) for e in session.events())
    # The check is real: the tool ran, and its environment held no key to print (DESIGN §5).
    outputs = [e.data["output"] for e in session.events() if e.type is EventType.TOOL_END]
    assert any(out.splitlines()[0] == "key=" and "ANTHROPIC_API_KEY" not in out for out in outputs)


@pytest.mark.skipif(
    importlib.util.find_spec("claude_agent_sdk") is None, reason="claude-agent-sdk not installed"
)
def test_claude_code_through_the_runner_keeps_its_session_id(
    agent_cm: ChatML, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    turns = [
        [
            {
                "type": "tool_use",
                "name": "Write",
                "input": {"file_path": "cc.txt", "content": "from claude code\n"},
            }
        ],
        [{"type": "text", "text": "written"}],
        [{"type": "text", "text": "second turn"}],
    ]
    with ScriptedServer({"turns": turns}) as server:
        for name, value in {
            "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-test-claude-code-0000",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
            "CLAUDE_CODE_MAX_RETRIES": "0",
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        session = agent_cm.new_session(repo, name="cc", agent="claude-code", permission_mode="accept_edits")
        session.send("write cc.txt")
        assert session.wait(timeout=120) == "idle"
        assert (session.worktree / "cc.txt").read_text() == "from claude code\n"
        conv = agent_cm.agents.conversation(session.id)
        assert conv.agent_session_id
        session.send("again")
        assert session.wait(timeout=120) == "idle"
    assert agent_cm.agents.conversation(session.id).agent_session_id == conv.agent_session_id
    texts = [e.data["text"] for e in session.events() if e.type is EventType.ASSISTANT_TEXT]
    assert texts[-1] == "second turn"
    assert [e.type for e in session.events() if e.type is EventType.ERROR] == []


def test_unanswered_approval_is_denied_after_the_timeout(repo: Path, tmp_path: Path) -> None:
    from chatml_lab.config import Config

    from .agent_fixtures import kill_runners

    cm = ChatML(data_dir=tmp_path / "data", config=Config(approval_timeout=1.0, runner_idle_timeout=2.0))
    try:
        script = write_script(
            tmp_path / "timeout.json",
            [
                [{"type": "tool_use", "name": "Bash", "input": {"command": "touch ran.txt"}}],
                [{"type": "text", "text": "gave up"}],
            ],
        )
        session = cm.new_session(
            repo, name="patient", agent=f"scripted:{script}", permission_mode="accept_edits"
        )
        session.send("run it")
        wait_for(session.pending_approvals, what="an approval request")
        assert session.wait(timeout=60) in ("waiting", "idle")
        wait_for(lambda: session.agent_state == "idle", timeout=30, what="the denial after the timeout")
        [response] = [e for e in session.events() if e.type is EventType.APPROVAL_RESPONSE]
        assert response.data == {"id": response.data["id"], "approved": False, "reason": "timed out"}
        assert not (session.worktree / "ran.txt").exists()
        conv = cm.agents.conversation(session.id)
        wait_for(lambda: lease.read_lease(cm.store, conv.id) is None, timeout=15, what="idle exit")
    finally:
        kill_runners(cm)
        cm.close()


def test_a_runner_that_cannot_start_is_reported_not_waited_for(
    agent_cm: ChatML, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "never"}]])
    session = agent_cm.new_session(repo, name="broken", agent=f"scripted:{script}")
    shadow = tmp_path / "shadow" / "chatml_lab"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('broken install')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))  # the runner's interpreter imports this one
    session.send("hello")
    started = time.monotonic()
    assert session.wait(timeout=30) == "crashed"
    assert time.monotonic() - started < 10  # not the 30 s a claim is otherwise trusted for
    [error] = [e for e in session.events() if e.type is EventType.ERROR]
    assert "exited at start-up" in error.data["message"] and "broken install" in error.data["message"]
    monkeypatch.delenv("PYTHONPATH")
    session.send("hello again")  # the message that was never read is served now, with the new one
    assert session.wait(timeout=60) == "idle"
    assert [e.data["text"] for e in session.events() if e.type is EventType.USER_MESSAGE] == [
        "hello",
        "hello again",
    ]
