"""The pull-request and integration services of one manager, built once on first use.

Built from the same small collaborators the rest of the core gets (store, config, settings,
workspaces, records, the agents' states and the archiver), never from the facade. Importing this
module imports the GitHub client, so the facade reaches it lazily: a manager that never ships
never loads githubkit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import Config
from ..models import Workspace
from ..storage.store import Store
from .branch_update import AgentStates, BranchUpdater
from .github_access import GitHubAccess
from .prs import PullRequestTracker
from .records import Records
from .settings import Settings
from .ship import Shipper
from .workspaces import Workspaces


@dataclass(frozen=True)
class Shipping:
    """GitHub access, the PR tracker, push/PR/merge, and branch updates, over one configuration."""

    config: Config
    access: GitHubAccess
    tracker: PullRequestTracker
    shipper: Shipper
    updater: BranchUpdater

    def github_repo_name(self, ws: Workspace) -> str | None:
        """``owner/name`` of a workspace's GitHub repository, or None."""
        found = self.access.repo_of(ws)
        return found.full_name if found else None

    @classmethod
    def build(
        cls,
        store: Store,
        config: Config,
        settings: Settings,
        workspaces: Workspaces,
        records: Records,
        agents: AgentStates,
        archive: Callable[[str], object],
        progress: Callable[[str], None],
    ) -> Shipping:
        """The services over one manager's collaborators (``archive`` archives a session by id)."""
        access = GitHubAccess(store, config)
        tracker = PullRequestTracker(store, config, settings, workspaces, records, access, archive)
        shipper = Shipper(store, config, tracker, progress)
        updater = BranchUpdater(store, records, workspaces, agents, progress)
        return cls(config, access, tracker, shipper, updater)
