"""Agents: ``send()`` → first streamed text delta, and what runners cost in processes and memory.

The headline is the first ``assistant_delta`` (the runner's own ``user_message`` event is written
before any SDK work, so it says little; it is reported apart). Against the scripted server over
real HTTP (the real SDK and agent loop), each round in alternating order with the baseline
``python -c "import anthropic"``:

- *cold*: a fresh client process (``ChatML()`` then ``send()``, timed from ``send()``), no runner and
  no runner host alive;
- *warm host*: an in-process client, no runner alive but the per-user runner host up (skipped when
  the code has no runner host).

Processes and memory: chatml processes left after every session went idle (the target: zero),
and per active session mid-turn, resident and unique memory (USS: what a runner forked from a
host adds) against a bare ``python -c "import anthropic"``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from .env import build_repository, hermetic
from .harness import Figure, interleave

SUITE = "agents"

COLD_CLIENT = """
import dataclasses, sys, time
from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType
known = {f.name for f in dataclasses.fields(Config)}
quick = {"runner_idle_timeout": 0.2, "host_idle_timeout": 0.2}  # the next round is cold again
cm = ChatML(config=Config(**{k: v for k, v in quick.items() if k in known}))
session = cm.session(sys.argv[1])
last = max((e.seq for e in session.events()), default=0)
started = time.perf_counter()
session.send("cold message")
first_event = first_delta = None
while first_delta is None:
    for event in session.events(after=last):
        first_event = first_event or time.perf_counter() - started
        if event.type is EventType.ASSISTANT_DELTA:
            first_delta = time.perf_counter() - started
            break
    time.sleep(0.002)
print(first_event, first_delta)
session.wait(timeout=120)
cm.close()
"""


def _chatml_processes(data_dir: Path) -> list[psutil.Process]:
    """Runner and runner-host processes serving ``data_dir``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            line = " ".join(proc.info["cmdline"] or [])
            env = proc.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if ("runner_main" in line or "runner_host" in line) and (
            str(data_dir) in line or env.get("CHATML_DATA_DIR") == str(data_dir)
        ):
            found.append(proc)
    return found


def _wait_gone(data_dir: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _chatml_processes(data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)


def _config(**wanted: float) -> Any:
    """A Config with the fields this version of the code knows."""
    from chatml_lab.config import Config

    known = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in wanted.items() if k in known})


def _import_anthropic() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import anthropic"], check=True)
    return time.perf_counter() - started


def _first(session: Any, after: int) -> tuple[float, float]:
    from chatml_lab.events import EventType

    started = time.perf_counter()
    session.send("warm message")
    first_event = first_delta = None
    while first_delta is None:
        for event in session.events(after=after):
            first_event = first_event or time.perf_counter() - started
            if event.type is EventType.ASSISTANT_DELTA:
                first_delta = time.perf_counter() - started
                break
        time.sleep(0.002)
    return float(first_event or 0.0), first_delta


def run(quick: bool) -> list[Figure]:
    rounds = 3 if quick else 7
    figures: list[Figure] = []
    has_host = importlib.util.find_spec("chatml_lab.core.runner_host") is not None
    with hermetic("agents") as root:
        from chatml_lab.core.manager import ChatML

        _origin, repo = build_repository(root, files=50, commits=3)
        data_dir = Path(root / "env" / "chatml_data_dir")
        script = root / "script.json"
        words = " ".join(f"w{i}" for i in range(200))
        script.write_text(json.dumps({"turns": [[{"type": "text", "text": words}]] * 200, "delay": 0.005}))
        # Cold rounds: runners and the host leave at once after their turn.
        cold_cm = ChatML(config=_config(runner_idle_timeout=0.2, host_idle_timeout=0.2))
        session = cold_cm.new_session(repo, name="bench", agent=f"scripted:{script}")
        session.send("warm-up")  # the client's own imports, not measured
        session.wait(timeout=120)
        _wait_gone(data_dir)
        cold_event: list[float] = []

        def cold() -> float:
            done = subprocess.run([sys.executable, "-c", COLD_CLIENT, "bench"], check=True, capture_output=True,
                                  text=True)  # fmt: skip
            event, delta = (float(x) for x in done.stdout.split())
            cold_event.append(event)
            _wait_gone(data_dir)
            return delta

        base, subj = interleave(rounds, _import_anthropic, cold)
        figures.append(Figure(SUITE, "send() -> first text delta, cold (no host)", "s", subj,
                              "import anthropic", base, "<=", 0.5))  # fmt: skip
        figures.append(Figure(SUITE, "send() -> first event (user_message), cold", "s", cold_event,
                              "import anthropic", base))  # fmt: skip
        cold_cm.close()

        if has_host:
            warm_cm = ChatML(config=_config(runner_idle_timeout=0.2, host_idle_timeout=600))
            session = warm_cm.session("bench")
            session.send("start the host")
            session.wait(timeout=120)
            warm_event: list[float] = []

            def warm() -> float:
                while warm_cm.store.leases():  # the runner left; the host stays
                    time.sleep(0.02)
                last = max((e.seq for e in session.events()), default=0)
                event, delta = _first(session, last)
                warm_event.append(event)
                session.wait(timeout=120)
                return delta

            base, subj = interleave(rounds, _import_anthropic, warm)
            figures.append(Figure(SUITE, "send() -> first text delta, warm host", "s", subj, "import anthropic",
                                  base, "<=", 0.3, absolute=True))  # fmt: skip
            figures.append(Figure(SUITE, "send() -> first event (user_message), warm host", "s", warm_event,
                                  "import anthropic", base))  # fmt: skip
            warm_cm.close()
            from chatml_lab.core import runner_host

            for pid in runner_host.host_pids(data_dir):  # it would stay its 600 idle seconds
                os.kill(pid, signal.SIGTERM)
        else:
            figures.append(Figure(SUITE, "send() -> first text delta, warm host", "s", [],
                                  note="no runner host in this version"))  # fmt: skip
        _wait_gone(data_dir, timeout=5)
        figures += _footprint(root, repo, script, data_dir)
    return figures


def _footprint(root: Path, repo: Path, script: Path, data_dir: Path) -> list[Figure]:
    from chatml_lab.core.manager import ChatML
    from chatml_lab.events import EventType

    slow = root / "slow.json"
    slow.write_text(json.dumps({"turns": [[{"type": "text", "text": "x " * 400}]] * 10, "delay": 0.05}))
    cm = ChatML(config=_config(runner_idle_timeout=0.5, host_idle_timeout=0.5))
    active = [cm.new_session(repo, name=f"active-{i}", agent=f"scripted:{slow}") for i in range(3)]
    for session in active:
        session.send("talk slowly")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
        any(e.type is EventType.ASSISTANT_DELTA for e in s.events()) for s in active
    ):
        time.sleep(0.05)
    leases = {lease.pid for lease in cm.store.leases() if lease.pid > 0}
    procs = _chatml_processes(data_dir)
    rss = [p.memory_info().rss / 2**20 for p in procs if p.pid in leases]
    uss = [p.memory_full_info().uss / 2**20 for p in procs if p.pid in leases]
    bare = subprocess.Popen([sys.executable, "-c", "import anthropic, time; time.sleep(30)"])
    time.sleep(0.2)
    while time.monotonic() < deadline:  # until the import is done: the RSS stops growing
        first = psutil.Process(bare.pid).memory_info().rss
        time.sleep(0.5)
        if psutil.Process(bare.pid).memory_info().rss == first:
            break
    bare_rss = psutil.Process(bare.pid).memory_info().rss / 2**20
    bare.kill()
    bare.wait()
    figures = [
        Figure(SUITE, "chatml processes, 3 active sessions", "count", [float(len(procs))],
               note="runners plus the runner host when there is one"),
        Figure(SUITE, "RSS per active session (runner)", "MB", rss, "bare import anthropic",
               [bare_rss] * len(rss)),
        Figure(SUITE, "USS per active session (runner)", "MB", uss, "bare import anthropic",
               [bare_rss] * len(uss), note="memory the runner does not share with another process"),
    ]  # fmt: skip
    for session in active:
        session.wait(timeout=120)
    _wait_gone(data_dir, timeout=30)
    figures.append(Figure(SUITE, "chatml processes, 3 idle sessions", "count",
                          [float(len(_chatml_processes(data_dir)))], direction="<=", target=0.0))  # fmt: skip
    cm.close()
    return figures
