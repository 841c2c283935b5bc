"""The event log on PostgreSQL against SQLite, in the same run (issue 13).

- ``Store.append_event`` throughput: one statement per event, as the runner writes a streamed
  answer, through each engine's ``Store`` (PostgreSQL over TCP on 127.0.0.1, psycopg's pool);
- ``Store.events`` of a 10k-event log, in events read per second.

PostgreSQL runs a temp cluster (tests/postgres.py, fsync on), or ``CHATML_TEST_POSTGRES_URL``'s
server, with ``synchronous_commit = off``: a commit does not wait for its WAL flush, as SQLite in WAL mode
with ``synchronous = NORMAL`` does not (either may lose the last commits in an OS crash, never
corrupt). No target: the figure is the answer to "what does the network database cost?".
"""

from __future__ import annotations

import time
from pathlib import Path

from .env import hermetic
from .harness import Figure, interleave

SUITE = "engines"


def _conversation(store: object, root: Path, name: str) -> str:
    from chatml_lab.models import SessionRecord, Workspace
    from chatml_lab.storage.store import Store, new_id

    assert isinstance(store, Store)
    ws = Workspace(new_id()[:12], name, root / name, "main", None, None, time.time())
    store.add_workspace(ws)
    now = time.time()
    rec = SessionRecord(id=new_id(), workspace_id=ws.id, name="s", branch="chatml/s",
                        worktree_path=root / name / "s", base_ref="main", base_commit="0" * 40,
                        created_at=now, updated_at=now)  # fmt: skip
    return store.create_session(rec, 41000, 10)[1]


def run(quick: bool) -> list[Figure]:
    from chatml_lab.events import EventType
    from chatml_lab.storage.store import Store
    from tests import postgres

    rounds = 5 if quick else 11
    count = 1000 if quick else 3000
    log_size = 10_000
    figures: list[Figure] = []
    with hermetic("engines") as root, postgres.admin(fsync=True) as admin:
        if admin is None:
            print("  engines: PostgreSQL is not installed (apt-get install postgresql): skipped")
            return []
        url = postgres.create_database(admin)
        sqlite = Store(root / "chatml.db")
        pg = Store(url)
        try:
            with pg._transaction() as conn:
                conn.execute(f"ALTER DATABASE {url.rpartition('/')[2]} SET synchronous_commit = off")
            pg.close()
            pg = Store(url)  # connections made after the setting carry it
            stores = {"sqlite": sqlite, "postgresql": pg}
            convs = {name: _conversation(store, root, "stream") for name, store in stores.items()}
            payloads = [{"text": f"chunk {i} of a streamed answer "} for i in range(count)]

            def appends(name: str) -> float:
                store, conv = stores[name], convs[name]
                started = time.perf_counter()
                for payload in payloads:
                    store.append_event(conv, EventType.ASSISTANT_DELTA, payload)
                return count / (time.perf_counter() - started)

            base, subj = interleave(rounds, lambda: appends("sqlite"), lambda: appends("postgresql"))
            figures.append(Figure(SUITE, "append_event on PostgreSQL", "/s", subj, "same on SQLite", base, ">=",
                                  note="one statement per event, as a runner streams"))  # fmt: skip

            logs = {name: _conversation(store, root, "log") for name, store in stores.items()}
            for name, store in stores.items():
                with store._transaction() as conn:
                    conn.executemany(
                        "INSERT INTO events (conversation_id, type, data, created_at) VALUES (?, ?, ?, ?)",
                        [
                            (logs[name], "assistant_delta", '{"text": "chunk"}', time.time())
                            for _ in range(log_size)
                        ],
                    )

            def reads(name: str) -> float:
                store, conv = stores[name], logs[name]
                started = time.perf_counter()
                found = store.events([conv])
                assert len(found) == log_size
                return log_size / (time.perf_counter() - started)

            base, subj = interleave(rounds, lambda: reads("sqlite"), lambda: reads("postgresql"))
            figures.append(Figure(SUITE, "read 10k events on PostgreSQL", "/s", subj, "same on SQLite", base, ">=",
                                  note="Store.events of one conversation, events per second"))  # fmt: skip
        finally:
            sqlite.close()
            pg.close()
            postgres.drop_database(admin, url)
    return figures
