"""``chatml db`` and ``chatml db copy URL``: a machine's SQLite sessions moved into PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatml_lab.cli import main
from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType
from chatml_lab.models import ConversationKind, Severity


def test_db_shows_the_store_in_use(engine: str, cm: ChatML, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"engine: {engine}" and out[1] == f"location: {cm.store.location}"


def test_sqlite_sessions_copied_into_postgres_are_the_same_sessions(
    postgres_url: str, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with ChatML() as cm:
        first = cm.new_session(repo, name="first", priority="high")
        second = cm.new_session(repo, name="second")
        chat = cm.store.add_conversation(second.id, ConversationKind.CHAT, "side")
        task = cm.agents.conversation(first.id).id
        for i in range(5):
            cm.store.append_event(task, EventType.ASSISTANT_DELTA, {"text": f"chunk {i}"})
        cm.store.append_event(chat, EventType.USER_MESSAGE, {"text": "hello"})
        cm.store.add_finding(first.id, task, "a.py", 3, "bug", "details", Severity.ERROR)
        cm.set_setting("branch_prefix", "team")
        second.archive()
        logged = cm.store.scalar("SELECT count(*) FROM events")
        last = cm.store.scalar("SELECT max(seq) FROM events")
        before: dict[str, list[Any]] = {
            "rows": [
                (r.name, r.archived, r.priority, r.port_base, r.branch) for r in cm.store.sessions(True)
            ],
            "events": [(e.seq, e.conversation_id, e.type, e.data) for e in cm.store.events([task, chat])],
            "conversations": [c.id for c in cm.store.conversations(second.id)],
            "findings": [(f.id, f.title) for f in cm.store.findings(first.id)],
        }
    assert main(["db", "copy", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "copied into" in out and "CHATML_DATABASE_URL" in out
    assert logged >= 6 and [str(logged), "events"] in [line.split() for line in out.splitlines()]

    monkeypatch.setenv("CHATML_DATABASE_URL", postgres_url)
    with ChatML() as cm:
        assert cm.store.engine == "postgresql"
        after = {
            "rows": [
                (r.name, r.archived, r.priority, r.port_base, r.branch) for r in cm.store.sessions(True)
            ],
            "events": [(e.seq, e.conversation_id, e.type, e.data) for e in cm.store.events([task, chat])],
            "conversations": [c.id for c in cm.store.conversations(second.id)],
            "findings": [(f.id, f.title) for f in cm.store.findings(first.id)],
        }
        assert after == before
        assert cm.settings()["branch_prefix"] == "team"
        # The key counters go on after the copied keys, and the sessions keep working.
        seq = cm.store.append_event(task, EventType.USER_MESSAGE, {"text": "after the move"})
        assert seq == last + 1
        cm.session("second").unarchive()
        assert not cm.session("second").archived

    # A second copy would mix two stores: refused, one line, nothing written.
    monkeypatch.delenv("CHATML_DATABASE_URL")
    assert main(["db", "copy", postgres_url]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "already holds rows" in err and "empty database" in err


def test_postgres_sessions_copied_back_into_sqlite(on_postgres: str, repo: Path, tmp_path: Path) -> None:
    with ChatML() as cm:
        session = cm.new_session(repo, name="back")
        task = cm.agents.conversation(session.id).id
        cm.store.append_event(task, EventType.USER_MESSAGE, {"text": "round trip"})
        assert main(["db", "copy", f"sqlite:///{tmp_path}/copy.db"]) == 0
    with ChatML(
        data_dir=tmp_path / "other", config=Config(database_url=f"sqlite:///{tmp_path}/copy.db")
    ) as cm:
        assert [s.name for s in cm.sessions()] == ["back"]
        assert [e.data["text"] for e in cm.store.events([task])] == ["round trip"]
