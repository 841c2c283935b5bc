"""Snapshots of a worktree's whole state, and putting them back (never ``git stash``: the stash
is shared by every worktree). A mixin of :class:`~chatml_lab.gitops.repo.GitRepo`, which supplies
the plumbing it declares.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GitError

# Snapshot commits live on private refs; a fixed identity keeps them working where none is configured.
_SNAPSHOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "chatml snapshot",
    "GIT_AUTHOR_EMAIL": "chatml@localhost",
    "GIT_COMMITTER_NAME": "chatml snapshot",
    "GIT_COMMITTER_EMAIL": "chatml@localhost",
}


class Snapshots:
    """Snapshot commits (a worktree's tracked, untracked and chosen ignored files, with its index),
    restoring them, and checking that every byte came back.
    """

    if TYPE_CHECKING:
        root: Path

        def run(self, *args: str, cwd: Path | None = None, timeout: float | None = None) -> str:
            """See :meth:`GitRepo.run`."""

        def is_dirty(self, worktree: Path) -> bool:
            """See :meth:`GitRepo.is_dirty`."""

        def git_dir_of(self, worktree: Path) -> Path:
            """See :meth:`GitRepo.git_dir_of`."""

    def snapshot(self, worktree: Path, extra_ignored: list[str] | None = None) -> str | None:
        """Commit the worktree's whole state without touching it, its index or the stash.

        Returns the snapshot commit (None when the worktree is clean). Its first parent is HEAD,
        its second parent a commit of the index as it was, and its tree is every tracked and
        untracked, non-ignored file plus the ignored ``extra_ignored`` paths. :meth:`restore`
        puts it back.
        """
        if not self.is_dirty(worktree) and not extra_ignored:
            return None
        head = self.run("rev-parse", "HEAD", cwd=worktree).strip()
        index_tree = self.run("write-tree", cwd=worktree).strip()
        identity = {**os.environ, **_SNAPSHOT_IDENTITY}
        index_commit = self._git_env(
            worktree, identity, "commit-tree", index_tree, "-p", head, "-m", "chatml index snapshot"
        ).strip()
        tree = self.worktree_tree(worktree, extra_ignored)
        commit = self._git_env(
            worktree, identity, "commit-tree", tree, "-p", head, "-p", index_commit, "-m",
            "chatml worktree snapshot",
        ).strip()  # fmt: skip
        return commit

    def worktree_tree(self, worktree: Path, extra_ignored: list[str] | None = None) -> str:
        """The tree of everything in a worktree (tracked, untracked and ``extra_ignored`` files),
        written through a scratch index so the worktree's own index is untouched.
        """
        source = self.git_dir_of(worktree) / "index"
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / "index"
            if source.exists():
                shutil.copyfile(source, scratch)
            env = {**os.environ, "GIT_INDEX_FILE": str(scratch)}
            self._git_env(worktree, env, "add", "--all", "--", ".")
            if extra_ignored:
                self._git_env(worktree, env, "add", "--force", "--", *extra_ignored)
            return self._git_env(worktree, env, "write-tree").strip()

    def _git_env(self, cwd: Path, env: dict[str, str], *args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            why = (
                lines[-1].removeprefix("fatal: ").removeprefix("error: ")
                if lines
                else f"exit {proc.returncode}"
            )
            raise GitError(f"git {args[0]} failed: {why}")
        return proc.stdout

    def restore(self, worktree: Path, snapshot: str, merge: bool = True) -> bool:
        """Put a :meth:`snapshot` back into a worktree checked out at the snapshot's first parent
        (again and again: every file is written from the snapshot). Returns True.

        When the branch has moved since (commits made elsewhere while archived), the snapshot's
        changes are merged onto the new tip instead, as ``git stash apply --index`` does with a
        stash-shaped commit (applying a commit by id leaves the shared ``refs/stash`` alone), and
        False is returned; with ``merge`` False nothing is done in that case.
        """
        head = self.run("rev-parse", "HEAD", cwd=worktree).strip()
        if head != self.run("rev-parse", f"{snapshot}^1", cwd=worktree).strip():
            if not merge:
                return False
            try:
                self.run("stash", "apply", "--index", "--quiet", snapshot, cwd=worktree)
            except GitError:
                raise GitError(
                    f"the branch moved since the snapshot {snapshot[:12]} was taken and its changes conflict"
                    f" with the new commits: check out the branch and run `git stash apply --index {snapshot}`"
                ) from None
            return False
        index_tree = self.run("rev-parse", f"{snapshot}^2^{{tree}}", cwd=worktree).strip()
        deleted = self.run(
            "diff", "--name-only", "--no-renames", "--diff-filter=D", "-z", "HEAD", snapshot, cwd=worktree
        )
        for name in filter(None, deleted.split("\0")):
            target = worktree / name
            if target.is_file() or target.is_symlink():
                target.unlink()
        self.run("read-tree", f"{snapshot}^{{tree}}", cwd=worktree)
        self.run("checkout-index", "--all", "--force", cwd=worktree)
        self.run("read-tree", index_tree, cwd=worktree)
        return True

    def missing_from(self, worktree: Path, commit: str) -> list[str]:
        """Files of ``commit``'s tree that the worktree does not hold byte for byte (symlinks by
        target): empty when every file of a snapshot came back. Hashed here; git is asked only
        about files that differ, in case a filter (line endings, say) explains the difference.
        """
        listing = self.run("ls-tree", "-r", "-z", commit)
        differ: dict[str, str] = {}
        for item in filter(None, listing.split("\0")):
            meta, rel = item.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind != "blob":
                continue
            path = worktree / rel
            try:
                data = os.readlink(path).encode() if mode == "120000" else path.read_bytes()
            except OSError:
                differ[rel] = blob
                continue
            if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() != blob:
                differ[rel] = blob
        present = [rel for rel in differ if (worktree / rel).is_file() and not (worktree / rel).is_symlink()]
        if present:
            hashed = self.run("hash-object", "--", *present, cwd=worktree).split()
            for rel, blob in zip(present, hashed, strict=True):
                if differ[rel] == blob:
                    del differ[rel]
        return sorted(differ)

    def join_commits(self, tips: list[str], message: str) -> str:
        """A commit whose parents are ``tips`` (with the first one's tree): one ref reaching them all."""
        tree = self.run("rev-parse", f"{tips[0]}^{{tree}}").strip()
        args = [arg for tip in tips for arg in ("-p", tip)]
        env = {**os.environ, **_SNAPSHOT_IDENTITY}
        return self._git_env(self.root, env, "commit-tree", tree, *args, "-m", message).strip()
