"""The store's named methods for leases, crash marks, usage and session creation; migrations split."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chatml_lab.agents import lease
from chatml_lab.core import agents as agent_client
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import AgentError, AgentTimeoutError, ChatMLError, StorageError, WorkspaceExistsError
from chatml_lab.models import AgentState, SessionRecord
from chatml_lab.storage.database import statements
from chatml_lab.storage.schema import MIGRATIONS
from chatml_lab.storage.store import Store, new_id


def test_migrations_split_where_sqlite_says_a_statement_ends() -> None:
    script = """
    CREATE TABLE notes (body TEXT DEFAULT 'a; b');  -- a ';' inside a literal
    CREATE TRIGGER stamp AFTER INSERT ON notes BEGIN
        UPDATE notes SET body = body || ';' WHERE rowid = new.rowid;
    END;
    INSERT INTO notes DEFAULT VALUES; INSERT INTO notes (body) VALUES ('x');
    -- trailing comment
    """
    found = statements(script)
    assert len(found) == 4
    assert "CREATE TRIGGER" in found[1] and found[1].endswith("END;")
    db = sqlite3.connect(":memory:")
    for statement in found:
        db.execute(statement)  # one statement each: execute() refuses two
    assert [r[0] for r in db.execute("SELECT body FROM notes ORDER BY rowid")] == ["a; b;", "x;"]
    db.close()
    with pytest.raises(StorageError, match="incomplete SQL statement"):
        statements("CREATE TABLE t (x TEXT); CREATE TABLE u (y TEXT)")


def test_a_migrated_store_has_the_whole_schema(store_target: Path | str) -> None:
    store = Store(store_target)
    try:
        if store.engine == "sqlite":
            tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {r["name"] for r in store.query("PRAGMA table_info(conversations)")}
        else:
            tables = {
                r[0] for r in store.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
            columns = {
                r["column_name"]
                for r in store.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'conversations'"
                )
            }
            assert store.scalar("SELECT version FROM chatml_schema") == len(MIGRATIONS)
        assert {"workspaces", "sessions", "conversations", "events", "inbox", "leases", "settings"} <= tables
        assert "backend_state" in columns  # migration 2 ran after the many statements of 1
    finally:
        store.close()
    again = Store(store_target)  # a second open finds the schema current and changes nothing
    try:
        assert again.workspaces() == []
    finally:
        again.close()


def _record(workspace_id: str, root: Path, name: str) -> SessionRecord:
    now = time.time()
    return SessionRecord(
        id=new_id(), workspace_id=workspace_id, name=name, branch=f"chatml/{name}",
        worktree_path=root / name, base_ref="main", base_commit="0" * 40, created_at=now, updated_at=now,
    )  # fmt: skip


@pytest.mark.usefixtures("engine")
def test_create_session_takes_the_next_free_port_block_with_its_task_conversation(
    cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    ws = cm.add_workspace(repo)
    first, _ = cm.store.create_session(_record(ws.id, tmp_path, "one"), port_start=50000, port_block=10)
    second, _ = cm.store.create_session(_record(ws.id, tmp_path, "two"), port_start=50000, port_block=10)
    assert (first.port_base, second.port_base) == (50000, 50010)
    assert cm.store.session(second.id) == second  # stored as returned
    assert [c.title for c in cm.store.conversations(first.id)] == ["Task"]
    clash = _record(ws.id, tmp_path, "one")  # the name is taken: nothing of it is written
    with pytest.raises(StorageError):
        cm.store.create_session(clash, port_start=50000, port_block=10)
    assert cm.store.conversations(clash.id) == [] and cm.store.session(clash.id) is None
    with pytest.raises(WorkspaceExistsError):  # same name and path: nothing written
        cm.store.add_workspace(ws)
    assert len(cm.store.workspaces()) == 1


@pytest.mark.usefixtures("engine")
def test_lease_rows_claim_take_over_heartbeat_and_release(cm: ChatML, repo: Path) -> None:
    rec = cm.new_session(repo, name="leased").record
    conv = cm.store.conversations(rec.id)[0].id
    assert lease.claim(cm.store, conv, "first", stale_after=5.0)
    assert not lease.claim(cm.store, conv, "second", stale_after=5.0)  # a fresh claim is live
    assert lease.acquire(cm.store, conv, "first", stale_after=5.0)  # our own claim: taken over
    held = cm.store.lease(conv)
    assert held is not None and held.token == "first"
    assert cm.store.leases() == [held]
    assert not cm.store.release_lease(conv, "someone-else")  # another token drops nothing
    assert cm.store.heartbeat_lease(conv, "first")
    assert cm.store.release_lease(conv, "first")
    assert not cm.store.heartbeat_lease(conv, "first")  # gone: the runner learns it lost the lease
    assert cm.store.lease(conv) is None


@pytest.mark.usefixtures("engine")
def test_mark_crashed_records_a_death_once_and_drops_only_the_dead_lease(cm: ChatML, repo: Path) -> None:
    rec = cm.new_session(repo, name="crashy").record
    conv = cm.store.conversations(rec.id)[0].id
    cm.store.update_conversation(conv, agent_state=AgentState.RUNNING.value)
    assert lease.claim(cm.store, conv, "dead", stale_after=5.0)
    assert [c.id for c in cm.store.conversations_in_state(AgentState.RUNNING)] == [conv]
    working = ("running", "waiting")
    assert cm.store.mark_crashed(conv, "dead", only_from=working)
    assert not cm.store.mark_crashed(conv, "dead", only_from=working)  # a second client: no change
    assert cm.store.conversation(conv).agent_state is AgentState.CRASHED  # type: ignore[union-attr]
    assert cm.store.lease(conv) is None
    assert cm.store.conversations_in_state(AgentState.RUNNING, AgentState.WAITING) == []


@pytest.mark.usefixtures("engine")
def test_usage_adds_up_and_an_unknown_cost_makes_the_total_unknown(cm: ChatML, repo: Path) -> None:
    rec = cm.new_session(repo, name="costly").record
    cm.store.add_usage(rec.id, 100, 20, 0.25)
    cm.store.add_usage(rec.id, 1, 2, 0.5)
    after = cm.store.session(rec.id)
    assert after is not None
    assert (after.input_tokens, after.output_tokens, after.cost_usd) == (101, 22, 0.75)
    cm.store.add_usage(rec.id, 1, 1, None)
    cm.store.add_usage(rec.id, 1, 1, 1.0)
    after = cm.store.session(rec.id)
    assert after is not None and after.cost_usd is None and after.input_tokens == 103


def test_pid_is_runner_needs_a_live_runner_process(tmp_path: Path) -> None:
    assert not lease.pid_is_runner(0)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    plain = subprocess.Popen(sleeper)
    runner_like = subprocess.Popen([*sleeper, lease.RUNNER_MODULE])  # the module on its command line
    exited = subprocess.Popen([*sleeper[:2], "pass", lease.RUNNER_MODULE])
    try:
        deadline = time.monotonic() + 10
        while exited.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not lease.pid_is_runner(plain.pid)  # alive, but not a runner
        assert lease.pid_is_runner(runner_like.pid)
        assert not lease.pid_is_runner(exited.pid)  # reaped by poll(): the pid is gone
    finally:
        for child in (plain, runner_like):
            child.kill()
            child.wait(timeout=10)
    assert not lease.pid_is_runner(runner_like.pid)


def test_pid_is_runner_refuses_a_zombie() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass", lease.RUNNER_MODULE])
    try:
        import psutil

        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not yet reaped
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.02)
        assert not lease.pid_is_runner(child.pid)
    finally:
        child.wait(timeout=10)


def test_reaping_started_runners_from_many_threads_hands_each_out_once(tmp_path: Path) -> None:
    """Several threads reap at once (widget poller, kernel, server): no KeyError, no double report."""
    children = agent_client._Children()
    procs = [subprocess.Popen([sys.executable, "-c", "pass"]) for _ in range(12)]
    for proc in procs:
        proc.wait(timeout=10)
    for n, proc in enumerate(procs):
        children.add(f"token-{n}", tmp_path, f"conv-{n}", proc)
    children.add("elsewhere", tmp_path / "other", "conv-x", procs[0])  # another data dir: kept
    start = threading.Barrier(8)
    reported: list[str] = []
    errors: list[BaseException] = []

    def reap() -> None:
        try:
            start.wait()
            for _ in range(20):
                reported.extend(token for token, _, _ in children.finished(tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reap) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(reported) == sorted(f"token-{n}" for n in range(12))
    assert len(children) == 1 and children.take_all() == [procs[0]] and len(children) == 0


def test_agent_timeout_is_also_a_builtin_timeout() -> None:
    error = AgentTimeoutError("session 'x' is still working after 1 s")
    assert isinstance(error, AgentError) and isinstance(error, ChatMLError)
    assert isinstance(error, TimeoutError)
    assert str(error) == "session 'x' is still working after 1 s" and error.status == 504
