"""Pull-request polling cost and conflict-forecast speed.

1. Requests per ``refresh_prs`` pass for one workspace with 1, 10 and 100 sessions, every session
   with an open PR whose checks finished: the first (cold) pass, an idle pass (nothing changed),
   and a pass after one PR's CI result changed, counted by the GitHub emulator of the tests
   (real HTTP on 127.0.0.1, every body validated against githubkit's models).
2. ``conflicts()`` for 20 sessions (190 pairs + 20 merges with main, uncommitted work included),
   against the baseline of one ``git merge-tree --write-tree`` process for a single pair, and
   against 210 such processes (one per merge, what a naive forecast would run). Ratios printed.

Hermetic (temp HOME, data dir, git config); nothing leaves 127.0.0.1.

    .venv/bin/python benchmarks/bench_prs.py [--sizes 1,10,100] [--conflict-sessions 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_create import git, hermetic_env

from chatml_lab.core.manager import ChatML
from chatml_lab.github.client import reset_backoff
from tests.github_emulator import GitHubEmulator

REPO = "acme/project"


def build(root: Path, files: int = 300) -> tuple[Path, Path]:
    origin, repo = root / "origin.git", root / "project"
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "clone", "-q", str(origin), str(repo))
    git(repo, "checkout", "-q", "-b", "main")
    for i in range(files):
        path = repo / f"pkg{i % 10}" / f"mod{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"def f{i}_{j}(x):\n    return x + {j}\n" for j in range(20)))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "initial")
    git(repo, "push", "-q", "-u", "origin", "main")
    git(repo, "remote", "set-head", "origin", "main")
    return origin, repo


def polling(root: Path, size: int) -> dict[str, int]:
    origin, repo = build(root / f"poll-{size}", files=50)
    emu = GitHubEmulator()
    api = emu.start()
    reset_backoff()
    os.environ.update(GITHUB_TOKEN=emu.token, CHATML_GITHUB_API_URL=api)
    emu.add_repo(REPO, origin)
    data = root / f"data-{size}"
    try:
        with ChatML(data_dir=data) as cm:
            cm.update_workspace(cm.add_workspace(repo).name, github_repo=REPO)
            sessions = [cm.new_session(repo, name=f"s{i}") for i in range(size)]
            for s in sessions:
                (s.worktree / f"{s.name}.txt").write_text("work\n")
                git(s.worktree, "add", ".")
                git(s.worktree, "commit", "-q", "-m", f"work {s.name}")
            git(repo, "push", "-q", "origin", "refs/heads/chatml/*:refs/heads/chatml/*")
            for s in sessions:
                pull = emu.open_pr(REPO, s.branch, title=s.name)
                emu.set_check_run(pull.head_sha, "tests", "completed", "success")
            counts: dict[str, int] = {}
            for label in ("cold", "idle", "idle again"):
                before = len(emu.log)
                cm.refresh_prs()
                counts[label] = len(emu.log) - before
            emu.set_check_run(emu.pulls[(REPO, 1)].head_sha, "tests", "completed", "failure")
            emu.pulls[(REPO, 1)].updated = emu.tick()  # a re-run shows on the PR's timeline
            before = len(emu.log)
            cm.refresh_prs()
            counts["one PR changed"] = len(emu.log) - before
            statuses = {r.status for r in emu.log[-counts["idle again"] :]} if counts["idle again"] else set()
            counts["idle pass statuses"] = len(statuses)
            assert emu.invalid == [], emu.invalid
            return counts
    finally:
        emu.stop()


def conflicts(root: Path, n: int, runs: int) -> tuple[float, float, float]:
    _origin, repo = build(root / "conflicts")
    with ChatML(data_dir=root / "data-conflicts") as cm:
        sessions = [cm.new_session(repo, name=f"c{i}") for i in range(n)]
        for i, s in enumerate(sessions):
            j = i % 7  # sessions i and i + 7 edit the same line of the same file: a real conflict
            target = s.worktree / f"pkg{j % 10}" / f"mod{j}.py"
            target.write_text(target.read_text().replace("return x + 1\n", f"return x + 1 + {i}\n"))
            git(s.worktree, "commit", "-q", "-am", f"edit {i}")
            (s.worktree / f"notes-{i}.txt").write_text("uncommitted\n")
        tips = [git(repo, "rev-parse", s.branch).strip() for s in sessions]
        main = git(repo, "rev-parse", "origin/main").strip()
        pairs = [(main, t) for t in tips] + [(a, b) for i, a in enumerate(tips) for b in tips[i + 1 :]]

        def one_pair() -> None:
            subprocess.run(["git", "merge-tree", "--write-tree", "--name-only", tips[0], tips[1]],
                           cwd=repo, capture_output=True)  # fmt: skip

        def naive() -> None:
            for a, b in pairs:
                subprocess.run(
                    ["git", "merge-tree", "--write-tree", "--name-only", a, b], cwd=repo, capture_output=True
                )

        def forecast() -> None:
            cm.conflicts(fetch=False)

        timings: dict[str, list[float]] = {"pair": [], "naive": [], "forecast": []}
        for _ in range(runs):
            for label, fn in (("pair", one_pair), ("naive", naive), ("forecast", forecast)):
                start = time.perf_counter()
                fn()
                timings[label].append(time.perf_counter() - start)
        rows = cm.conflict_rows()
        print(
            f"  forecast found {sum(bool(r['conflicts_with']) for r in rows)} of {n} sessions in a conflict"
        )
        return tuple(statistics.median(timings[k]) for k in ("pair", "naive", "forecast"))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--conflict-sessions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatml-bench-prs-") as tmp:
        root = Path(tmp)
        hermetic_env(root)
        print("requests per refresh_prs pass (one workspace, every session with an open PR):")
        for size in (int(x) for x in args.sizes.split(",")):
            counts = polling(root, size)
            print(f"  {size:>3} sessions: cold {counts['cold']:>4}, idle {counts['idle']} (304s),"
                  f" idle again {counts['idle again']}, after one PR changed {counts['one PR changed']}")  # fmt: skip
        n = args.conflict_sessions
        pair, naive, forecast = conflicts(root, n, args.runs)
        merges = n + n * (n - 1) // 2
        print(f"conflicts() for {n} sessions ({merges} in-memory merges), median of {args.runs}:")
        print(f"  one merge-tree process (baseline) {pair * 1000:7.1f} ms")
        print(f"  {merges} merge-tree processes      {naive * 1000:7.1f} ms  ({naive / pair:5.1f}x baseline)")
        print(f"  conflicts()                     {forecast * 1000:7.1f} ms  ({forecast / pair:5.1f}x baseline,"
              f" {forecast / naive:4.2f}x the naive forecast)")  # fmt: skip


if __name__ == "__main__":
    main()
