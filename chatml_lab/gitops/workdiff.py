"""A session's whole change set: committed, staged, unstaged and untracked, against the merge-base.

:func:`workspace_diff` is what a reviewer reads (``get_workspace_diff``): the diff from the
merge-base of ``HEAD`` and ``origin/<default>`` to the worktree as it is on disk, new files
included. It is computed through a scratch index (a copy of the worktree's index plus
``git add --all``), so neither the worktree, its real index nor the shared stash is touched.
Notebooks are diffed cell by cell with nbdime (:mod:`chatml_lab.gitops.nbdiff`) instead of as JSON.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import GitError
from . import nbdiff

NOTEBOOK_SUFFIX = ".ipynb"


@dataclass(frozen=True)
class WorkDiff:
    """The change set of a worktree: ``base`` is the merge-base commit it is measured from."""

    base: str
    upstream: str | None
    files: list[str]
    text: str


def _git(worktree: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=worktree, env=env, capture_output=True, text=True, errors="replace", check=False
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise GitError(f"git {args[0]} failed in {worktree}: {detail.removeprefix('fatal: ')}")
    return proc.stdout


def merge_base(worktree: Path, upstream: str | None, fallback: str) -> tuple[str, str | None]:
    """``(merge-base of HEAD and upstream, upstream)``; ``(fallback, None)`` when upstream is missing."""
    if upstream:
        found = _git(worktree, "merge-base", "HEAD", upstream, check=False).strip()
        if found:
            return found, upstream
    return _git(worktree, "rev-parse", "--verify", f"{fallback}^{{commit}}").strip(), None


@contextmanager
def scratch_index(worktree: Path) -> Iterator[dict[str, str]]:
    """An environment whose ``GIT_INDEX_FILE`` holds the worktree's whole state, untracked files too."""
    index = _git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index").strip()
    with tempfile.TemporaryDirectory(prefix="chatml-diff-") as tmp:
        scratch = Path(tmp) / "index"
        if Path(index).is_file():
            shutil.copyfile(index, scratch)
        env = {**os.environ, "GIT_INDEX_FILE": str(scratch)}
        _git(worktree, "add", "--all", "--", ".", env=env)
        yield env


def _is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


def _old_text(worktree: Path, base: str, path: str) -> str | None:
    proc = subprocess.run(
        ["git", "show", f"{base}:{path}"], cwd=worktree, capture_output=True, text=True, check=False
    )
    return proc.stdout if proc.returncode == 0 else None


def _new_text(worktree: Path, path: str) -> str | None:
    target = worktree / path
    try:
        return target.read_text(encoding="utf-8") if target.is_file() else None
    except (OSError, UnicodeError):
        return None


def workspace_diff(
    worktree: Path,
    upstream: str | None,
    fallback_base: str,
    file_path: str | None = None,
    stat: bool = False,
) -> WorkDiff:
    """The worktree's changes since the merge-base with ``upstream`` (or ``fallback_base``).

    ``file_path`` limits the diff to one path (a file or a directory); ``stat`` gives the
    ``--stat`` summary (notebooks add a line counting changed cells) instead of the patch.
    """
    worktree = Path(worktree)
    base, used = merge_base(worktree, upstream, fallback_base)
    spec = ["--", file_path] if file_path else []
    with scratch_index(worktree) as env:
        names = _git(worktree, "diff", "--cached", "--name-only", "-z", base, *spec, env=env)
        files = [n for n in names.split("\0") if n]
        notebooks = [f for f in files if _is_notebook(f)]
        if stat:
            text = _git(worktree, "diff", "--cached", "--stat=120", base, *spec, env=env).rstrip("\n")
        else:
            others = [f for f in files if not _is_notebook(f)]
            text = (
                _git(worktree, "diff", "--cached", "--find-renames", base, "--", *others, env=env)
                if others
                else ""
            )
    sections = [text.rstrip("\n")] if text.strip() else []
    for path in notebooks:
        old, new = _old_text(worktree, base, path), _new_text(worktree, path)
        if stat:
            sections.append(f" {path} (notebook): {nbdiff.summary(old, new)}")
        else:
            sections.append(nbdiff.notebook_diff_text(old, new, path))
    return WorkDiff(base=base, upstream=used, files=files, text="\n".join(sections))
