"""The event log at 10k and 100k events: reads, approvals, writes.

- ``Session.events()`` (every event of a session, as the API returns them) against a raw
  ``SELECT`` of the same rows on a plain ``sqlite3`` connection (tuples, nothing parsed);
- ``pending_approvals()`` at 100k events against the same call at 10k (a log that is read
  whole grows ~10x; an indexed query stays flat);
- ``Store.append_event`` throughput (one transaction per event, as the runner writes) against
  raw inserts into a database made by the same migrations (same index and foreign key, same
  pragmas), one autocommit ``INSERT`` each, the JSON text prepared in advance.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from .env import build_repository, hermetic
from .harness import Figure, interleave, time_call

SUITE = "events"


def _fill(db: Path, conversation_id: str, count: int) -> None:
    """Append ``count`` realistic events: mostly deltas, some tools, ten answered approvals in the
    first 10k (the same in every log, so only the log's length differs) and one still pending."""
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    now = time.time()
    rows = []
    for i in range(count):
        if i == count - 1:
            kind, data = "approval_request", {"id": "req-last", "tool": "Bash", "input": {"command": "ls"}}
        elif i % 1000 == 500 and i < 10_000:
            kind, data = "approval_request", {"id": f"req-{i}", "tool": "Bash", "input": {"command": "ls"}}
        elif i % 1000 == 501 and i < 10_000:
            kind, data = "approval_response", {"id": f"req-{i - 1}", "approved": True, "reason": "approved"}
        elif i % 50 == 0:
            kind, data = "tool_start", {"id": f"t{i}", "tool": "Read", "input": {"file_path": f"src/m{i}.py"}}
        elif i % 50 == 1:
            kind, data = "tool_end", {"id": f"t{i - 1}", "ok": True, "output": "line\n" * 20}
        else:
            kind, data = "assistant_delta", {"text": f"chunk {i} of a streamed answer "}
        rows.append((conversation_id, kind, json.dumps(data), now + i * 1e-4))
    conn.executemany("INSERT INTO events (conversation_id, type, data, created_at) VALUES (?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()


def run(quick: bool) -> list[Figure]:
    rounds = 5 if quick else 11
    figures: list[Figure] = []
    with hermetic("events") as root:
        from chatml_lab.core.manager import ChatML
        from chatml_lab.events import EventType
        from chatml_lab.storage.schema import MIGRATIONS, migration_text

        _origin, repo = build_repository(root, files=20, commits=3)
        cm = ChatML()
        sessions = {}
        approvals: dict[int, list[float]] = {}
        for size in (10_000, 100_000):
            session = cm.new_session(repo, name=f"log-{size}")
            sessions[size] = session
            conv = cm.agents.conversation(session.id).id
            _fill(cm.store.path, conv, size)
            raw = sqlite3.connect(str(cm.store.path), isolation_level=None)

            def raw_select(conv: str = conv, raw: sqlite3.Connection = raw) -> None:
                raw.execute(
                    "SELECT * FROM events WHERE conversation_id IN (?) AND seq > ? ORDER BY seq", (conv, 0)
                ).fetchall()

            base, subj = interleave(
                rounds, lambda: time_call(raw_select), lambda s=session: time_call(s.events)
            )
            raw.close()
            figures.append(Figure(SUITE, f"read {size // 1000}k events", "s", subj, "raw select", base, "<=",
                                  2.0 if size == 100_000 else None))  # fmt: skip
            pending = session.pending_approvals()
            assert [e.data["id"] for e in pending] == ["req-last"], pending
            approvals[size] = [time_call(session.pending_approvals) for _ in range(rounds)]
        figures.append(Figure(SUITE, "pending_approvals at 100k events", "s", approvals[100_000],
                              "same at 10k", approvals[10_000], "<=", 1.5,
                              note="flat when approvals are found without reading the log"))  # fmt: skip

        count = 2000 if quick else 5000
        conv = cm.agents.conversation(sessions[10_000].id).id
        raw_db = root / "raw.db"
        raw = sqlite3.connect(str(raw_db), isolation_level=None)
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
        from chatml_lab.storage.database import statements

        raw.execute("BEGIN")
        for migration in MIGRATIONS:
            shared, own = migration_text(migration, "sqlite")
            for statement in statements(shared) + statements(own):
                raw.execute(statement)
        raw.execute(
            "INSERT INTO workspaces (id, name, path, default_branch, created_at) VALUES ('w', 'w', '/w', 'main', 0)"
        )
        raw.execute(
            "INSERT INTO sessions (id, workspace_id, name, branch, worktree_path, base_ref, base_commit,"
            " created_at, updated_at, port_base) VALUES ('s', 'w', 's', 'b', '/w/s', 'm', 'c', 0, 0, 1)"
        )
        raw.execute(
            "INSERT INTO conversations (id, session_id, kind, title, created_at, updated_at)"
            " VALUES (?, 's', 'task', 'Task', 0, 0)",
            (conv,),
        )
        raw.execute("COMMIT")
        payloads = [{"text": f"chunk {i} of a streamed answer "} for i in range(count)]
        texts = [json.dumps(p) for p in payloads]

        def raw_inserts() -> float:
            started = time.perf_counter()
            for text in texts:  # one autocommit statement: its own transaction, the fastest raw way
                raw.execute(
                    "INSERT INTO events (conversation_id, type, data, created_at) VALUES (?, ?, ?, ?)",
                    (conv, "assistant_delta", text, time.time()),
                )
            return count / (time.perf_counter() - started)

        def store_appends() -> float:
            started = time.perf_counter()
            for payload in payloads:
                cm.store.append_event(conv, EventType.ASSISTANT_DELTA, payload)
            return count / (time.perf_counter() - started)

        base, subj = interleave(rounds, raw_inserts, store_appends)
        raw.close()
        figures.append(Figure(SUITE, "append_event throughput", "/s", subj, "raw inserts, same schema", base,
                              ">=", 0.8))  # fmt: skip
        cm.close()
    return figures
