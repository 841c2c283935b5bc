"""Session creation on a 20,000-file repository with history, against a bare ``git worktree add -b``.

Rounds alternate which side goes first. The fetch is excluded from the timed creation (the
manager's workspace fetch is switched off for those rounds) and timed apart, as ``git fetch``
against the local bare origin. Each created worktree is removed outside the timed
region and the removal flushed to disk. A counting pass lists the git processes one
``new_session`` starts.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .env import GIT, build_repository, calls, counting_git, git, hermetic, settle
from .harness import Figure, interleave, time_call

SUITE = "create"


def run(quick: bool) -> list[Figure]:
    files = 20_000
    rounds = 5 if quick else 11
    figures: list[Figure] = []
    with hermetic("create") as root:
        from chatml_lab.config import Config
        from chatml_lab.core.manager import ChatML

        _origin, repo = build_repository(root, files=files, commits=30)
        tracked = len(git(repo, "ls-files").splitlines())
        cm = ChatML(config=Config(fetch_throttle=3600))
        ws = cm.add_workspace(repo)
        cm.new_session(ws, name="warm-up").delete(force=True)  # page cache, imports, first fetch
        counter = iter(range(10**6))

        def bare() -> float:
            n = next(counter)
            path = root / "bare" / f"b{n}"
            started = time.perf_counter()
            subprocess.run([GIT, "worktree", "add", "-q", "-b", f"bench/b{n}", str(path), "origin/main"],
                           cwd=repo, check=True, capture_output=True)  # fmt: skip
            took = time.perf_counter() - started
            git(repo, "worktree", "remove", "--force", str(path))
            git(repo, "branch", "-q", "-D", f"bench/b{n}")
            settle()
            return took

        real_fetch = cm._workspaces.fetch
        cm._workspaces.fetch = lambda *_a, **_k: None  # type: ignore[method-assign]

        def api() -> float:
            n = next(counter)
            started = time.perf_counter()
            session = cm.new_session(ws, name=f"api-{n}")
            took = time.perf_counter() - started
            session.delete(force=True)
            settle()
            return took

        base, subj = interleave(rounds, bare, api)
        figures.append(Figure(
            SUITE, f"new_session ({tracked} files, fetch excluded)", "s", subj, "git worktree add -b",
            base, "<=", 1.1, note="the workspace fetch is switched off in these rounds and timed apart",
        ))  # fmt: skip
        cm._workspaces.fetch = real_fetch  # type: ignore[method-assign]

        def fetch() -> float:
            return time_call(lambda: git(repo, "fetch", "--quiet", "--no-tags", "origin"))

        figures.append(
            Figure(SUITE, "git fetch of the workspace (apart)", "s", [fetch() for _ in range(rounds)])
        )

        chatml = Path(sys.executable).parent / "chatml"
        cli = [str(chatml)] if chatml.exists() else [sys.executable, "-m", "chatml_lab.cli"]

        def cli_new() -> float:
            n = next(counter)
            started = time.perf_counter()
            subprocess.run([*cli, "new", f"cli-{n}", "--repo", str(repo)], check=True, capture_output=True)
            took = time.perf_counter() - started
            cm.session(f"cli-{n}").delete(force=True)
            settle()
            return took

        base, subj = interleave(max(3, rounds // 2), bare, cli_new)
        figures.append(
            Figure(SUITE, "chatml new (subprocess, with fetch)", "s", subj, "git worktree add -b", base)
        )

        with counting_git(root) as log:
            calls(log)
            session = cm.new_session(ws, name="counted")
            spawned = calls(log)
            session.delete(force=True)
        beyond = [c for c in spawned if c != "worktree"]
        figures.append(Figure(
            SUITE, "git processes per new_session beyond worktree add", "count", [float(len(beyond))],
            direction="<=", target=3.0, note="fetch included; new_session starts: " + ", ".join(spawned),
        ))  # fmt: skip
        cm.gc(dry_run=False)
        cm.close()
    return figures
