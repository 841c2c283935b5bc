"""Drift and the table at 10/100/300 sessions, and ``chatml list`` against ``python -c pass``.

- ``sync_all`` (fetch throttled: the workspace was fetched just before) against one
  ``git rev-list --left-right --count origin/main...BRANCH`` process per session, run in a loop;
- git processes one ``sync_all`` starts with the fetch forced (the target: at most 2 per workspace);
- ``rows()`` time and SQL statements at each size (constant statements: the target);
- ``chatml list`` as a subprocess with 100 sessions against ``python -c pass``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .env import GIT, advance_origin, build_repository, calls, counting_git, git, hermetic
from .harness import Figure, interleave, time_call

SUITE = "drift"


def _statements(cm: object, fn: object) -> int:
    """SQL statements ``fn()`` runs on the manager's connection."""
    conn = cm.store._conn  # type: ignore[attr-defined]
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        fn()  # type: ignore[operator]
    finally:
        conn.set_trace_callback(None)
    return len([s for s in seen if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))])


def run(quick: bool) -> list[Figure]:
    sizes = (10, 100) if quick else (10, 100, 300)
    rounds = 5 if quick else 9
    figures: list[Figure] = []
    with hermetic("drift") as root:
        from chatml_lab.config import Config
        from chatml_lab.core.manager import ChatML

        origin, repo = build_repository(root, files=300, commits=200)
        cm = ChatML(config=Config(fetch_throttle=3600))
        ws = cm.add_workspace(repo)
        made = 0
        for size in sizes:
            while made < size:
                session = cm.new_session(ws, name=f"s{made:03d}")
                # One commit of its own, so each count walks both sides of the merge base.
                git(session.worktree, "commit", "-q", "--allow-empty", "-m", f"work {made}")
                made += 1
            advance_origin(root, origin, 3)
            cm.store.update_workspace(ws.id, last_fetch_at=None)
            cm.sync_all()  # fetches once (throttled afterwards), warms caches
            branches = [s.record.branch for s in cm.sessions()]

            def rev_lists(branches: list[str] = branches) -> None:
                for branch in branches:
                    subprocess.run(
                        [GIT, "rev-list", "--left-right", "--count", f"origin/main...{branch}"],
                        cwd=repo, check=True, capture_output=True,
                    )  # fmt: skip

            base, subj = interleave(rounds, lambda: time_call(rev_lists), lambda: time_call(cm.sync_all))
            figures.append(Figure(
                SUITE, f"sync_all, {size} sessions", "s", subj, "rev-list per session", base, "<=",
                0.3 if size >= 100 else None,  # the target is for 100 (and more) sessions
                note="fetch throttled in the timed rounds (reported by the process count below)"
                if size == sizes[0] else "",
            ))  # fmt: skip

            with counting_git(root) as log:
                cm.store.update_workspace(ws.id, last_fetch_at=None)
                calls(log)
                cm.sync_all()
                spawned = calls(log)
            figures.append(Figure(
                SUITE, f"git processes per sync_all (fetch forced), {size} sessions", "count",
                [float(len(spawned))], direction="<=", target=2.0,
                note=f"{size} sessions: " + ", ".join(f"{n}x {c}" for c, n in _counted(spawned)),
            ))  # fmt: skip

            times = [time_call(lambda: cm.rows()) for _ in range(rounds)]
            figures.append(Figure(SUITE, f"rows(), {size} sessions", "s", times, direction="<=",
                                  target=0.030 if size == 100 else None))  # fmt: skip
            times = [time_call(lambda: cm.table()) for _ in range(rounds)]
            figures.append(Figure(SUITE, f"table(), {size} sessions", "s", times))
            figures.append(Figure(SUITE, f"SQL statements per rows(), {size} sessions", "count",
                                  [float(_statements(cm, cm.rows))]))  # fmt: skip

            if size == 100:
                chatml = Path(sys.executable).parent / "chatml"
                cli = [str(chatml)] if chatml.exists() else [sys.executable, "-m", "chatml_lab.cli"]

                def run_list(cli: list[str] = cli) -> float:
                    started = time.perf_counter()
                    subprocess.run([*cli, "list"], check=True, capture_output=True)
                    return time.perf_counter() - started

                def run_pass() -> float:
                    started = time.perf_counter()
                    subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
                    return time.perf_counter() - started

                base, subj = interleave(rounds, run_pass, run_list)
                figures.append(Figure(SUITE, "chatml list, 100 sessions", "s", subj, "python -c pass",
                                      base, "<=", 8.0))  # fmt: skip
        cm.close()
    return figures


def _counted(names: list[str]) -> list[tuple[str, int]]:
    out: dict[str, int] = {}
    for name in names:
        out[name] = out.get(name, 0) + 1
    return sorted(out.items(), key=lambda kv: -kv[1])
