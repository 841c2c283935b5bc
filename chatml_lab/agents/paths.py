"""Worktree confinement for the file tools: which paths a tool may read, write or list.

A path is refused, with a :class:`~chatml_lab.agents.toolspec.ToolError` and nothing touched,
when it starts with ``~``, has a ``..`` component, is absolute but outside the worktree, or
resolves outside it through a symlink (a file or any parent directory). Writes into ``.git`` are
refused too: the worktree's ``.git`` file and the repository's git directory belong to git.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .toolspec import ToolError


class Confinement:
    """The paths of one worktree that the file tools may use."""

    def __init__(self, worktree: Path, git_common_dir: Path) -> None:
        self.worktree = Path(os.path.abspath(worktree))
        self.root = self.worktree.resolve()
        self.git_common_dir = Path(os.path.abspath(git_common_dir))

    def resolve(self, raw: str, write: bool = False) -> Path:
        """The real path for ``raw`` inside the worktree, or :class:`ToolError` saying why not."""
        if not raw or not raw.strip():
            raise ToolError("file_path is empty")
        if raw.startswith("~"):
            raise ToolError(f"{raw}: home-relative paths are not allowed; use a path inside the worktree")
        path = Path(raw)
        if ".." in path.parts:
            raise ToolError(f"{raw}: '..' is not allowed; use a path inside the worktree")
        if path.is_absolute():
            if not (path.is_relative_to(self.worktree) or path.is_relative_to(self.root)):
                raise ToolError(f"{raw} is outside the worktree {self.worktree}")
            base = self.worktree if path.is_relative_to(self.worktree) else self.root
            path = path.relative_to(base)
        real = (self.root / path).resolve()
        if not real.is_relative_to(self.root):
            raise ToolError(f"{raw} leads outside the worktree through a symlink")
        if write:
            inside = real.relative_to(self.root).parts
            if not inside:
                raise ToolError(f"{raw} is the worktree itself, not a file")
            if ".git" in inside or real.is_relative_to(self.git_common_dir.resolve()):
                raise ToolError(f"{raw} is inside .git: git's files are not edited by hand")
        return real

    def shown(self, path: Path) -> str:
        """``path`` as the agent sees it: relative to the worktree (``.`` for the worktree)."""
        return str(path.relative_to(self.root)) if path != self.root else "."

    def walk(self, base: Path) -> Iterator[Path]:
        """Files under ``base``, skipping ``.git``; symlinked files count only if they stay inside.

        ``os.walk`` does not descend into symlinked directories, so a link loop cannot trap it.
        """
        for folder, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(names):
                path = Path(folder, name)
                real = path.resolve()
                if real.is_relative_to(self.root) and real.is_file():
                    yield path
