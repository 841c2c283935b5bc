"""Session creation against a bare ``git worktree add -b`` on the same repository.

Builds a repository of a realistic size (2,000 files in nested directories, a few commits) with a
local bare ``origin`` in a temp dir, then times, interleaved round by round:

- ``bare``: ``git worktree add -b BRANCH PATH origin/main`` (the floor: what git itself needs);
- ``api``:  ``ChatML.new_session`` in-process (fetch from the local origin, worktree + branch, rows,
  ``.worktreeinclude``, setup-script lookup);
- ``cli``:  the ``chatml new`` command as a subprocess (adds interpreter start-up and imports).

Each created worktree is removed again outside the timed region (and the removal flushed to disk),
so every round sees the same repository. Prints the median and the minimum of each and the ratios api/bare and cli/bare.

Hermetic: HOME, CHATML_DATA_DIR, XDG dirs and git's global config all point into the temp dir.

    .venv/bin/python benchmarks/bench_create.py [--runs 15] [--files 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; raise on failure."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def hermetic_env(root: Path) -> None:
    """Point every home/data/config dir of this process (and its children) into ``root``."""
    for name in ("HOME", "CHATML_DATA_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                 "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):  # fmt: skip
        path = root / "env" / name.lower()
        path.mkdir(parents=True)
        os.environ[name] = str(path)
    for name in ("CHATML_WORKSPACES_DIR", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        os.environ.pop(name, None)
    os.environ.update({
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    })  # fmt: skip


def build_repository(root: Path, files: int) -> tuple[Path, Path]:
    """A bare origin and a clone with ``files`` files in nested dirs over three pushed commits."""
    origin = root / "origin.git"
    repo = root / "project"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "clone", "-q", str(origin), str(repo))
    git(repo, "checkout", "-q", "-b", "main")
    line = "def function_{i}(value):\n    return value * {i}  # some realistic source text\n"
    paths = []
    for i in range(files):
        rel = Path(f"pkg{i % 10}") / f"mod{(i // 10) % 10}" / f"sub{(i // 100) % 4}" / f"file{i}.py"
        paths.append(rel)
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(line.format(i=j) for j in range(i % 40 + 5)))
    (repo / ".gitignore").write_text(".env\n__pycache__/\n")
    (repo / ".worktreeinclude").write_text(".env\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial import")
    for step in (1, 2):
        for rel in paths[step::50]:
            with (repo / rel).open("a") as handle:
                handle.write(f"# change {step}\n")
        git(repo, "commit", "-q", "-am", f"change {step}")
    (repo / ".env").write_text("SECRET=local\n")  # ignored, copied by .worktreeinclude
    git(repo, "push", "-q", "-u", "origin", "main")
    git(repo, "remote", "set-head", "origin", "main")
    return origin, repo


def settle() -> None:
    """Flush the removal of the last worktree to disk, so its write-back does not land in the next timing."""
    os.sync()
    time.sleep(0.05)


def summary(name: str, times: list[float]) -> str:
    return f"{name:<5} median {statistics.median(times) * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=2000)
    opts = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="chatml-bench-"))
    try:
        hermetic_env(root)
        from chatml_lab.core.manager import ChatML

        _origin, repo = build_repository(root, opts.files)
        tracked = len(git(repo, "ls-files").splitlines())
        chatml = Path(sys.executable).parent / "chatml"
        cli_cmd = [str(chatml)] if chatml.exists() else [sys.executable, "-m", "chatml_lab.cli"]
        bare_dir = root / "bare-worktrees"

        cm = ChatML()
        ws = cm.add_workspace(repo)
        # Warm-up (page cache, first fetch, imports), not measured.
        cm.new_session(ws, name="warm-up").delete(force=True)

        bare: list[float] = []
        api: list[float] = []
        cli: list[float] = []
        for i in range(opts.runs):
            path = bare_dir / f"bare-{i}"
            start = time.perf_counter()
            git(repo, "worktree", "add", "-q", "-b", f"bench/bare-{i}", str(path), "origin/main")
            bare.append(time.perf_counter() - start)
            git(repo, "worktree", "remove", "--force", str(path))
            git(repo, "branch", "-q", "-D", f"bench/bare-{i}")
            settle()

            start = time.perf_counter()
            session = cm.new_session(ws, name=f"api-{i}")
            api.append(time.perf_counter() - start)
            session.delete(force=True)
            settle()

            start = time.perf_counter()
            proc = subprocess.run(
                [*cli_cmd, "new", f"cli-{i}", "--repo", str(repo)], capture_output=True, text=True
            )
            cli.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            cm.session(f"cli-{i}").delete(force=True)
            settle()
        cm.gc(dry_run=False)
        cm.close()

        print(f"repository: {tracked} tracked files, 3 commits, local bare origin; {opts.runs} runs each")
        print(summary("bare", bare) + "   git worktree add -b")
        print(summary("api", api) + "   ChatML.new_session (with fetch)")
        print(summary("cli", cli) + "   chatml new (subprocess)")
        base = statistics.median(bare)
        print(f"ratio api/bare {statistics.median(api) / base:5.2f}")
        print(f"ratio cli/bare {statistics.median(cli) / base:5.2f}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
