"""Integration with the remote and the default branch: push, branch update, merge forecast.

Functions here take a :class:`~chatml_lab.gitops.repo.GitRepo` and hold its lock around every
change to refs or worktrees. Policy (DESIGN §4): never a plain force push, never ``git stash``;
uncommitted work rides through an update in a snapshot commit on a private ref, and an update
that stops on conflicts can always be undone byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import GitError, PushRejectedError
from .repo import GitRepo

# Rebase and merge must never open an editor in a kernel or a runner.
_NO_EDITOR = {"GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "true", "GIT_MERGE_AUTOEDIT": "no"}


@dataclass(frozen=True)
class PushResult:
    """What a push did: ``new``, ``fast-forward``, ``forced`` or ``up-to-date``."""

    remote: str
    remote_branch: str
    outcome: str
    sha: str


@dataclass(frozen=True)
class UpdateOutcome:
    """Where a rebase or merge onto the default branch ended.

    ``status`` is ``updated``, ``up-to-date`` or ``conflict`` (``files`` then lists the conflicting paths).
    """

    status: str
    head: str
    files: list[str]


@dataclass(frozen=True)
class MergeForecast:
    """Whether merging two commits would conflict, and on which paths (nothing checked out)."""

    clean: bool
    files: list[str]


def _git(cwd: Path, *args: str, extra_env: dict[str, str] | None = None,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {**os.environ, **(extra_env or {})}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, input=stdin)


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
    hints = [line for line in lines if not line.startswith("hint:")]
    return (hints or lines or [f"exit {proc.returncode}"])[-1].removeprefix("fatal: ").removeprefix("error: ")


# -- push ---------------------------------------------------------------------------------------


def push(
    repo: GitRepo,
    worktree: Path,
    remote: str,
    branch: str,
    remote_branch: str,
    force_with_lease: bool = False,
    lease: str | None = None,
    timeout: float = 60.0,
) -> PushResult:
    """Push ``branch`` to ``remote_branch`` on ``remote`` (a name or URL) and set it as upstream.

    Never a plain force. With ``force_with_lease`` the remote branch is overwritten only if it
    still is at ``lease`` (the commit last fetched; None: it must not exist), so commits pushed
    by someone else since are never lost. A remote that has moved on gets
    :class:`PushRejectedError` naming ``force_with_lease``.
    """
    sha = repo.require(f"refs/heads/{branch}")
    args = ["push", "--porcelain", "--set-upstream"]
    if force_with_lease:
        args.append(f"--force-with-lease=refs/heads/{remote_branch}:{lease or ''}")
    args += [remote, f"refs/heads/{branch}:refs/heads/{remote_branch}"]
    with repo.lock():
        try:
            proc = subprocess.run(
                ["git", *args], cwd=worktree, capture_output=True, text=True, timeout=timeout,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise GitError(
                f"git push to {remote} took longer than {timeout:.0f} s: check the network"
            ) from None
    flag, summary = _porcelain_ref_line(proc.stdout, remote_branch)
    if flag == "!":
        if "stale info" in summary:
            raise PushRejectedError(
                f"{remote_branch} on {remote} moved since it was last fetched (someone pushed): fetch,"
                " look at their commits, then push again"
            )
        raise PushRejectedError(
            f"{remote_branch} on {remote} has commits this session does not have (the branches diverged):"
            " update the session first, or push with force_with_lease=True to overwrite them"
            " (`chatml push NAME --force-with-lease`)"
        )
    if proc.returncode != 0 or flag is None:
        raise GitError(f"git push to {remote} failed: {_last_line(proc)}")
    outcome = {"*": "new", "+": "forced", "=": "up-to-date"}.get(flag, "fast-forward")
    return PushResult(remote=remote, remote_branch=remote_branch, outcome=outcome, sha=sha)


def _porcelain_ref_line(out: str, remote_branch: str) -> tuple[str | None, str]:
    """The flag (`` ``, ``+``, ``*``, ``=``, ``!``, ``-``) and summary of our ref in ``push --porcelain``."""
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[1].endswith(f":refs/heads/{remote_branch}"):
            return fields[0], fields[2]
    return None, ""


# -- update onto the default branch -------------------------------------------------------------


def conflicted_files(worktree: Path) -> list[str]:
    """Paths with unmerged entries in a worktree's index."""
    out = _git(worktree, "diff", "--name-only", "--diff-filter=U", "-z").stdout
    return sorted({name for name in out.split("\0") if name})


def set_aside(repo: GitRepo, worktree: Path) -> None:
    """Make the worktree match HEAD (tracked and untracked, never ignored files).

    Only called once a snapshot ref holds everything this removes.
    """
    for args in (("reset", "--quiet", "--hard", "HEAD"), ("clean", "--quiet", "-f", "-d")):
        proc = _git(worktree, *args)
        if proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {_last_line(proc)}")


def integrate(repo: GitRepo, worktree: Path, branch: str, onto: str, method: str) -> UpdateOutcome:
    """Rebase ``branch`` onto ``onto``, or merge ``onto`` into it, in a clean worktree.

    On conflicts git stops and leaves the worktree in the conflicted state; the outcome lists
    the files. The caller has set uncommitted work aside (:func:`set_aside`) beforehand.
    """
    onto_sha = repo.require(onto)
    head = _git(worktree, "rev-parse", "HEAD").stdout.strip()
    if _git(worktree, "merge-base", "--is-ancestor", onto_sha, head).returncode == 0:
        return UpdateOutcome("up-to-date", head, [])
    if method == "rebase":
        proc = _git(worktree, "rebase", "--quiet", onto_sha, extra_env=_NO_EDITOR)
    else:
        message = f"Merge {onto} into {branch}"
        proc = _git(worktree, "merge", "--quiet", "--no-edit", "-m", message, onto_sha, extra_env=_NO_EDITOR)
    if proc.returncode != 0:
        files = conflicted_files(worktree)
        if files or repo.operation_in_progress(worktree):
            return UpdateOutcome("conflict", head, files)
        raise GitError(f"git {method} onto {onto} failed: {_last_line(proc)}")
    return UpdateOutcome("updated", _git(worktree, "rev-parse", "HEAD").stdout.strip(), [])


def rewind(repo: GitRepo, worktree: Path, branch: str, old_head: str) -> None:
    """Abandon a rebase or merge under way and put ``branch`` back at ``old_head``, worktree clean."""
    operation = repo.operation_in_progress(worktree)
    if operation in ("rebase", "merge"):
        _git(worktree, f"{operation}", "--abort")
    proc = _git(worktree, "checkout", "--quiet", "--force", "-B", branch, old_head)
    if proc.returncode != 0:
        raise GitError(f"could not put {branch} back at {old_head[:10]}: {_last_line(proc)}")
    set_aside(repo, worktree)


# -- forecast -----------------------------------------------------------------------------------

_IN_PROGRESS = ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD", "REVERT_HEAD")
_FORECAST_IDENTITY = {
    "GIT_AUTHOR_NAME": "chatml forecast", "GIT_AUTHOR_EMAIL": "chatml@localhost",
    "GIT_COMMITTER_NAME": "chatml forecast", "GIT_COMMITTER_EMAIL": "chatml@localhost",
}  # fmt: skip


def _gitdir(worktree: Path) -> Path | None:
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return dot_git
    try:
        pointer = dot_git.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not pointer.startswith("gitdir:"):
        return None
    gitdir = Path(pointer.removeprefix("gitdir:").strip())
    return gitdir if gitdir.is_absolute() else (worktree / gitdir).resolve()


def worktree_commit(worktree: Path, head_tree: str | None = None) -> str | None:
    """A commit of the worktree as it is, on top of HEAD; None when clean or mid-merge/rebase.

    Tracked and untracked files count, ignored ones do not; it is made with a scratch index.
    Lighter than :meth:`GitRepo.snapshot` (no index commit: a forecast needs the files only);
    nothing is touched but the object store. Safe to run for several worktrees at once.
    """
    gitdir = _gitdir(worktree)
    if gitdir is None or any((gitdir / marker).exists() for marker in _IN_PROGRESS):
        return None
    with tempfile.TemporaryDirectory(prefix="chatml-forecast-") as tmp:
        scratch = Path(tmp) / "index"
        if (gitdir / "index").is_file():
            shutil.copyfile(gitdir / "index", scratch)
        env = {"GIT_INDEX_FILE": str(scratch)}
        if _git(worktree, "add", "--all", "--", ".", extra_env=env).returncode != 0:
            return None
        if (
            head_tree is None
            and _git(worktree, "diff-index", "--cached", "--quiet", "HEAD", extra_env=env).returncode == 0
        ):
            return None
        tree = _git(worktree, "write-tree", extra_env=env).stdout.strip()
        if tree == head_tree:  # ``head_tree``: HEAD's tree, known to the caller (one process less)
            return None
    proc = _git(worktree, "commit-tree", tree, "-p", "HEAD", "-m", "chatml forecast snapshot",
                extra_env=_FORECAST_IDENTITY)  # fmt: skip
    return proc.stdout.strip() if proc.returncode == 0 and tree else None


def merge_forecasts(repo: GitRepo, pairs: list[tuple[str, str]]) -> list[MergeForecast]:
    """For each ``(a, b)`` of commits, whether ``git merge`` would conflict and on which files.

    One ``git merge-tree --stdin`` process computes every merge in memory: no worktree, index or
    ref is touched.
    """
    if not pairs:
        return []
    stdin = "".join(f"{a} {b}\n" for a, b in pairs)
    proc = _git(repo.root, "merge-tree", "--stdin", "--name-only", "--no-messages",
                "--allow-unrelated-histories", stdin=stdin)  # fmt: skip
    if proc.returncode not in (0, 1):
        raise GitError(f"git merge-tree failed: {_last_line(proc)}")
    tokens = proc.stdout.split("\0")
    results: list[MergeForecast] = []
    i = 0
    while len(results) < len(pairs):
        if i + 1 >= len(tokens):
            raise GitError("git merge-tree --stdin answered fewer merges than asked")
        status = tokens[i]
        i += 2  # status, tree
        files: list[str] = []
        while i < len(tokens) and tokens[i] != "":
            files.append(tokens[i])
            i += 1
        i += 1  # the empty field that ends the merge
        results.append(MergeForecast(clean=status == "1", files=sorted(set(files))))
    return results
