"""Reading a worktree's state straight from its files: cheap enough to do on every table refresh."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
