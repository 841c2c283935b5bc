"""The sandbox's cost per Bash call: the same commands with and without bubblewrap.

Builds a repository of 2,000 files with a session worktree in a temp dir, then times, interleaved
round by round, through :class:`~chatml_lab.agents.tools.ToolRunner`:

- ``true``: a command that does nothing (bubblewrap set-up, the hook dir, the ref checks);
- ``commit``: write a file and commit it on the session's branch (the next call also packs the new
  loose objects, which is part of what is measured).

Prints the median of each, sandboxed and plain, and the ratios sandboxed/plain. Hermetic: HOME and
git's global config point into the temp dir.

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 15] [--files 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from chatml_lab.agents.sandbox import sandbox_available, sandbox_problem
from chatml_lab.agents.tools import ToolRunner


def git(cwd: Path, *args: str) -> None:
    """Run git in ``cwd``; raise on failure."""
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> tuple[Path, Path]:
    """A repository of ``files`` files and a session worktree on ``chatml/bench``."""
    repo = root / "repo"
    git(root, "init", "-q", "-b", "main", str(repo))
    for n in range(files):
        path = repo / f"pkg{n % 20}" / f"mod{n}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"VALUE = {n}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    worktree = root / "wt"
    git(repo, "worktree", "add", "-q", "-b", "chatml/bench", str(worktree))
    return repo, worktree


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    if not sandbox_available():
        print(f"no sandbox here: {sandbox_problem()}")
        return 1
    with tempfile.TemporaryDirectory(prefix="chatml-bench-sandbox-") as tmp:
        root = Path(tmp)
        os.environ["HOME"] = str(root)
        os.environ.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="bench",
                          GIT_COMMITTER_EMAIL="b@x", GIT_CONFIG_NOSYSTEM="1")  # fmt: skip
        repo, worktree = make_repo(root, args.files)
        runners = {
            "plain": ToolRunner(worktree, repo / ".git", sandbox=False),
            "sandboxed": ToolRunner(worktree, repo / ".git", sandbox=True),
        }
        times: dict[tuple[str, str], list[float]] = {}
        for n in range(args.runs):
            for mode, runner in runners.items():
                commands = {
                    "true": "true",
                    "commit": f"echo {n} > {mode}.txt && git add -A && git commit -qm {n}",
                }
                for name, command in commands.items():
                    started = time.perf_counter()
                    outcome = runner.run("Bash", {"command": command})
                    times.setdefault((mode, name), []).append(time.perf_counter() - started)
                    if not outcome.ok:
                        raise SystemExit(f"{mode} {name} failed: {outcome.output}")
        for name in ("true", "commit"):
            plain = statistics.median(times[("plain", name)])
            boxed = statistics.median(times[("sandboxed", name)])
            print(
                f"{name:7} plain {plain * 1000:7.1f} ms  sandboxed {boxed * 1000:7.1f} ms  ratio {boxed / plain:5.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
