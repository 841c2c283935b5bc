"""Machines (issue 13): a ``send()`` on machine B → the first event of machine A's runner.

Two machines on one box (two data dirs, two machine names, one database), A's runner host up
(``idle-timeout 0``, as ``chatml host`` runs it) and no runner alive at the start of a round: B's
message has to wake A's host, which starts the runner, whose first event (``user_message``) ends
the round. Baseline, same run, alternating rounds: the same ``send()`` made on A itself, where the
client asks its host for the runner at once.

On SQLite (one shared file) A's host finds B's message by polling every
``Config.host_poll_interval`` (0.5 s: 0.25 s expected on average); on PostgreSQL NOTIFY wakes it
(checked every loop tick of 0.1 s). The PostgreSQL figures need a server: ``CHATML_TEST_POSTGRES_URL``
(an admin URL) or PostgreSQL's binaries for a temp cluster (the tests' :mod:`tests.postgres`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .env import build_repository, hermetic
from .harness import Figure, interleave

SUITE = "machines"


def _first_event(cm: Any, session_id: str) -> float:
    """``send()`` on ``cm``; seconds until the runner's first event is in the store."""
    session = cm.session(session_id)
    while cm.store.leases():  # the last round's runner left: this one starts a runner
        time.sleep(0.02)
    last = session.last_seq()
    started = time.perf_counter()
    session.send("bench message")
    while not session.events(after=last):
        time.sleep(0.002)
    took = time.perf_counter() - started
    deadline = time.monotonic() + 60
    while (session.agent_state != "idle" or cm.store.leases()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return took


@contextlib.contextmanager
def _postgres() -> Iterator[str | None]:
    """A fresh PostgreSQL database URL, or None when no server can be had."""
    try:
        from tests import postgres
    except ImportError:
        yield None
        return
    with postgres.admin() as admin:
        if admin is None:
            yield None
            return
        url = postgres.create_database(admin)
        try:
            yield url
        finally:
            postgres.drop_database(admin, url)


def _pair(root: Path, url: str, label: str, rounds: int) -> list[Figure]:
    from chatml_lab.config import Config
    from chatml_lab.core import runner_host
    from chatml_lab.core.manager import ChatML

    (root / label).mkdir()
    _origin, repo = build_repository(root / label, files=20, commits=2)
    script = root / label / "script.json"
    script.write_text(json.dumps({"turns": [[{"type": "text", "text": "ok"}]] * 100}))
    fast = {"runner_idle_timeout": 0.3, "lease_stale_after": 2.0, "database_url": url}
    a_dir, b_dir = root / label / "machine-a", root / label / "machine-b"
    a_conf = dataclasses.replace(Config(machine="a"), **fast)  # type: ignore[arg-type]
    b_conf = dataclasses.replace(Config(machine="b"), **fast)  # type: ignore[arg-type]
    a, b = ChatML(a_dir, a_conf), ChatML(b_dir, b_conf)
    host = runner_host.start_host(a_dir, 0, url, a_conf.to_json())
    try:
        session = a.new_session(repo, name="far", agent=f"scripted:{script}")
        deadline = time.monotonic() + 60
        while not b.machines.reachable().get("a") and time.monotonic() < deadline:
            time.sleep(0.05)
        _first_event(a, session.id)  # the host's imports and warm-up, not measured
        base, subj = interleave(
            rounds, lambda: _first_event(a, session.id), lambda: _first_event(b, session.id)
        )
        how = "polling every 0.5 s" if label == "sqlite" else "LISTEN/NOTIFY"
        return [
            Figure(SUITE, f"send() on B -> first event of A's runner ({label}, {how})", "s", subj,
                   "the same send() on A", base, "<=", 0.6 if label == "sqlite" else 0.3, absolute=True),
        ]  # fmt: skip
    finally:
        host.terminate()
        host.wait(timeout=30)
        for held in a.store.leases():
            if held.pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(held.pid, signal.SIGKILL)
        a.close()
        b.close()


def run(quick: bool) -> list[Figure]:
    rounds = 4 if quick else 9
    figures: list[Figure] = []
    with hermetic("machines") as root:
        shared = root / "shared.db"
        figures += _pair(root, f"sqlite:///{shared}", "sqlite", rounds)
        with _postgres() as url:
            if url is None:
                figures.append(Figure(SUITE, "send() on B -> first event of A's runner (postgresql)", "s", [],
                                      note="no PostgreSQL server here"))  # fmt: skip
            else:
                figures += _pair(root, url, "postgresql", rounds)
    return figures
