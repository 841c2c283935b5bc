"""A worktree's state read straight from its files, and the ignored files it carries.

The state is cheap enough for every table refresh; the ignored files are those ``.worktreeinclude``
carries into a new worktree.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..gitops.repo import GitRepo


@dataclass(frozen=True)
class Head:
    """What a worktree has checked out: a branch, or a detached commit."""

    branch: str | None
    commit: str | None


def read_head(worktree: Path) -> Head | None:
    """The worktree's HEAD from ``<wt>/.git`` → gitdir → ``HEAD``; None when it is not a worktree."""
    dot_git = worktree / ".git"
    try:
        if dot_git.is_file():
            pointer = dot_git.read_text(encoding="utf-8").strip()
            if not pointer.startswith("gitdir:"):
                return None
            gitdir = Path(pointer.removeprefix("gitdir:").strip())
            if not gitdir.is_absolute():
                gitdir = (worktree / gitdir).resolve()
        elif dot_git.is_dir():
            gitdir = dot_git
        else:
            return None
        head = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if head.startswith("ref:"):
        return Head(branch=head.removeprefix("ref:").strip().removeprefix("refs/heads/"), commit=None)
    return Head(branch=None, commit=head)


def disk_usage(path: Path) -> int:
    """Bytes used by the files under ``path`` (symlinks not followed; 0 when it is missing)."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return total


def copy_included(repo: GitRepo, source: Path, worktree: Path) -> list[str]:
    """Copy the ignored files ``.worktreeinclude`` names from ``source`` into ``worktree``."""
    copied = repo.included_ignored_files(source)
    for rel in copied:
        target = worktree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, target, follow_symlinks=False)
    return copied


def included_work(repo: GitRepo, root: Path, worktree: Path) -> list[str]:
    """Ignored files of a worktree that a snapshot must keep.

    They are named by the worktree's or the main checkout's ``.worktreeinclude`` and are not an
    identical copy of the main checkout's file.
    """
    names = set(repo.included_ignored_files(worktree))
    names.update(repo.included_ignored_files(worktree, root / ".worktreeinclude"))
    return sorted(name for name in names if not _same_file(worktree / name, root / name))


def _same_file(a: Path, b: Path) -> bool:
    """True when ``b`` is a byte-identical copy of ``a`` (symlinks compared by target)."""
    try:
        if a.is_symlink() or b.is_symlink():
            return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
        return b.is_file() and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False
