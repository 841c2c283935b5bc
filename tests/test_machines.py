"""Machines sharing one database (issue 13), simulated on one box: two data dirs, two machine
names, two runner hosts (real processes), one database: a shared SQLite file and, where the
PostgreSQL fixture gives one, a PostgreSQL database.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.agents import lease
from chatml_lab.cli import main
from chatml_lab.config import Config
from chatml_lab.core import agents as agent_client
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import MachineUnreachableError, WorkWouldBeLostError
from chatml_lab.events import EventType
from chatml_lab.models import AgentState
from chatml_lab.storage.leases import Lease

from .agent_fixtures import wait_for, write_script
from .conftest import commit_file, git
from .machines import STALE_AFTER, FakeMachine, wait_reachable
from .test_sessions_setup import write_config


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The one database both machines use: a SQLite file (``sqlite:////abs/path.db``; the hosts
    poll it), then a fresh PostgreSQL database (the hosts LISTEN).
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'chatml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def two(shared_url: str, tmp_path: Path, hermetic: Path) -> Iterator[tuple[FakeMachine, FakeMachine]]:
    """Machines ``a`` and ``b`` on the shared database (``a`` first: it holds the repository)."""
    (tmp_path / "shared").mkdir(exist_ok=True)
    made: list[FakeMachine] = []
    try:
        made.append(FakeMachine.make("a", tmp_path, shared_url))
        made.append(FakeMachine.make("b", tmp_path, shared_url))
        yield made[0], made[1]
    finally:
        for machine in made:
            machine.stop()


def _stored(machine: FakeMachine, conversation_id: str) -> AgentState:
    found = machine.cm.store.conversation(conversation_id)
    assert found is not None
    return found.agent_state


def _row(machine: FakeMachine, name: str, include_archived: bool = False) -> dict[str, object]:
    return next(r for r in machine.cm.rows(include_archived) if r["name"] == name)


def test_a_session_of_a_is_listed_on_b_and_b_drives_its_agent_through_as_host(
    two: tuple[FakeMachine, FakeMachine], repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, shared_url: str,
) -> None:  # fmt: skip
    a, b = two
    script = write_script(
        tmp_path / "s.json",
        [
            [{"type": "tool_use", "name": "Write", "input": {"file_path": "x.txt", "content": "x\n"}}],
            [{"type": "text", "text": "wrote x"}],
        ],
    )
    made = a.cm.new_session(repo, name="far", agent=f"scripted:{script}")
    a.start_host()
    wait_reachable(a, b)

    row = _row(b, "far")  # listed on b, with the machine that holds its worktree
    assert row["machine"] == "a" and row["agent_state"] == "idle" and row["health"] == "ok"
    assert _row(a, "far")["machine"] == "a"
    monkeypatch.setenv("CHATML_DATA_DIR", str(b.data_dir))
    monkeypatch.setenv("CHATML_MACHINE", "b")
    monkeypatch.setenv("CHATML_DATABASE_URL", shared_url)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "machine" in out.splitlines()[0] and "far" in out and " a " in out

    far = b.cm.session("far")
    far.send("write x")  # from b: queued, and a's host starts the runner on a
    assert len(agent_client._STARTED) == 0  # b started no runner (nor any host)
    wait_for(lambda: far.agent_state == "waiting", timeout=60, what="the approval request")
    held = b.cm.store.lease(b.cm.agents.conversation(made.id).id)
    assert held is not None and held.machine == "a"
    far.approve()  # from b
    wait_for(lambda: far.agent_state == "idle" and (made.worktree / "x.txt").exists(), timeout=60,
             what="the approved write on a")  # fmt: skip
    texts = [e.data.get("text") for e in far.events() if e.type is EventType.ASSISTANT_TEXT]
    assert "wrote x" in texts
    assert (made.worktree / "x.txt").read_text() == "x\n"


def test_b_archives_on_a_and_a_silent_machine_is_unreachable_then_comes_back(
    two: tuple[FakeMachine, FakeMachine], repo: Path
) -> None:
    a, b = two
    kept = a.cm.new_session(repo, name="kept")
    other = a.cm.new_session(repo, name="other")
    (kept.worktree / "notes.txt").write_text("uncommitted work\n")
    a.start_host(cli=True)  # `chatml host` on a
    wait_reachable(a, b)

    archived = b.cm.archive(kept.id)  # asked on b, done on a
    assert archived.archived and archived.machine == "a"
    assert not kept.worktree.exists()
    snapshot = archived.snapshot_ref
    assert snapshot and git(repo, "rev-parse", "--verify", snapshot).strip()  # the work, on a's repository
    assert "notes.txt" in git(repo, "show", "--stat", "--format=", snapshot)

    created = b.cm.new_session(a.cm.workspace(repo).name, name="made-from-b")  # created on a
    assert created.record.machine == "a" and created.worktree.is_dir()

    # a's host dies without a word: within the bound its sessions are unreachable on b, never running.
    conv = a.cm.agents.conversation(other.id).id
    a.cm.store.update_conversation(conv, agent_state="running")
    dead = _dead_pid()
    assert a.cm.store.take_lease(conv, "t-dead", dead, lambda current: True)
    killed_at = time.monotonic()
    a.kill_host()
    wait_for(lambda: _row(b, "other")["agent_state"] == "unreachable", timeout=30, what="unreachable")
    assert time.monotonic() - killed_at < STALE_AFTER + 5  # the bound, plus a loaded box's slack
    assert b.cm.session("other").agent_state == "unreachable"
    assert _stored(b, conv) is AgentState.RUNNING  # shown, never written by b
    with pytest.raises(MachineUnreachableError) as refused:
        b.cm.session("other").send("hello")
    assert "'a'" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(MachineUnreachableError, match="machine 'a' is unreachable"):
        b.cm.archive(other.id)
    assert b.cm.store.requests("a", "pending") == []  # nothing left queued for a

    a.start_host(cli=True)  # a is back: its host reconciles its sessions as after a restart
    wait_for(lambda: _stored(b, conv) is AgentState.CRASHED, timeout=60, what="a's reconcile")
    assert b.cm.store.lease(conv) is None  # the dead runner's lease went with it, on a
    assert _row(b, "other")["agent_state"] == "crashed"
    assert _row(b, "made-from-b")["agent_state"] == "idle"


def test_git_operations_asked_on_b_run_on_a_and_a_s_errors_come_back_as_they_are(
    two: tuple[FakeMachine, FakeMachine], repo: Path
) -> None:
    a, b = two
    work = a.cm.new_session(repo, name="work")
    commit_file(work.worktree, "feature.py", "x = 1\n", "a feature")
    (work.worktree / "draft.txt").write_text("not committed\n")
    a.start_host()
    wait_reachable(a, b)
    synced = b.cm.sync(work.id)  # fetch and count on a
    assert (synced.ahead, synced.behind) == (1, 0) and synced.drift_checked_at is not None
    with pytest.raises(WorkWouldBeLostError, match="on machine 'a'") as lost:  # a's refusal, as a raised it
        b.cm.delete(work.id)
    assert "\n" not in str(lost.value)
    renamed = b.cm.update(work.id, name="renamed")  # the branch and the worktree move on a
    assert renamed.name == "renamed" and renamed.branch.endswith("/renamed")
    assert "renamed" in git(repo, "branch", "--list", renamed.branch) and renamed.worktree_path.is_dir()
    assert b.cm.disk_usage(work.id) > 0
    assert b.cm.archive(work.id).archived
    back = b.cm.unarchive(work.id)  # the snapshot comes back on a
    assert not back.archived and (back.worktree_path / "draft.txt").read_text() == "not committed\n"
    assert b.cm.store.requests("a", "running") == [] and b.cm.store.requests("a", "pending") == []
    assert b.cm.store.lease(b.cm.agents.conversation(work.id).id) is None  # b started nothing


def test_a_machine_lost_mid_request_refuses_the_asker_and_its_return_settles_the_request(
    two: tuple[FakeMachine, FakeMachine], repo: Path
) -> None:
    a, b = two
    write_config(repo, {"archive": ["sleep 5"]})  # an archive that takes a while on a
    slow = a.cm.new_session(repo, name="slow")
    a.start_host()
    wait_reachable(a, b)
    outcome: list[BaseException] = []

    def archive_from_b() -> None:
        try:
            b.cm.archive(slow.id)
        except BaseException as exc:
            outcome.append(exc)

    asking = threading.Thread(target=archive_from_b)
    asking.start()
    [request] = wait_for(lambda: [r for r in b.cm.store.requests("a", "running") if r.pid != a.host_pid()],
                         timeout=60, what="a's worker on the request")  # fmt: skip
    assert request.pid is not None
    a.kill_host()
    os.killpg(request.pid, signal.SIGKILL)  # the machine is gone: its worker (and script) too
    asking.join(timeout=60)
    assert not asking.is_alive() and len(outcome) == 1
    assert isinstance(outcome[0], MachineUnreachableError) and "machine 'a'" in str(outcome[0])
    assert "\n" not in str(outcome[0])
    a.start_host()  # back: the request nobody answers is answered with what happened
    settled = wait_for(lambda: (r := b.cm.store.request(request.id)) and r.finished and r, timeout=60,
                       what="the request settled")  # fmt: skip
    assert settled.state == "failed" and "stopped while it ran archive" in str(settled.error)
    assert not b.cm.record(slow.id).archived and slow.worktree.is_dir()  # nothing half-done


def test_rows_written_before_machines_belong_to_the_first_machine_that_opens_the_store(
    cm: ChatML, repo: Path
) -> None:
    session = cm.new_session(repo, name="old")
    cm.store.execute("UPDATE sessions SET machine = NULL")  # as migration 7 leaves existing rows
    cm.store.execute("UPDATE workspaces SET machine = NULL")
    assert cm.store.unowned_rows()
    with ChatML(data_dir=cm.data_dir, config=Config(machine="first")) as first:
        assert first.record(session.id).machine == "first"
        assert first.workspace(repo).machine == "first"
        assert [m.name for m in first.store.machines()] == sorted({cm.config.machine, "first"})
    with ChatML(data_dir=cm.data_dir, config=Config(machine="second")) as second:
        assert second.record(session.id).machine == "first"  # adopted once, by the first


def test_b_interrupts_and_stops_as_runner_and_waits_for_it(
    two: tuple[FakeMachine, FakeMachine], repo: Path, tmp_path: Path
) -> None:
    a, b = two
    words = " ".join(f"word{i}" for i in range(80))
    slow = [
        [{"type": "text", "text": words}],
        [{"type": "text", "text": "Resumed."}],
        [{"type": "text", "text": words}],
    ]
    script = write_script(tmp_path / "slow.json", slow, delay=0.05)
    made = a.cm.new_session(repo, name="chatty", agent=f"scripted:{script}")
    a.start_host()
    wait_reachable(a, b)
    chatty = b.cm.session("chatty")
    chatty.send("talk")
    wait_for(lambda: any(e.type is EventType.ASSISTANT_DELTA for e in chatty.events()), timeout=60,
             what="the first delta of a's runner")  # fmt: skip
    chatty.interrupt()  # from b
    assert chatty.wait(timeout=60) == "idle"
    result = [e for e in chatty.events() if e.type is EventType.RESULT][-1]
    assert result.data["stop_reason"] == "interrupted"
    chatty.send("go on")
    assert chatty.wait(timeout=60) == "idle"  # b's wait covers the time a's host takes to notice
    assert [e.data["text"] for e in chatty.events() if e.type is EventType.ASSISTANT_TEXT][-1] == "Resumed."
    last = chatty.last_seq()
    chatty.send("talk again")
    conv = a.cm.agents.conversation(made.id).id
    wait_for(lambda: any(e.type is EventType.ASSISTANT_DELTA for e in chatty.events(after=last)), timeout=60,
             what="a's runner talking again")  # fmt: skip
    chatty.stop()  # from b
    assert chatty.wait(timeout=60) == "stopped"
    wait_for(lambda: b.cm.store.lease(conv) is None, timeout=30, what="a's runner leaving")


def test_a_lease_of_another_machine_is_judged_by_its_heartbeat_not_a_local_pid() -> None:
    now = time.time()
    mine = Lease("c", _dead_pid(), "t", now, now, "here")
    theirs = Lease("c", _dead_pid(), "t", now, now, "there")
    assert not lease.is_live(mine, 5.0, here="here")  # no such process here: dead
    assert lease.is_live(theirs, 5.0, here="here")  # fresh heartbeat on its machine: alive
    assert not lease.is_live(Lease("c", 1, "t", now - 10, now - 10, "there"), 5.0, here="here")


def test_a_second_chatml_host_on_one_data_dir_is_refused(
    two: tuple[FakeMachine, FakeMachine], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    shared_url: str,
) -> None:  # fmt: skip
    a, _ = two
    a.start_host()
    wait_for(lambda: lease_host_listening(a), timeout=60, what="a's host")
    monkeypatch.setenv("CHATML_DATA_DIR", str(a.data_dir))
    monkeypatch.setenv("CHATML_MACHINE", "a")
    monkeypatch.setenv("CHATML_DATABASE_URL", shared_url)
    assert main(["host"]) == 1
    err = capsys.readouterr().err
    assert "already serves" in err and len(err.strip().splitlines()) == 1
    assert main(["machines"]) == 0
    out = capsys.readouterr().out
    assert "reachable" in out and "(this one)" in out and "b " in out


def lease_host_listening(machine: FakeMachine) -> bool:
    """True once the machine's host listens and heartbeats."""
    from chatml_lab.core import runner_host

    row = machine.cm.store.machine_row(machine.name)
    return runner_host.reachable(machine.data_dir) and row is not None and row.heartbeat_at is not None


def _dead_pid() -> int:
    """A pid no process has (a child that exited and was reaped)."""
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_an_unreachable_session_is_in_the_attention_queue_naming_its_machine() -> None:
    from chatml_lab.server.attention import reasons

    found = reasons({"agent_state": "unreachable", "machine": "laptop", "task_status": "in_progress"})
    assert ("unreachable", "machine laptop does not answer: start `chatml host` there") in found
