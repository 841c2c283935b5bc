"""PostgreSQL as the store (issue 13): lost connections, the retry bound, nothing half-written or
written twice, LISTEN/NOTIFY, and a session's life (create, a scripted turn, archive) on it.

A real server: the temp cluster of tests/postgres.py, a fresh database per test.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import StorageError, StoreUnreachableError
from chatml_lab.events import EventType
from chatml_lab.models import ConversationKind, SessionRecord, Workspace
from chatml_lab.storage.store import Store, new_id

from . import postgres
from .agent_fixtures import kill_runners, types, write_script


def _conversation(store: Store, root: Path, owner: str = "") -> str:
    """A workspace, a session and its task conversation, owned by ``owner`` (a person's role may
    insert only rows it owns: storage/rls.py)."""
    ws = Workspace(new_id()[:12], f"w-{new_id()[:6]}", root / new_id()[:6], "main", None, None, time.time(),
                   owner=owner)  # fmt: skip
    store.add_workspace(ws)
    now = time.time()
    rec = SessionRecord(id=new_id(), workspace_id=ws.id, name="s", branch="chatml/s",
                        worktree_path=ws.path / "s", base_ref="main", base_commit="0" * 40,
                        created_at=now, updated_at=now, owner=owner)  # fmt: skip
    _rec, task = store.create_session(rec, 41000, 10)
    return task


def test_dropping_the_connection_mid_stream_loses_no_event(
    postgres_admin: str, postgres_url: str, tmp_path: Path
) -> None:
    """The runner writes one event per streamed chunk; the server kills every connection of the
    database five times meanwhile. Every event is there, once, in order."""
    store = Store(postgres_url)
    try:
        conv = _conversation(store, tmp_path)
        count = 400
        seqs: list[int] = []
        failed: list[BaseException] = []

        def stream() -> None:
            try:
                for i in range(count):
                    seqs.append(store.append_event(conv, EventType.ASSISTANT_DELTA, {"text": f"chunk {i}"}))
            except BaseException as exc:  # reported by the assertion below
                failed.append(exc)

        writer = threading.Thread(target=stream)
        writer.start()
        killed = 0
        while writer.is_alive() and killed < 5:
            if len(seqs) > (killed + 1) * count // 7:
                killed += postgres.terminate_backends(postgres_admin, postgres_url) > 0
            time.sleep(0.002)
        writer.join(60)
        assert failed == [] and killed >= 3
        events = store.events([conv])
        assert [e.data["text"] for e in events] == [f"chunk {i}" for i in range(count)]
        assert [e.seq for e in events] == seqs == sorted(set(seqs))
    finally:
        store.close()


def test_a_retried_insert_whose_first_attempt_landed_is_not_written_twice(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit reached the server but its answer did not (the connection died): the retry finds
    the row instead of writing a second one, and returns its key."""
    store = Store(postgres_url)
    try:
        conv = _conversation(store, tmp_path)
        real = psycopg.Connection.execute
        dropped: list[str] = []

        def execute(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
            cursor = real(self, query, params, **kw)
            if isinstance(query, str) and query.startswith("INSERT INTO events") and not dropped:
                dropped.append(query)
                self.close()  # committed (autocommit), then the connection is gone
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return cursor

        monkeypatch.setattr(psycopg.Connection, "execute", execute)
        seq = store.append_event(conv, EventType.USER_MESSAGE, {"text": "once"})
        monkeypatch.undo()
        assert dropped
        assert [(e.seq, e.data["text"]) for e in store.events([conv])] == [(seq, "once")]
    finally:
        store.close()


def test_a_transaction_that_loses_its_connection_writes_nothing(
    postgres_admin: str, postgres_url: str, tmp_path: Path
) -> None:
    store = Store(postgres_url)
    try:
        lost = pytest.raises(StorageError, match=r"lost mid-write.*nothing of it was written")
        with lost as caught, store._transaction() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", ("half", "1"))
            postgres.terminate_backends(postgres_admin, postgres_url)
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", ("other-half", "2"))
        assert "\n" not in str(caught.value)
        assert store.setting("half") is None and store.setting("other-half") is None
        store.set_setting("after", "ok")  # the pool replaced the dead connection
        assert store.setting("after") == "ok"
    finally:
        store.close()


def _refuse_connections(admin_url: str, url: str, refuse: bool) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
    if refuse:
        postgres.terminate_backends(admin_url, url)


def test_an_unreachable_database_is_retried_then_one_line(
    postgres_admin: str, postgres_url: str, tmp_path: Path
) -> None:
    """Within the bound, writes wait for the database to come back; past it, one line naming the
    database (no password) and the fix."""
    store = Store(postgres_url, retry_for=8.0)
    try:
        conv = _conversation(store, tmp_path)
        _refuse_connections(postgres_admin, postgres_url, True)
        timer = threading.Timer(1.0, _refuse_connections, (postgres_admin, postgres_url, False))
        timer.start()
        started = time.monotonic()
        store.append_event(conv, EventType.USER_MESSAGE, {"text": "waited"})
        timer.join()
        assert 0.9 < time.monotonic() - started < 8
        assert [e.data["text"] for e in store.events([conv])] == ["waited"]

        store._engine.retry_for = 1.5  # type: ignore[union-attr]  # the bound, shortened
        _refuse_connections(postgres_admin, postgres_url, True)
        started = time.monotonic()
        with pytest.raises(StoreUnreachableError) as caught:
            store.append_event(conv, EventType.USER_MESSAGE, {"text": "lost"})
        assert 1.4 < time.monotonic() - started < 15
        message = str(caught.value)
        assert "\n" not in message and store.location in message and "CHATML_DATABASE_URL" in message
    finally:
        _refuse_connections(postgres_admin, postgres_url, False)
        store.close()


def test_a_server_that_is_not_there_is_one_line_with_the_password_masked(tmp_path: Path) -> None:
    with postgres.closed_port() as port:
        url = f"postgresql://me:s3cret@127.0.0.1:{port}/chatml"
        started = time.monotonic()
        with pytest.raises(StoreUnreachableError) as caught:
            Store(url, retry_for=1.0)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "\n" not in message and "s3cret" not in message and "me:***@127.0.0.1" in message
    assert "start the database server or fix CHATML_DATABASE_URL" in message


def test_a_wrong_database_name_fails_at_once(postgres_admin: str) -> None:
    url = postgres.with_database(postgres_admin, "no_such_database")
    started = time.monotonic()
    with pytest.raises(StoreUnreachableError, match=r"does not exist.*fix CHATML_DATABASE_URL"):
        Store(url, retry_for=30.0)
    assert time.monotonic() - started < 5  # not retried: waiting cannot fix a name


def test_notify_wakes_a_listener(postgres_admin: str, postgres_url: str) -> None:
    store = Store(postgres_url)
    listener = store.listen(["inbox", "requests"])
    try:
        started = time.monotonic()
        assert listener.wait(0.2) == []
        assert time.monotonic() - started >= 0.19
        threading.Timer(0.3, store.notify, ("inbox", "conv-1")).start()
        started = time.monotonic()
        assert listener.wait(10) == ["conv-1"]
        assert time.monotonic() - started < 5  # woken, not timed out
        store.notify("requests", "a")
        store.notify("requests", "b")
        store.notify("elsewhere", "c")
        heard = listener.wait(5)
        assert heard == ["a", "b"]
        postgres.terminate_backends(postgres_admin, postgres_url)
        assert listener.wait(1) == [""]  # reconnected: a wake-up, as some may have been missed
        store.notify("inbox", "after")
        assert listener.wait(5) == ["after"]
    finally:
        listener.close()
        store.close()


def test_sqlite_listeners_poll(tmp_path: Path) -> None:
    store = Store(tmp_path / "chatml.db")
    listener = store.listen(["inbox"])
    try:
        store.notify("inbox", "x")  # nothing to deliver it
        started = time.monotonic()
        assert listener.wait(0.2) == []
        assert time.monotonic() - started >= 0.19
    finally:
        listener.close()
        store.close()


def test_a_session_lives_on_postgres(on_postgres: str, repo: Path, tmp_path: Path) -> None:
    """Create, a scripted turn through a runner process, archive, restore: all on PostgreSQL, and
    no SQLite file appears in the data dir."""
    cm = ChatML(config=Config(runner_idle_timeout=3.0, lease_stale_after=2.0, fetch_throttle=0))
    try:
        assert cm.store.engine == "postgresql" and cm.settings()["database"] == on_postgres
        script = write_script(
            tmp_path / "turn.json",
            [
                [{"type": "tool_use", "name": "Bash", "input": {"command": "echo hi > hi.txt"}}],
                [{"type": "text", "text": "Done."}],
            ],
        )
        session = cm.new_session(repo, name="pg", agent=f"scripted:{script}", permission_mode="bypass")
        session.send("make hi.txt")
        assert session.wait(timeout=60) == "idle"
        assert types(session.events())[0] == "user_message" and "result" in types(session.events())
        assert (session.worktree / "hi.txt").exists()
        kill_runners(cm)
        cm.archive(session.id, force=True)
        assert cm.session("pg").record.archived
        cm.unarchive(session.id)
        assert not cm.session("pg").record.archived
        assert next(c.kind for c in cm.store.conversations(session.id)) is ConversationKind.TASK
    finally:
        kill_runners(cm)
        cm.close()
    assert not (cm.data_dir / "state" / "chatml.db").exists()


def test_an_approval_whose_input_holds_a_nul_is_stored_and_found(postgres_url: str, tmp_path: Path) -> None:
    """The approval indexes decode only the ``id`` of an event's JSON: a NUL elsewhere in it (a
    file written with binary content) is stored as on SQLite."""
    store = Store(postgres_url)
    try:
        conv = _conversation(store, tmp_path)
        data = {"id": "r1", "tool": "Write", "input": {"file_path": "b.bin", "content": "a\u0000b"}}
        store.append_event(conv, EventType.APPROVAL_REQUEST, data)
        assert [e.data for e in store.pending_approvals([conv])] == [data]
        store.append_event(conv, EventType.APPROVAL_RESPONSE, {"id": "r1", "approved": False})
        assert store.pending_approvals([conv]) == []
    finally:
        store.close()


def test_a_role_without_create_rights_opens_a_current_store(
    postgres_admin: str, postgres_url: str, tmp_path: Path
) -> None:
    """Migrations run once, by whoever may; afterwards a role with row rights alone opens the
    store (no lock, no DDL when the schema is current): one role per person works."""
    Store(postgres_url).close()  # migrated by the admin
    role = f"person_{new_id()[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
    url = postgres_url.replace("postgres@", f"{role}@", 1)
    try:
        store = Store(url)
        try:
            conv = _conversation(store, tmp_path, owner=role)
            store.append_event(conv, EventType.USER_MESSAGE, {"text": "as a person"})
            assert [e.data["text"] for e in store.events([conv])] == ["as a person"]
        finally:
            store.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            conn.execute(f"DROP ROLE {role}")


def test_dropping_the_connection_mid_turn_loses_no_event(
    postgres_admin: str, on_postgres: str, repo: Path, tmp_path: Path
) -> None:
    """A runner process streams a scripted answer; every server connection of the database is
    killed three times mid-turn. The turn ends, and its deltas add up to its text, each once."""
    words = " ".join(f"word{i}" for i in range(120))
    script = write_script(tmp_path / "slow.json", [[{"type": "text", "text": words}]], delay=0.02)
    cm = ChatML(config=Config(runner_idle_timeout=5.0, lease_stale_after=10.0))
    try:
        session = cm.new_session(repo, name="drops", agent=f"scripted:{script}", permission_mode="bypass")
        session.send("talk")
        conv = cm.agents.conversation(session.id).id
        killed = 0
        deadline = time.monotonic() + 60
        while killed < 3 and time.monotonic() < deadline:
            streamed = [e for e in cm.store.events([conv]) if e.type is EventType.ASSISTANT_DELTA]
            if len(streamed) > 3 + killed * 4:
                killed += postgres.terminate_backends(postgres_admin, on_postgres) > 0
            time.sleep(0.01)
        assert session.wait(timeout=60) == "idle"
        events = session.events()
        assert killed == 3 and "result" in types(events)
        text = next(e for e in events if e.type is EventType.ASSISTANT_TEXT).data["text"]
        deltas = [e.data["text"] for e in events if e.type is EventType.ASSISTANT_DELTA]
        assert text == words and "".join(deltas) == words
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs))
    finally:
        kill_runners(cm)
        cm.close()
