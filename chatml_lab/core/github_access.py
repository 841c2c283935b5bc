"""Which GitHub repository a workspace is, and a client for it (the token stays in memory).

A workspace's repository is the one set with ``update_workspace(github_repo=...)``, else the one
its remote's URL names. A workspace with neither keeps working; PR features then say why not.
"""

from __future__ import annotations

from ..config import Config
from ..errors import GitError, GitHubUnavailableError
from ..github.client import GitHubClient
from ..github.remote import RepoRef, api_url, discover_token, parse_full_name, parse_remote_url
from ..gitops.repo import GitRepo
from ..models import Workspace
from ..storage.store import Store


class GitHubAccess:
    """GitHub repositories of workspaces and clients to reach them, for one manager."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._clients: dict[str, GitHubClient] = {}

    def remote_url(self, ws: Workspace) -> str | None:
        """The URL of the workspace's remote (None without one)."""
        if not ws.remote:
            return None
        try:
            return GitRepo(ws.path).run("remote", "get-url", ws.remote).strip() or None
        except GitError:
            return None

    def repo_of(self, ws: Workspace) -> RepoRef | None:
        """The workspace's GitHub repository, or None when it has none."""
        stored = self.store.github_repo(ws.id)
        url = self.remote_url(ws)
        from_url = parse_remote_url(url) if url else None
        if stored:
            return parse_full_name(stored, host=from_url.host if from_url else "github.com")
        return from_url

    def require_repo(self, ws: Workspace) -> RepoRef:
        """:meth:`repo_of`, or a one-line error saying how to set it."""
        found = self.repo_of(ws)
        if found is None:
            where = self.remote_url(ws)
            why = f"its remote {ws.remote} is {where}" if where else "it has no remote"
            raise GitHubUnavailableError(
                f"workspace {ws.name!r} has no GitHub repository ({why}): set one with"
                f" `chatml workspace set {ws.name} --github-repo OWNER/NAME`"
            )
        return found

    def set_repo(self, ws: Workspace, full_name: str | None) -> RepoRef | None:
        """Set (``owner/name``) or clear (None, ``""``) the workspace's GitHub repository."""
        if not full_name:
            self.store.set_github_repo(ws.id, None)
            return self.repo_of(ws)
        ref = parse_full_name(full_name)
        self.store.set_github_repo(ws.id, ref.full_name)
        return ref

    def client(self, repo: RepoRef) -> GitHubClient:
        """A client for the API root serving ``repo`` (token discovered on first use)."""
        root = api_url(repo.host)
        found = self._clients.get(root)
        if found is None:
            token = discover_token(repo.host)
            found = GitHubClient(token, root, etags=self.store, timeout=self.config.github_timeout)
            self._clients[root] = found
        return found
