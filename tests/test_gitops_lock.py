"""The repository lock: re-entrant in a thread, exclusive across threads and processes.

Each wait on a lock that should be free runs with a deadline, so a regression fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from chatml_lab.gitops.repo import GitRepo

DEADLINE = 30.0

TAKE_LOCK = """
import sys
from chatml_lab.gitops.repo import GitRepo
repo = GitRepo(sys.argv[1])
print("waiting", flush=True)
with repo.lock():
    print("locked", flush=True)
"""


def _in_thread(target: Callable[[], None]) -> threading.Thread:
    # A daemon: a thread stuck on a broken lock must not keep the test process alive.
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_thread_that_holds_the_lock_can_take_it_again(repo: Path) -> None:
    """Issue 8: a rollback that re-took the lock its caller held waited on itself forever."""
    done = threading.Event()

    def nested() -> None:
        git_repo = GitRepo(repo)
        with git_repo.lock(), GitRepo(repo).lock(), git_repo.lock():  # a second GitRepo shares the lock
            done.set()

    _in_thread(nested).join(DEADLINE)
    assert done.is_set(), "taking the repository lock again in the same thread deadlocked"


class NestedHolder:
    """A thread that takes the lock twice, lets go of the inner hold, and keeps the outer one
    until :meth:`release` (a deadline on each step: a lock that is not re-entrant fails, not hangs)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.inner_released = threading.Event()
        self.go = threading.Event()
        self.thread = _in_thread(self._hold)
        assert self.inner_released.wait(DEADLINE), "taking the repository lock again deadlocked"

    def _hold(self) -> None:
        git_repo = GitRepo(self.repo)
        with git_repo.lock():
            with git_repo.lock():
                pass
            self.inner_released.set()
            self.go.wait(DEADLINE)

    def release(self) -> None:
        self.go.set()
        self.thread.join(DEADLINE)


def test_other_threads_wait_until_the_outermost_release(repo: Path) -> None:
    holder = NestedHolder(repo)
    got_it = threading.Event()

    def other() -> None:
        with GitRepo(repo).lock():
            got_it.set()

    thread = _in_thread(other)
    assert not got_it.wait(0.3), "another thread took the lock while the holder still held it"
    holder.release()
    thread.join(DEADLINE)
    assert got_it.is_set()


def test_other_processes_wait_until_the_outermost_release(repo: Path, tmp_path: Path) -> None:
    script = tmp_path / "take_lock.py"
    script.write_text(TAKE_LOCK)
    holder = NestedHolder(repo)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.5)
        assert proc.poll() is None, "another process took the lock while this one held it"
    finally:
        holder.release()
        try:
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "locked"


def test_the_lock_file_lives_in_the_common_git_dir(repo: Path, tmp_path: Path) -> None:
    """A linked worktree and the main checkout lock the same file: they are one repository."""
    linked = tmp_path / "linked"
    subprocess.run(["git", "worktree", "add", "-q", "-b", "side", str(linked)], cwd=repo, check=True)
    assert GitRepo(linked).lock_path == GitRepo(repo).lock_path == (repo / ".git" / "chatml.lock").resolve()
