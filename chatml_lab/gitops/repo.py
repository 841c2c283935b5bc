"""Git operations on one repository, serialised by a per-repository lock.

Only this package runs git (snapshots live in :mod:`.snapshot`). Commands run through GitPython; reads that a table refresh or a drift
pass repeats for every session (refs, ahead/behind, branch-name checks) run in-process through
pygit2 (libgit2), so they start no process. Everything that changes refs, worktrees or the index
takes :meth:`GitRepo.lock` (a file lock in the common git dir behind an in-process lock), so two
processes or two threads never run mutating git commands on one repository at once.

Opening a repository is cached per process: the checks (a non-bare repository with a commit) and
the discovery of its main checkout run once per path, so code that builds a :class:`GitRepo`
for every session of a workspace pays for it once. GitPython and pygit2 are imported on first
use, so commands that never touch git (``chatml list``) load neither.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    BareRepositoryError,
    EmptyRepositoryError,
    GitError,
    NotARepositoryError,
    PullRequestNotFoundError,
    RefNotFoundError,
)
from .snapshot import Snapshots

if TYPE_CHECKING:
    import git
    from filelock import FileLock

# One lock pair per repository and process, both re-entrant: a thread that holds the lock may take
# it again (a rollback inside a locked step) instead of waiting on itself. The thread lock queues
# threads without polling; the file lock, held once per process however deep the nesting, queues
# processes.
_LOCKS: dict[str, tuple[threading.RLock, FileLock]] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass
class _Opened:
    """What opening a repository found, kept per path for the life of the process."""

    repo: git.Repo
    root: Path
    common_dir: Path
    #: The libgit2 handle, opened on first use; libgit2 objects are not shared between threads
    #: at once, so every use holds ``lock``.
    native: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_OPENED: dict[str, _Opened] = {}
_OPENED_GUARD = threading.Lock()


@dataclass(frozen=True)
class WorktreeEntry:
    """One line group of ``git worktree list --porcelain``."""

    path: Path
    head: str | None
    branch: str | None
    detached: bool
    prunable: bool


def _first_line(exc: Any) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    for line in text.splitlines():
        line = line.strip().strip("'").removeprefix("stderr: ").strip("'").strip()
        if line:
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return str(exc.status)


class GitRepo(Snapshots):
    """A non-bare repository with at least one commit (validated when a path is first opened)."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path).expanduser()
        if not path.exists():
            raise NotARepositoryError(f"{path} does not exist: give the path of a git repository")
        key = str(path.absolute())
        opened = _OPENED.get(key)
        if opened is None or not opened.common_dir.is_dir() or not opened.root.is_dir():
            opened = self._open(path)
            with _OPENED_GUARD:
                _OPENED[key] = opened
        self._opened = opened
        self.repo = opened.repo
        self.root = opened.root
        self.common_dir = opened.common_dir

    def _open(self, path: Path) -> _Opened:
        import git

        try:
            repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise NotARepositoryError(
                f"{path} is not a git repository: run `git init` there or give a repository path"
            ) from None
        if repo.bare:
            raise BareRepositoryError(
                f"{path} is a bare repository: clone it (`git clone {path} DIR`) and add the clone"
            )
        self.repo = repo
        self.root = Path(repo.working_tree_dir or path).resolve()
        self.common_dir = Path(repo.common_dir).resolve()
        if Path(repo.git_dir).resolve() != self.common_dir:
            # A linked worktree (a session's, say): the repository is its main checkout.
            first = self.run("worktree", "list", "--porcelain").split("\n\n", 1)[0].splitlines()
            main = Path(first[0].removeprefix("worktree "))
            if "bare" not in first and main.is_dir():
                self.repo, self.root = git.Repo(main), main.resolve()
        try:
            repo.git.rev_parse("--verify", "HEAD^{commit}")
        except git.GitCommandError:
            if not self._has_any_commit():
                raise EmptyRepositoryError(
                    f"{self.root} has no commits yet: make a first commit, then add it again"
                ) from None
        return _Opened(self.repo, self.root, self.common_dir)

    @contextmanager
    def _native(self) -> Iterator[Any]:
        """The repository's pygit2 handle, held by this thread for the block."""
        opened = self._opened
        with opened.lock:
            if opened.native is None:
                import pygit2

                opened.native = pygit2.Repository(str(self.root))
            yield opened.native

    def _has_any_commit(self) -> bool:
        import git

        try:
            return bool(self.repo.git.rev_list("--all", "--max-count=1").strip())
        except git.GitCommandError:
            return False

    # -- plumbing -------------------------------------------------------------------------------

    def run(self, *args: str, cwd: Path | None = None, timeout: float | None = None) -> str:
        """Run ``git ARGS`` (in ``cwd`` or the main checkout); raise :class:`GitError` on failure."""
        import git

        runner = git.Git(str(cwd or self.root))
        try:
            out: str = runner.execute(["git", *args], kill_after_timeout=timeout, with_extended_output=False)  # type: ignore[call-overload]
            return out
        except git.GitCommandError as exc:
            raise GitError(f"git {args[0]} failed: {_first_line(exc)}") from exc

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise mutating git commands on this repository across threads and processes.

        Re-entrant: code that holds the lock may call code that takes it again.
        """
        # Keyed by pid too: a forked child gets locks of its own (filelock refuses inherited ones).
        key = f"{os.getpid()}:{self.common_dir}"
        with _LOCKS_GUARD:
            pair = _LOCKS.get(key)
            if pair is None:
                from filelock import FileLock  # here: commands that only read never pay its import

                pair = threading.RLock(), FileLock(self.lock_path)
                _LOCKS[key] = pair
        thread_lock, file_lock = pair
        with thread_lock, file_lock:
            yield

    @property
    def lock_path(self) -> Path:
        """The file other processes lock to run mutating git commands on this repository."""
        return self.common_dir / "chatml.lock"

    # -- refs -----------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None (in-process: no git process)."""
        import pygit2

        if not ref or ref.startswith("-"):
            return None
        with self._native() as native:
            try:
                found = native.revparse_single(ref)
                return str(found.peel(pygit2.Commit).id)
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                return None

    def require(self, ref: str) -> str:
        """The commit ``ref`` names; :class:`RefNotFoundError` when it names none."""
        sha = self.resolve(ref)
        if sha is None:
            raise RefNotFoundError(f"no branch, tag or commit named {ref!r} in {self.root}")
        return sha

    def branch_exists(self, branch: str) -> bool:
        """True when ``refs/heads/<branch>`` exists."""
        return self.resolve(f"refs/heads/{branch}") is not None

    def valid_branch_name(self, branch: str) -> bool:
        """True when git accepts ``branch`` as a branch name (git's ref-name rules, in-process)."""
        import pygit2

        # `git check-ref-format --branch` refuses these on top of the ref-name rules.
        if not branch or branch.startswith("-") or branch == "HEAD" or "@{" in branch:
            return False
        return bool(pygit2.reference_is_valid_name(f"refs/heads/{branch}"))

    def remotes(self) -> list[str]:
        """Configured remote names."""
        return [str(r.name) for r in self.repo.remotes]

    def current_branch(self) -> str | None:
        """The main checkout's branch, or None on a detached HEAD."""
        try:
            return self.run("symbolic-ref", "--quiet", "--short", "HEAD").strip() or None
        except GitError:
            return None

    def default_branch(self, remote: str | None) -> str:
        """``<remote>/HEAD``'s target, else the current branch, else main/master, else any branch."""
        if remote:
            try:
                target = self.run("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD").strip()
                return target.removeprefix(f"refs/remotes/{remote}/")
            except GitError:
                pass
        current = self.current_branch()
        if current:
            return current
        for name in ("main", "master"):
            if self.branch_exists(name) or (remote and self.resolve(f"refs/remotes/{remote}/{name}")):
                return name
        heads = self.run("for-each-ref", "--format=%(refname:short)", "refs/heads").split()
        if heads:
            return heads[0]
        raise EmptyRepositoryError(f"{self.root} has no branch to base sessions on")

    def update_ref(self, ref: str, sha: str) -> None:
        """Point ``ref`` at ``sha``."""
        self.run("update-ref", ref, sha)

    def create_ref(self, ref: str, sha: str) -> None:
        """Create ``ref`` at ``sha``; never move an existing ref (the same value again is a no-op).

        Snapshot refs get unique names and are written once: a retried step finds its own ref.
        """
        try:
            self.run("update-ref", ref, sha, "0" * 40)  # the all-zero old value: only if absent
        except GitError:
            current = self.resolve(ref)
            if current == sha:
                return
            if current is not None:
                raise GitError(f"{ref} already exists at {current[:12]}: it is never overwritten") from None
            raise

    def tree_of(self, rev: str) -> str | None:
        """The tree id of a commit (None when ``rev`` names none)."""
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{tree}}").strip() or None
        except GitError:
            return None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant`` (or is it)."""
        try:
            self.run("merge-base", "--is-ancestor", ancestor, descendant)
        except GitError:
            return False
        return True

    def delete_ref(self, ref: str) -> None:
        """Delete ``ref``."""
        self.run("update-ref", "-d", ref)

    def refs(self, prefix: str) -> dict[str, str]:
        """``{refname: sha}`` under ``prefix``."""
        out = self.run("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        pairs = (line.split(" ", 1) for line in out.splitlines() if line.strip())
        return {name: sha for name, sha in pairs}

    # -- remote ---------------------------------------------------------------------------------

    def fetch(self, remote: str, timeout: float, *refspecs: str) -> str | None:
        """Fetch ``remote`` within ``timeout`` seconds; return None on success, else why it failed."""
        args = ["fetch", "--quiet", "--no-tags", remote, *refspecs]
        try:
            self.run(*args, timeout=timeout)
        except GitError as exc:
            return str(exc)
        return None

    def fetch_pull_request(self, remote: str, number: int, timeout: float) -> str:
        """Fetch ``refs/pull/N/head`` (how GitHub publishes PRs, forks included); return its sha."""
        ref = f"refs/chatml/pr/{number}"
        error = self.fetch(remote, timeout, f"+refs/pull/{number}/head:{ref}")
        if error is not None:
            if "couldn't find remote ref" in error or "not our ref" in error:
                raise PullRequestNotFoundError(
                    f"pull request #{number} not found on {remote}: check the number"
                )
            raise GitError(f"could not fetch pull request #{number} from {remote}: {error}")
        sha = self.require(ref)
        self.delete_ref(ref)
        return sha

    # -- worktrees ------------------------------------------------------------------------------

    def worktrees(self) -> list[WorktreeEntry]:
        """Every worktree git knows of (the main checkout first)."""
        out = self.run("worktree", "list", "--porcelain")
        entries: list[WorktreeEntry] = []
        block: dict[str, str] = {}
        for line in [*out.splitlines(), ""]:
            if line.strip():
                key, _, value = line.partition(" ")
                block[key] = value
                continue
            if "worktree" in block:
                branch = block.get("branch")
                entries.append(
                    WorktreeEntry(
                        path=Path(block["worktree"]),
                        head=block.get("HEAD"),
                        branch=branch.removeprefix("refs/heads/") if branch else None,
                        detached="detached" in block,
                        prunable="prunable" in block,
                    )
                )
            block = {}
        return entries

    def add_worktree(self, path: Path, branch: str, start: str) -> None:
        """Create ``branch`` at ``start`` and check it out in a new worktree at ``path``."""
        self.run("worktree", "add", "--quiet", "-b", branch, str(path), start)

    def attach_worktree(self, path: Path, branch: str) -> None:
        """Check out an existing ``branch`` in a new worktree at ``path``."""
        self.run("worktree", "add", "--quiet", str(path), branch)

    def remove_worktree(self, path: Path) -> None:
        """Remove a worktree whose content is already safe (snapshotted or clean); forget git's
        record of one whose directory is already gone.
        """
        if path.exists():
            self.run("worktree", "remove", "--force", str(path))  # its record goes with it
        else:
            self.run("worktree", "prune")

    def delete_branch(self, branch: str) -> None:
        """Delete a local branch, merged or not (callers keep a snapshot first)."""
        self.run("branch", "-D", branch)

    def rename_branch(self, old: str, new: str) -> None:
        """Rename a local branch (works while it is checked out in a worktree)."""
        self.run("branch", "-m", old, new)

    # -- state of a worktree --------------------------------------------------------------------

    def status_porcelain(self, worktree: Path) -> str:
        """``git status --porcelain`` of a worktree (untracked files included)."""
        return self.run("status", "--porcelain", "--untracked-files=all", cwd=worktree)

    def operation_in_progress(self, worktree: Path) -> str | None:
        """``merge``, ``rebase``, ``cherry-pick`` or ``revert`` when one is under way in a worktree."""
        gitdir = self.git_dir_of(worktree)
        markers = (("MERGE_HEAD", "merge"), ("rebase-merge", "rebase"), ("rebase-apply", "rebase"),
                   ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"))  # fmt: skip
        for marker, name in markers:
            if (gitdir / marker).exists():
                return name
        return None

    def git_dir_of(self, worktree: Path) -> Path:
        """A worktree's own git dir (its HEAD and index live there), read from its ``.git`` file."""
        dot_git = worktree / ".git"
        try:
            pointer = dot_git.read_text(encoding="utf-8").strip() if dot_git.is_file() else ""
        except OSError:
            pointer = ""
        if pointer.startswith("gitdir:"):
            gitdir = Path(pointer.removeprefix("gitdir:").strip())
            return gitdir if gitdir.is_absolute() else (worktree / gitdir).resolve()
        return Path(self.run("rev-parse", "--absolute-git-dir", cwd=worktree).strip())

    def is_dirty(self, worktree: Path) -> bool:
        """True when the worktree has changes or untracked files."""
        return bool(self.status_porcelain(worktree).strip())

    def unique_commits(self, branch: str) -> int:
        """Commits on ``branch`` that no other branch, remote-tracking ref or tag holds."""
        # --exclude before --branches matches names without "refs/heads/" (a glob: escape it).
        pattern = "".join("\\" + c if c in "*?[\\" else c for c in branch)
        out = self.run(
            "rev-list", "--count", f"refs/heads/{branch}", "--not",
            f"--exclude={pattern}", "--branches", "--remotes", "--tags",
        )  # fmt: skip
        return int(out.strip() or 0)

    def ahead_behind(self, upstream: str, branch: str) -> tuple[int, int]:
        """``(ahead, behind)`` of ``branch`` against ``upstream`` with merge-base semantics
        (what ``git rev-list --left-right --count upstream...branch`` counts), in-process.
        """
        drift = self.drift(upstream, [branch])[branch]
        if drift is None:
            raise GitError(f"git rev-list failed: no branch or commit named {branch!r}")
        return drift

    def drift(self, upstream: str, branches: list[str]) -> dict[str, tuple[int, int] | None]:
        """``{branch: (ahead, behind)}`` against ``upstream`` for many local branches in one pass.

        libgit2 walks each pair only down to its merge base; no process starts. A branch that
        does not exist maps to None; an upstream that does not resolve raises :class:`GitError`.
        """
        base = self.resolve(upstream)
        if base is None:
            raise GitError(f"git rev-list failed: no branch or commit named {upstream!r}")
        import pygit2

        found: dict[str, tuple[int, int] | None] = {}
        with self._native() as native:
            upstream_id = pygit2.Oid(hex=base)
            for branch in branches:
                ref = native.references.get(f"refs/heads/{branch}")
                if ref is None:
                    found[branch] = None
                    continue
                tip = ref.peel(pygit2.Commit).id
                ahead, behind = native.ahead_behind(tip, upstream_id)
                found[branch] = (int(ahead), int(behind))
        return found

    def log_subjects(self, upstream: str, branch: str, limit: int = 50) -> list[str]:
        """Subjects of commits on ``branch`` not on ``upstream``, newest first."""
        out = self.run("log", f"--max-count={limit}", "--format=%h %s", f"{upstream}..{branch}")
        return [line for line in out.splitlines() if line.strip()]

    def diffstat(self, base: str, tip: str) -> str:
        """``git diff --stat`` from the merge base of ``base`` and ``tip`` to ``tip``."""
        return self.run("diff", "--stat", f"{base}...{tip}").rstrip()

    # -- .worktreeinclude -----------------------------------------------------------------------

    def included_ignored_files(self, source: Path, include: Path | None = None) -> list[str]:
        """Ignored files in ``source`` that ``.worktreeinclude`` names (gitignore syntax).

        Claude Code's convention: only files git ignores (``.env`` and the like) are copied;
        tracked files already come with the checkout. ``include`` is the pattern file
        (default: ``source/.worktreeinclude``).
        """
        include = include or source / ".worktreeinclude"
        if not include.is_file():
            return []
        out = self.run("ls-files", "--others", "--ignored", f"--exclude-from={include}", "-z", cwd=source)
        candidates = [name for name in out.split("\0") if name]
        if not candidates:
            return []
        proc = subprocess.run(
            ["git", "check-ignore", "--no-index", "-z", "--stdin"],
            cwd=source, input="\0".join(candidates), capture_output=True, text=True,
        )  # fmt: skip
        return sorted(name for name in proc.stdout.split("\0") if name)
