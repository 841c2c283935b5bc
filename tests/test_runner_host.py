"""The per-user runner host: started on demand, forks isolated runners, exits when idle, and never
makes a runner's state lie (real processes, the real SDK, the scripted server over HTTP)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from chatml_lab.agents import lease
from chatml_lab.config import Config
from chatml_lab.core import runner_host
from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType

from .agent_fixtures import agent_cm, kill_runners, wait_for, write_script

__all__ = ["agent_cm"]

SLOW = [
    [{"type": "text", "text": " ".join(f"word{i}" for i in range(80))}],
    [{"type": "text", "text": "again"}],
]


def _runner_pid(cm: ChatML, conversation_id: str) -> int:
    def pid() -> int:
        found = lease.read_lease(cm.store, conversation_id)
        return found.pid if found and found.pid > 0 else 0

    return int(wait_for(pid, what="a runner pid"))


def _host_pid(cm: ChatML) -> int:
    return int(wait_for(lambda: (runner_host.host_pids(cm.data_dir) or [0])[0], what="a runner host"))


def test_the_host_starts_on_demand_and_forks_an_isolated_runner(
    agent_cm: ChatML, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner_host.host_pids(agent_cm.data_dir) == []
    command = 'echo "$CHATML_TEST_MARK $CHATML_DATA_DIR" > env.txt'
    turns = [[{"type": "text", "text": "ok " * 40}, {"type": "tool_use", "name": "Bash", "input": {"command": command}}],
             [{"type": "text", "text": "done"}]]  # fmt: skip
    script = write_script(tmp_path / "s.json", turns, delay=0.02)
    session = agent_cm.new_session(repo, name="forked", agent=f"scripted:{script}", permission_mode="bypass")
    conv = agent_cm.agents.conversation(session.id)
    monkeypatch.setenv("CHATML_TEST_MARK", "from-the-client")  # the client's env reaches the runner
    session.send("talk")
    pid = _runner_pid(agent_cm, conv.id)
    host = _host_pid(agent_cm)
    runner = psutil.Process(pid)
    assert runner.ppid() == host  # forked by the host, not started as a fresh interpreter
    assert lease.pid_is_runner(pid) and not lease.pid_is_runner(host)
    assert os.getsid(pid) == pid and os.getpgid(pid) == pid  # its own session and process group
    assert Path(runner.cwd()) == session.worktree.resolve()
    assert session.wait(timeout=60) == "idle"
    seen = [(e.type.value, e.data) for e in session.events() if e.type is not EventType.ASSISTANT_DELTA]
    assert any(e.type is EventType.ASSISTANT_DELTA for e in session.events()), seen
    # The client's environment, not the host's, is what the agent's tools see.
    assert (session.worktree / "env.txt").read_text().split() == ["from-the-client", str(agent_cm.data_dir)]
    log = agent_cm.agents.log_path(conv.id).read_text()
    assert f"runner pid {pid} serving" in log  # its output went to the conversation's log

    # A second conversation while the host is up: forked by the same host.
    other = agent_cm.new_session(repo, name="second", agent=f"scripted:{script}", permission_mode="bypass")
    other.send("talk too")
    second = _runner_pid(agent_cm, agent_cm.agents.conversation(other.id).id)
    assert psutil.Process(second).ppid() == host
    assert runner_host.host_pids(agent_cm.data_dir) == [host]
    assert other.wait(timeout=60) == "idle"


def test_the_host_exits_when_idle_leaving_no_process(repo: Path, tmp_path: Path) -> None:
    cm = ChatML(data_dir=tmp_path / "data", config=Config(runner_idle_timeout=0.5, host_idle_timeout=0.5))
    try:
        script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "short"}]])
        session = cm.new_session(repo, name="brief", agent=f"scripted:{script}")
        session.send("hi")
        host = _host_pid(cm)
        assert session.wait(timeout=60) == "idle"
        wait_for(lambda: not psutil.pid_exists(host) or psutil.Process(host).status() == "zombie",
                 timeout=20, what="the host's idle exit")  # fmt: skip
        assert runner_host.host_pids(cm.data_dir) == []
        assert not list((cm.data_dir / "run").glob("host-*.sock"))
        assert cm.store.leases() == []
        # The next message starts a new host on demand.
        session.send("again")
        assert _host_pid(cm) != host
        assert session.wait(timeout=60) == "idle"
    finally:
        kill_runners(cm)
        cm.close()


def test_a_killed_forked_runner_shows_crashed_and_the_host_reaps_it(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", SLOW, delay=0.05)
    session = agent_cm.new_session(repo, name="killed", agent=f"scripted:{script}")
    conv = agent_cm.agents.conversation(session.id)
    session.send("talk slowly")
    pid = _runner_pid(agent_cm, conv.id)
    host = _host_pid(agent_cm)
    wait_for(lambda: any(e.type is EventType.ASSISTANT_DELTA for e in session.events()), what="first delta")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: session.agent_state == "crashed", timeout=5, what="crashed state")
    wait_for(lambda: not psutil.pid_exists(pid), timeout=5, what="the host reaping its runner")
    assert psutil.Process(host).is_running()
    session.send("please continue")
    assert session.wait(timeout=60) == "idle"
    assert [e.type for e in session.events()][-2:] == [EventType.RESULT, EventType.STATE]


def test_killing_the_host_leaves_its_runners_serving_and_truthful(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", SLOW, delay=0.05)
    session = agent_cm.new_session(repo, name="orphan", agent=f"scripted:{script}")
    conv = agent_cm.agents.conversation(session.id)
    session.send("talk slowly")
    pid = _runner_pid(agent_cm, conv.id)
    host = _host_pid(agent_cm)
    wait_for(lambda: any(e.type is EventType.ASSISTANT_DELTA for e in session.events()), what="first delta")
    os.kill(host, signal.SIGKILL)
    wait_for(
        lambda: not psutil.pid_exists(host) or psutil.Process(host).status() == "zombie", what="host gone"
    )
    # The runner is alive and still the truth: running, not crashed, and it finishes its turn.
    assert lease.pid_is_runner(pid)
    assert session.agent_state == "running"
    assert session.wait(timeout=60) == "idle"
    assert [e.type for e in session.events()][-2:] == [EventType.RESULT, EventType.STATE]
    assert not [e for e in session.events() if e.type is EventType.ERROR]
    # Once that runner left, the next message starts a new host (the old socket is stale), and a
    # runner killed together with its host is still reported as crashed.
    wait_for(lambda: lease.read_lease(agent_cm.store, conv.id) is None, timeout=15, what="idle exit")
    session.send("and again")
    second = _runner_pid(agent_cm, conv.id)
    new_host = _host_pid(agent_cm)
    assert new_host != host and second != pid
    os.kill(second, signal.SIGKILL)
    os.kill(new_host, signal.SIGKILL)
    wait_for(lambda: session.agent_state == "crashed", timeout=10, what="crashed state")


def test_without_the_host_runners_start_as_their_own_processes(repo: Path, tmp_path: Path) -> None:
    cm = ChatML(data_dir=tmp_path / "data", config=Config(runner_host=False, runner_idle_timeout=1.0))
    try:
        script = write_script(tmp_path / "s.json", SLOW, delay=0.02)
        session = cm.new_session(repo, name="plain", agent=f"scripted:{script}")
        session.send("talk")
        pid = _runner_pid(cm, cm.agents.conversation(session.id).id)
        assert psutil.Process(pid).ppid() == os.getpid()
        assert runner_host.host_pids(cm.data_dir) == []
        assert session.wait(timeout=60) == "idle"
    finally:
        kill_runners(cm)
        cm.close()


def test_the_host_refuses_a_second_host_on_its_socket(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.json", SLOW)
    session = agent_cm.new_session(repo, name="one", agent=f"scripted:{script}")
    session.send("hi")
    host = _host_pid(agent_cm)
    extra = runner_host.start_host(agent_cm.data_dir, 5.0)
    assert extra.wait(timeout=60) == 0  # it saw the live host and left
    assert runner_host.host_pids(agent_cm.data_dir) == [host]
    started = time.monotonic()
    assert session.wait(timeout=60) == "idle"
    assert time.monotonic() - started < 60


def test_a_forked_runner_that_cannot_start_is_reported_by_the_host(agent_cm: ChatML, repo: Path) -> None:
    session = agent_cm.new_session(repo, name="nowhere")
    conv = agent_cm.agents.conversation(session.id)
    token = "claim-of-a-doomed-runner"
    assert lease.claim(agent_cm.store, conv.id, token, agent_cm.config.lease_stale_after)
    argv = [conv.id, "--data-dir", str(agent_cm.data_dir), "--token", token]
    log = agent_cm.agents.log_path(conv.id)
    log.parent.mkdir(parents=True, exist_ok=True)
    missing = agent_cm.data_dir / "no-such-worktree"  # the fork cannot enter it: it dies before its lease
    pid, host = runner_host.spawn(agent_cm.data_dir, argv, missing, dict(os.environ), log, 5.0)
    try:
        assert pid is not None
        wait_for(lambda: session.agent_state == "crashed", timeout=30, what="the failed start reported")
        [error] = [e for e in session.events() if e.type is EventType.ERROR]
        assert "exited at start-up (code 1)" in error.data["message"]
        assert "no-such-worktree" in log.read_text()  # the traceback went to the conversation's log
        assert lease.read_lease(agent_cm.store, conv.id) is None
    finally:
        if host is not None:
            host.kill()
            host.wait(timeout=10)


def test_warm_up_starts_the_host_before_the_first_message(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "ready"}]])
    session = agent_cm.new_session(repo, name="early", agent=f"scripted:{script}")
    assert runner_host.host_pids(agent_cm.data_dir) == []
    session.warm_up()  # what the chat panel does when it opens
    host = _host_pid(agent_cm)
    session.warm_up()  # a second call finds it and starts nothing
    session.send("hi")
    pid = _runner_pid(agent_cm, agent_cm.agents.conversation(session.id).id)
    assert psutil.Process(pid).ppid() == host
    assert runner_host.host_pids(agent_cm.data_dir) == [host]
    assert session.wait(timeout=60) == "idle"
