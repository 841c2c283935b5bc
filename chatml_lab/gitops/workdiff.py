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
    tip: str | None = None,
) -> WorkDiff:
    """The worktree's changes since the merge-base with ``upstream`` (or ``fallback_base``).

    ``file_path`` limits the diff to one path (a file or a directory); ``stat`` gives the
    ``--stat`` summary (notebooks add a line counting changed cells) instead of the patch.
    With ``tip`` (a commit or branch), the committed changes up to ``tip`` instead of the
    worktree's state: ``worktree`` may then be any checkout of the repository.
    """
    worktree = Path(worktree)
    if tip is None:
        base, used = merge_base(worktree, upstream, fallback_base)
        with scratch_index(worktree) as env:
            return _diff(worktree, base, used, ["--cached", base], env, file_path, stat, None)
    tip_sha = _git(worktree, "rev-parse", "--verify", f"{tip}^{{commit}}").strip()
    found = _git(worktree, "merge-base", tip_sha, upstream, check=False).strip() if upstream else ""
    base, used = (found, upstream) if found else (_git(worktree, "rev-parse", fallback_base).strip(), None)
    return _diff(worktree, base, used, [base, tip_sha], None, file_path, stat, tip_sha)


def _diff(
    worktree: Path,
    base: str,
    upstream: str | None,
    range_args: list[str],
    env: dict[str, str] | None,
    file_path: str | None,
    stat: bool,
    tip: str | None,
) -> WorkDiff:
    spec = ["--", file_path] if file_path else []
    names = _git(worktree, "diff", "--name-only", "-z", *range_args, *spec, env=env)
    files = [n for n in names.split("\0") if n]
    notebooks = [f for f in files if _is_notebook(f)]
    if stat:
        text = _git(worktree, "diff", "--stat=120", *range_args, *spec, env=env).rstrip("\n")
    else:
        others = [f for f in files if not _is_notebook(f)]
        text = _git(worktree, "diff", "--find-renames", *range_args, "--", *others, env=env) if others else ""
    sections = [text.rstrip("\n")] if text.strip() else []
    for path in notebooks:
        old = _old_text(worktree, base, path)
        new = _old_text(worktree, tip, path) if tip else _new_text(worktree, path)
        if stat:
            sections.append(f" {path} (notebook): {nbdiff.summary(old, new)}")
        else:
            sections.append(nbdiff.notebook_diff_text(old, new, path))
    return WorkDiff(base=base, upstream=upstream, files=files, text="\n".join(sections))


def commit_log(worktree: Path, base: str, tip: str = "HEAD", limit: int = 200) -> list[dict[str, str]]:
    """Commits in ``base..tip``, newest first: ``sha``, ``short``, ``author``, ``date`` (ISO), ``subject``."""
    out = _git(worktree, "log", f"--max-count={limit}", "--format=%H%x1f%h%x1f%an%x1f%aI%x1f%s%x1e",
               f"{base}..{tip}")  # fmt: skip
    keys = ("sha", "short", "author", "date", "subject")
    return [
        dict(zip(keys, rec.strip("\n").split("\x1f"), strict=True))
        for rec in out.split("\x1e")
        if rec.strip()
    ]
