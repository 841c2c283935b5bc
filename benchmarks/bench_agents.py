"""Agent runner figures, each beside a baseline measured in the same run.

- send() → first event (the runner's ``user_message``) and → first streamed delta, against the time
  a bare ``python -c "import anthropic"`` takes (most of a runner's start-up);
- resident memory of a runner mid-turn, against a bare Python process that imported anthropic;
- events per second the log sustains (``Store.append_event``, one transaction each), against raw
  ``sqlite3`` inserts of the same rows in the same WAL database settings;
- read latency of ``events(after=seq)`` on a log of 10,000 events.

Run: ``.venv/bin/python benchmarks/bench_agents.py`` (hermetic: temp dirs only, no network).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="chatml-bench-agents-"))
    os.environ.update(
        HOME=str(root / "home"), CHATML_DATA_DIR=str(root / "data"), GIT_AUTHOR_NAME="b",
        GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b",
    )  # fmt: skip
    os.environ.pop("ANTHROPIC_API_KEY", None)
    (root / "home").mkdir()
    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("bench\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")

    from chatml_lab.config import Config
    from chatml_lab.core.manager import ChatML
    from chatml_lab.events import EventType

    runs = 5
    import_times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import anthropic"], check=True)
        import_times.append(time.perf_counter() - started)

    script = root / "script.json"
    turns = [[{"type": "text", "text": " ".join(f"w{i}" for i in range(400))}] for _ in range(runs)]
    script.write_text(json.dumps({"turns": turns, "delay": 0.01}))
    cm = ChatML(config=Config(runner_idle_timeout=0.5))
    session = cm.new_session(repo, name="bench", agent=f"scripted:{script}")
    first_event, first_delta, rss = [], [], []
    for i in range(runs):
        last = max((e.seq for e in session.events()), default=0)
        started = time.perf_counter()
        session.send(f"message {i}")
        got_event = got_delta = None
        while got_delta is None:
            for event in session.events(after=last):
                if got_event is None:
                    got_event = time.perf_counter() - started
                if event.type is EventType.ASSISTANT_DELTA and got_delta is None:
                    got_delta = time.perf_counter() - started
                    row = cm.store.query("SELECT pid FROM leases WHERE pid > 0")
                    if row:
                        rss.append(_rss_kb(row[0]["pid"]) / 1024)
            time.sleep(0.002)
        first_event.append(float(got_event or 0))
        first_delta.append(got_delta)
        session.wait(timeout=120)
        while cm.store.query("SELECT 1 FROM leases"):  # wait for the idle exit: measure cold starts
            time.sleep(0.05)

    bare = subprocess.Popen([sys.executable, "-c", "import anthropic, time; time.sleep(5)"])
    time.sleep(2.5)
    bare_rss = _rss_kb(bare.pid) / 1024
    bare.kill()
    bare.wait()

    count = 10_000
    conv = cm.agents.conversation(session.id).id
    started = time.perf_counter()
    for i in range(count):
        cm.store.append_event(conv, EventType.ASSISTANT_DELTA, {"text": f"chunk {i} "})
    store_rate = count / (time.perf_counter() - started)
    raw = sqlite3.connect(str(root / "raw.db"), isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = NORMAL")
    raw.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, c TEXT, t TEXT, d TEXT, at REAL)"
    )
    started = time.perf_counter()
    for i in range(count):
        raw.execute("BEGIN IMMEDIATE")
        raw.execute(
            "INSERT INTO events (c, t, d, at) VALUES (?, ?, ?, ?)", (conv, "x", f"chunk {i}", time.time())
        )
        raw.execute("COMMIT")
    raw_rate = count / (time.perf_counter() - started)
    raw.close()

    tail = max(e.seq for e in session.events()) - 10
    reads = []
    for _ in range(200):
        started = time.perf_counter()
        session.events(after=tail)
        reads.append(time.perf_counter() - started)
    cm.close()

    print(f"import anthropic (baseline):          {_median(import_times) * 1000:7.0f} ms")
    print(f"send() -> first event (cold runner):  {_median(first_event) * 1000:7.0f} ms"
          f"   ratio {_median(first_event) / _median(import_times):.2f}x")  # fmt: skip
    print(f"send() -> first text delta:           {_median(first_delta) * 1000:7.0f} ms"
          f"   ratio {_median(first_delta) / _median(import_times):.2f}x")  # fmt: skip
    print(f"bare python + anthropic RSS:          {bare_rss:7.1f} MB")
    if rss:
        print(
            f"runner RSS mid-turn:                  {_median(rss):7.1f} MB   ratio {_median(rss) / bare_rss:.2f}x"
        )
    print(f"raw sqlite inserts (baseline):        {raw_rate:7.0f} /s")
    print(f"Store.append_event:                   {store_rate:7.0f} /s   ratio {store_rate / raw_rate:.2f}x")
    print(f"events(after=seq) on {count} events:  {_median(reads) * 1e6:7.0f} µs")


if __name__ == "__main__":
    main()
