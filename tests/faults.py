"""Fault injection for the crash-safety tests: kill a `chatml` command at its N-th git call, then
check that no work was lost and that the database and git agree.

A `git` shim first on PATH counts the git commands the process runs (GitPython runs `git` from
PATH, and so does every subprocess here) and SIGKILLs its parent — the `chatml` process — just
before or just after the N-th one. The command runs in a forked child of the test process, so a
kill point costs a fork instead of a Python start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML
from chatml_lab.core.snapshots import SNAPSHOT_NS

from .conftest import git

SHIM = """#!/bin/sh
read -r n < "$CHATML_SHIM_COUNT"
n=$((n + 1))
echo "$n" > "$CHATML_SHIM_COUNT"
[ -n "$CHATML_SHIM_LOG" ] && echo "$*" >> "$CHATML_SHIM_LOG"
case "$*" in
  "$CHATML_SHIM_KILL_ON"*) [ -n "$CHATML_SHIM_KILL_ON" ] && CHATML_SHIM_KILL_AT=$n ;;
esac
if [ "$n" = "$CHATML_SHIM_KILL_AT" ] && [ "$CHATML_SHIM_WHEN" = before ]; then
  kill -9 "$PPID"; exit 137
fi
PATH="$CHATML_SHIM_PATH" "$CHATML_SHIM_GIT" "$@"
code=$?
if [ "$n" = "$CHATML_SHIM_KILL_AT" ] && [ "$CHATML_SHIM_WHEN" = after ]; then
  kill -9 "$PPID"
fi
exit $code
"""


def blob_id(data: bytes) -> str:
    """The id git gives a blob of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Shim:
    """The `git` shim: where it lives, and the environment that arms it."""

    def __init__(self, where: Path) -> None:
        self.dir = where / "shim-bin"
        self.dir.mkdir()
        (self.dir / "git").write_text(SHIM)
        (self.dir / "git").chmod(0o755)
        self.count = where / "shim-count"
        self.real = shutil.which("git") or "/usr/bin/git"

        self.log = where / "shim-log"

    def env(self, kill_at: int, when: str, log: bool = False, on: str = "") -> dict[str, str]:
        """The environment of a command killed at git call ``kill_at`` (0: counted, never killed),
        or at the first git command that starts with ``on``."""
        self.count.write_text("0")
        self.log.write_text("")
        path = os.environ["PATH"]
        return {
            "PATH": f"{self.dir}{os.pathsep}{path}", "CHATML_SHIM_PATH": path, "CHATML_SHIM_GIT": self.real,
            "CHATML_SHIM_COUNT": str(self.count), "CHATML_SHIM_KILL_AT": str(kill_at),
            "CHATML_SHIM_WHEN": when, "CHATML_SHIM_LOG": str(self.log) if log else "", "CHATML_SHIM_KILL_ON": on,
        }  # fmt: skip

    def calls(self) -> list[str]:
        """The git commands the last command run with ``log`` ran, in order."""
        return self.log.read_text().splitlines()


#: git commands that change refs, worktrees, an index or working files. Killing a process just
#: after any other git command leaves the same state as killing it just before that command.
MUTATING = ("update-ref", "worktree", "branch", "read-tree", "checkout-index", "stash", "fetch", "reset",
            "checkout", "commit ", "merge ", "apply")  # fmt: skip


def mutates(command: str) -> bool:
    """True when the git command line ``command`` may change what a later command sees."""
    return command.startswith(MUTATING)


def forked(argv: Sequence[str], env: dict[str, str], kill_after: float | None = None) -> int:
    """Run ``chatml ARGV`` in a forked child with ``env``; its wait status (SIGKILL'd after
    ``kill_after`` seconds when given)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 99
        try:
            os.environ.update(env)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = main(list(argv))
        finally:
            os._exit(code)
    if kill_after is not None:
        deadline = time.monotonic() + kill_after
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            time.sleep(0.002)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def killed(status: int) -> bool:
    """True when a wait status says SIGKILL."""
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@dataclass
class Work:
    """The work a session held before an operation: files by path, and an unpushed commit."""

    session_id: str
    branches: list[str]
    worktree: Path
    files: dict[str, bytes]
    commit: str


def make_work(cm: ChatML, repo: Path, name: str) -> Work:
    """A session with every kind of work: an unpushed commit, a changed tracked file, a staged new
    file, an untracked file and a changed ignored `.env` named by `.worktreeinclude`."""
    session = cm.new_session(repo, name=name)
    wt = session.worktree
    (wt / "feature.txt").write_text(f"feature of {name}\n")
    git(wt, "add", "feature.txt")
    git(wt, "commit", "-q", "-m", f"feature of {name}")
    (wt / "README.md").write_text(f"# changed in {name}\n")
    (wt / "staged.txt").write_text(f"staged in {name}\n")
    git(wt, "add", "staged.txt")
    (wt / "notes").mkdir()
    (wt / "notes" / "untracked.txt").write_bytes(bytes(range(256)) + name.encode())
    (wt / ".env").write_text(f"SECRET={name}\n")
    files = {rel: (wt / rel).read_bytes() for rel in ("feature.txt", "README.md", "staged.txt",
                                                        "notes/untracked.txt", ".env")}  # fmt: skip
    commit = git(wt, "rev-parse", "HEAD").strip()
    return Work(session.id, [session.branch], wt, files, commit)


def _tree(repo: Path, ref: str) -> dict[str, str]:
    out = git(repo, "ls-tree", "-r", "-z", ref)
    found = {}
    for item in filter(None, out.split("\0")):
        meta, path = item.split("\t", 1)
        found[path] = meta.split()[2]
    return found


def holds(repo: Path, ref: str, work: Work) -> bool:
    """True when ``ref`` holds every file of ``work`` byte for byte, and its commit."""
    tree = _tree(repo, ref)
    files = all(tree.get(rel) == blob_id(data) for rel, data in work.files.items())
    return files and git_ok(repo, "merge-base", "--is-ancestor", work.commit, ref)


def where_is(repo: Path, work: Work, worktree: Path | None = None) -> str | None:
    """Where every byte of ``work`` is (the worktree, or a ref), or None when some of it is lost."""
    patterns = [f"refs/heads/{b}" for b in work.branches] + [f"{SNAPSHOT_NS}/{work.session_id}/"]
    refs = git(repo, "for-each-ref", "--format=%(refname)", *patterns).split()
    holders = [r for r in refs if git_ok(repo, "merge-base", "--is-ancestor", work.commit, r)]
    if not holders:
        return None
    wt = worktree or work.worktree
    with contextlib.suppress(OSError):
        if all((wt / rel).read_bytes() == data for rel, data in work.files.items()):
            return "worktree"
    wanted = {rel: blob_id(data) for rel, data in work.files.items()}
    for ref in refs:
        tree = _tree(repo, ref)
        if all(tree.get(rel) == blob for rel, blob in wanted.items()):
            return ref
    return None


def git_ok(cwd: Path, *args: str) -> bool:
    """True when ``git ARGS`` succeeds."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True).returncode == 0


def disagreements(cm: ChatML, repo: Path) -> list[str]:
    """Every way the database and git disagree about the sessions of ``repo``'s workspace."""
    found: list[str] = []
    ws = cm.workspace(repo)
    records = cm.store.sessions(include_archived=True, workspace_id=ws.id)
    found += [f"open operation {op.kind} of {op.session_name}" for op in cm.store.open_operations()]
    listed = git(repo, "worktree", "list", "--porcelain")
    if "prunable" in listed:
        found.append("a prunable worktree record")
    trees = {Path(line[9:]) for line in listed.splitlines() if line.startswith("worktree ")} - {
        repo.resolve()
    }
    heads = set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/chatml/").split())
    for rec in records:
        if not git_ok(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{rec.branch}"):
            found.append(f"{rec.name}: branch {rec.branch} missing")
        if rec.archived:
            if rec.worktree_path.exists() or rec.worktree_path in trees:
                found.append(f"{rec.name}: archived but its worktree exists")
            if rec.snapshot_ref and not git_ok(repo, "rev-parse", "--verify", "--quiet", rec.snapshot_ref):
                found.append(f"{rec.name}: snapshot ref {rec.snapshot_ref} missing")
        else:
            if rec.worktree_path not in trees:
                found.append(f"{rec.name}: live but git has no worktree at {rec.worktree_path}")
            elif git(rec.worktree_path, "branch", "--show-current").strip() != rec.branch:
                found.append(f"{rec.name}: worktree not on {rec.branch}")
            if rec.health != "ok":
                found.append(f"{rec.name}: health {rec.health}")
    for path in trees - {r.worktree_path for r in records if not r.archived}:
        found.append(f"worktree of no session: {path}")
    for branch in heads - {r.branch for r in records}:
        found.append(f"branch of no session: {branch}")
    if ws.name and (cm.workspaces_dir / ws.name).exists():
        on_disk = set((cm.workspaces_dir / ws.name).iterdir())
        for path in on_disk - {r.worktree_path for r in records if not r.archived}:
            found.append(f"directory of no session: {path}")
    return found


@dataclass
class Tally:
    """One operation's row of the evidence table."""

    operation: str
    kill_points: int = 0
    kills: int = 0
    lost: int = 0
    disagreements: int = 0
    failed_retries: int = 0
    problems: list[str] = field(default_factory=list)

    def row(self) -> str:
        """``operation | kill points | kills that landed | lost | disagree | failed retries``."""
        return (f"{self.operation:10} | {self.kill_points:4} | {self.kills:4} | {self.lost} |"
                f" {self.disagreements} | {self.failed_retries}")  # fmt: skip
