"""The pull-request and integration services of one manager, built once on first use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import Workspace
from .branch_update import BranchUpdater
from .github_access import GitHubAccess
from .prs import PullRequestTracker
from .ship import Shipper

if TYPE_CHECKING:
    from .manager import ChatML


@dataclass(frozen=True)
class Shipping:
    """GitHub access, the PR tracker, push/PR/merge, and branch updates."""

    access: GitHubAccess
    tracker: PullRequestTracker
    shipper: Shipper
    updater: BranchUpdater

    def github_repo_name(self, ws: Workspace) -> str | None:
        """``owner/name`` of a workspace's GitHub repository, or None."""
        found = self.access.repo_of(ws)
        return found.full_name if found else None

    @classmethod
    def of(cls, cm: ChatML) -> Shipping:
        """The manager's services (made on first use: a manager that never ships pays nothing)."""
        found = cm.__dict__.get("_shipping")
        if found is None:
            access = GitHubAccess(cm)
            tracker = PullRequestTracker(cm, access)
            found = cls(access, tracker, Shipper(cm, tracker), BranchUpdater(cm, access.rows))
            cm.__dict__["_shipping"] = found
        return found
