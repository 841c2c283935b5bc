"""Workspaces: the git repositories sessions are made from, registered by path (DESIGN §2).

Also what the git policy asks of a workspace (DESIGN §4): fetch its remote (time-bounded,
throttled on request) and name the upstream new branches start from.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import (
    GitError,
    NotARepositoryError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
    WorkspaceRepositoryMissingError,
    WorkWouldBeLostError,
    command,
    option,
)
from ..gitops.repo import GitRepo
from ..models import Workspace
from ..storage.store import Store, new_id
from . import naming

Progress = Callable[[str], None]


class Workspaces:
    """Add, find, resolve and forget workspaces; fetch their remotes."""

    def __init__(self, store: Store, config: Config, progress: Progress) -> None:
        self.store = store
        self.config = config
        self.progress = progress

    def add(self, path: Path | str, name: str | None = None) -> Workspace:
        """Register a git repository (non-bare, with a commit); the repository is not changed."""
        repo = GitRepo(path)
        with repo.lock():  # two processes registering one repository: one row, one winner
            return self._add_locked(repo, name)

    def _add_locked(self, repo: GitRepo, name: str | None) -> Workspace:
        existing = self.store.workspace(str(repo.root))
        if existing:
            raise WorkspaceExistsError(f"{repo.root} is already the workspace {existing.name!r}")
        wanted = naming.slugify(name or repo.root.name)
        if name and self.store.workspace(wanted):
            raise WorkspaceExistsError(f"a workspace is already named {wanted!r}: choose another name")
        unique, n = wanted, 2
        while self.store.workspace(unique):
            unique, n = f"{wanted}-{n}", n + 1
        remotes = repo.remotes()
        remote = "origin" if "origin" in remotes else (remotes[0] if remotes else None)
        ws = Workspace(
            id=new_id()[:12],
            name=unique,
            path=repo.root,
            default_branch=repo.default_branch(remote),
            remote=remote,
            branch_prefix=None,
            created_at=time.time(),
            machine=self.store.machine,
            owner=self.config.user,
        )
        self.store.add_workspace(ws)
        return ws

    def repo(self, ws: Workspace) -> GitRepo:
        """The workspace's repository; a clear error when it was deleted or moved away."""
        problem = None
        if not ws.path.exists():
            problem = f"{ws.path} does not exist"
        else:
            try:
                return GitRepo(ws.path)
            except NotARepositoryError:
                problem = f"{ws.path} is not a git repository any more"
        remove = command(
            f"workspace remove {ws.name} --force", f'cm.remove_workspace("{ws.name}", force=True)'
        )
        repoint = command(
            f"workspace set {ws.name} --path NEW", f'cm.update_workspace("{ws.name}", path=NEW)'
        )
        raise WorkspaceRepositoryMissingError(
            f"the repository of workspace {ws.name!r} is missing ({problem}): re-point it with {repoint}"
            f" if it moved, or forget it with {remove}"
        )

    def set_path(self, key: str | Path, path: Path | str) -> Workspace:
        """Point a workspace at its repository's new place (after the repository was moved).

        The sessions' worktrees are re-linked to it (``git worktree repair``).
        """
        ws = self.get(key)
        repo = GitRepo(path)
        existing = self.store.workspace(str(repo.root))
        if existing is not None and existing.id != ws.id:
            raise WorkspaceExistsError(f"{repo.root} is already the workspace {existing.name!r}")
        with repo.lock():
            self.store.update_workspace(ws.id, path=repo.root)
            worktrees = [
                str(s.worktree_path) for s in self.store.sessions(False, ws.id) if s.worktree_path.exists()
            ]
            if worktrees:
                try:
                    repo.run("worktree", "repair", *worktrees)
                except GitError as exc:
                    self.progress(f"warning: could not re-link the session worktrees to {repo.root}: {exc}")
        return self.get(ws.id)

    def all(self) -> list[Workspace]:
        """Registered workspaces by name."""
        return self.store.workspaces()

    def here(self) -> list[Workspace]:
        """The workspaces whose repository is on this machine (issue 13): what git work may touch."""
        mine = self.store.machine
        return [ws for ws in self.store.workspaces() if mine is None or ws.machine in (None, mine)]

    def get(self, key: str | Path) -> Workspace:
        """A workspace by id, name or path (a path inside the repository works too)."""
        found = self.store.workspace(str(key))
        if found:
            return found
        path = Path(key).expanduser()
        if path.exists():
            try:
                root = GitRepo(path).root
            except NotARepositoryError:
                root = path.resolve()
            found = self.store.workspace(str(root))
            if found:
                return found
        raise WorkspaceNotFoundError(
            f"no workspace {str(key)!r}: add it with `chatml workspace add PATH` (see `chatml workspace list`)"
        )

    def name_of(self, workspace_id: str) -> str:
        """The workspace's name, or ``?`` when it is gone."""
        ws = self.store.workspace(workspace_id)
        return ws.name if ws else "?"

    def remove(self, key: str | Path, force: bool = False) -> None:
        """Forget a workspace. Its repository, worktrees and branches stay on disk."""
        ws = self.get(key)
        live = self.store.sessions(include_archived=True, workspace_id=ws.id)
        if live and not force:
            raise WorkWouldBeLostError(
                f"workspace {ws.name!r} still has {len(live)} session(s): delete or archive them first,"
                f" or remove it with {option('force')} (their worktrees and branches stay on disk)"
            )
        self.store.remove_workspace(ws.id)

    def resolve(self, repo_or_workspace: Workspace | str | Path | None) -> Workspace:
        """The workspace given, named, or at a path (the current directory when None).

        A repository nobody registered yet is registered on the spot.
        """
        if isinstance(repo_or_workspace, Workspace):
            return repo_or_workspace
        key = repo_or_workspace if repo_or_workspace is not None else Path.cwd()
        try:
            return self.get(key)
        except WorkspaceNotFoundError:
            if Path(key).expanduser().exists():
                try:
                    return self.add(key)
                except WorkspaceExistsError:
                    # Another process registered it between our look-up and our insert.
                    return self.get(key)
            if isinstance(key, Path) or os.sep in str(key):  # a path, not a workspace name
                raise NotARepositoryError(
                    f"{Path(key).expanduser()} does not exist: give the path of a git repository"
                ) from None
            raise

    def upstream(self, repo: GitRepo, ws: Workspace) -> str:
        """``<remote>/<default>`` when it exists, else the local default branch."""
        if ws.remote and repo.resolve(f"refs/remotes/{ws.remote}/{ws.default_branch}"):
            return f"{ws.remote}/{ws.default_branch}"
        return ws.default_branch

    def fetch(self, repo: GitRepo, ws: Workspace, force: bool = True) -> str | None:
        """Fetch the workspace's remote unless throttled; return a warning when it failed."""
        if not ws.remote:
            return None
        fresh = self.store.workspace(ws.id)
        last = fresh.last_fetch_at if fresh else None
        if not force and last and time.time() - last < self.config.fetch_throttle:
            return None
        self.progress(f"fetching {ws.remote}")
        error = repo.fetch(ws.remote, self.config.fetch_timeout)
        if error is None:
            self.store.update_workspace(ws.id, last_fetch_at=time.time())
        return error
