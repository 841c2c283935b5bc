"""A hermetic place to measure in: temp HOME and data dirs, repositories with history, a git counter."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

GIT = shutil.which("git") or "/usr/bin/git"

_ISOLATED = ("HOME", "CHATML_DATA_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
             "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")  # fmt: skip


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run git in ``cwd``; raise on failure; return stdout."""
    done = subprocess.run([GIT, *args], cwd=cwd, check=True, capture_output=True, input=stdin)
    return done.stdout.decode()


@contextmanager
def hermetic(prefix: str) -> Iterator[Path]:
    """A temp root; every home, data and config dir of this process and its children points into it."""
    root = Path(tempfile.mkdtemp(prefix=f"chatml-bench-{prefix}-"))
    saved = dict(os.environ)
    try:
        for name in _ISOLATED:
            path = root / "env" / name.lower()
            path.mkdir(parents=True)
            os.environ[name] = str(path)
        for name in (
            "CHATML_WORKSPACES_DIR",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_AUTH_TOKEN",
        ):
            os.environ.pop(name, None)
        os.environ.update({
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        })  # fmt: skip
        yield root
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(root, ignore_errors=True)


def _fast_import_stream(files: int, commits: int) -> bytes:
    """A ``git fast-import`` stream: ``files`` files in nested dirs, then ``commits - 1`` small changes."""
    line = "def function_{i}(value):\n    return value * {i}  # some realistic source text\n"
    out: list[bytes] = []
    when = 1_700_000_000
    paths = [f"pkg{i % 10}/mod{(i // 10) % 10}/sub{(i // 100) % 20}/file{i}.py" for i in range(files)]

    def blob(text: str) -> bytes:
        data = text.encode()
        return b"data %d\n%s\n" % (len(data), data)

    for n in range(commits):
        message = "initial import" if n == 0 else f"change {n}"
        out.append(b"commit refs/heads/main\n")
        out.append(b"committer Bench <bench@example.invalid> %d +0000\n" % (when + n * 60))
        out.append(blob(message))
        if n == 0:
            out.append(b"M 644 inline .gitignore\n" + blob(".env\n__pycache__/\n"))
            out.append(b"M 644 inline .worktreeinclude\n" + blob(".env\n"))
            for i, path in enumerate(paths):
                text = "".join(line.format(i=j) for j in range(i % 40 + 5))
                out.append(b"M 644 inline %s\n" % path.encode() + blob(text))
        else:
            for path in paths[n % 97 :: max(1, files // 40)]:
                out.append(b"M 644 inline %s\n" % path.encode() + blob(f"# change {n} of {path}\n"))
        out.append(b"\n")
    return b"".join(out)


def build_repository(root: Path, files: int, commits: int) -> tuple[Path, Path]:
    """A bare ``origin`` holding ``commits`` commits of a ``files``-file tree, and a checked-out clone."""
    origin = root / "origin.git"
    repo = root / "project"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(origin, "fast-import", "--quiet", stdin=_fast_import_stream(files, commits))
    git(root, "clone", "-q", str(origin), str(repo))
    (repo / ".env").write_text("SECRET=local\n")  # ignored, copied by .worktreeinclude
    git(repo, "remote", "set-head", "origin", "main")
    return origin, repo


def advance_origin(root: Path, origin: Path, commits: int) -> None:
    """Push ``commits`` new commits to origin's main from a scratch clone (sessions fall behind)."""
    scratch = root / f"scratch-{time.monotonic_ns()}"
    git(root, "clone", "-q", "--no-checkout", str(origin), str(scratch))
    for n in range(commits):
        git(scratch, "commit", "-q", "--allow-empty", "-m", f"upstream {n}")
    git(scratch, "push", "-q", "origin", "HEAD:main")
    shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def counting_git(root: Path) -> Iterator[Path]:
    """Put a ``git`` on PATH that logs each invocation (one line each) to the returned file."""
    shim_dir = root / "git-shim"
    shim_dir.mkdir(exist_ok=True)
    log = root / "git-calls.log"
    log.write_text("")
    shim = shim_dir / "git"
    shim.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec {GIT} "$@"\n')
    shim.chmod(0o755)
    saved = os.environ["PATH"]
    os.environ["PATH"] = f"{shim_dir}{os.pathsep}{saved}"
    try:
        yield log
    finally:
        os.environ["PATH"] = saved


def calls(log: Path) -> list[str]:
    """The git subcommands logged so far (and clear the log)."""
    names = [line.strip() for line in log.read_text().splitlines() if line.strip()]
    log.write_text("")
    return names


def settle() -> None:
    """Flush pending writes so one round's write-back does not land in the next one's timing."""
    os.sync()
    time.sleep(0.02)
