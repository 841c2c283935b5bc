"""The facade's pull-request and integration methods (issue 9), mixed into :class:`~.manager.ChatML`.

Thin delegates: the work is done by :mod:`.ship` (push, PRs, merge), :mod:`.prs` (live status),
:mod:`.branch_update` and :mod:`.forecast`, built over the manager's small collaborators by
:class:`~.shipping.Shipping` on first use (so a manager that never ships never loads githubkit).
The conflict forecast's DataFrame is built by the reports layer (:mod:`.table`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..models import PRStatus, PullRequestLink, PullRequestState, SessionRecord, Workspace
from ..storage.store import Store
from .archiver import Archiver
from .owners import Owners
from .records import Records
from .remote import on_its_machine
from .settings import Settings
from .workspaces import Workspaces

if TYPE_CHECKING:
    import pandas

    from .agents import AgentControl
    from .session import Session
    from .shipping import Shipping

_BUILD_LOCK = threading.Lock()


class ShipFacade:
    """Push, pull requests, live PR status, branch sync and the conflict forecast on the facade."""

    store: Store
    config: Config
    progress: Callable[[str], None]
    records: Records
    owners: Owners
    archiver: Archiver
    agents: AgentControl
    _settings: Settings
    _workspaces: Workspaces
    _shipping: Shipping | None = None

    if TYPE_CHECKING:

        def _handle(self, session_id: str) -> Session: ...

    @property
    def shipping(self) -> Shipping:
        """The GitHub access, PR tracker, shipper and branch updater.

        Made on first use, and made again when :attr:`config` was replaced (intervals, timeouts).
        """
        with _BUILD_LOCK:
            if self._shipping is None or self._shipping.config is not self.config:
                from .shipping import Shipping

                self._shipping = Shipping.build(
                    self.store, self.config, self._settings, self._workspaces, self.records, self.agents,
                    self.archiver.archive, lambda step: self.progress(step),
                )  # fmt: skip
            return self._shipping

    def _pr_number(
        self, repo_or_workspace: Workspace | str | Path | None, text: str
    ) -> tuple[Workspace, int]:
        """The workspace and PR number that ``--from-pr N|URL`` names (a URL must be of that workspace)."""
        from .ship import pr_number_from

        ws = self._workspaces.resolve(repo_or_workspace)
        return ws, pr_number_from(text, self.shipping.github_repo_name(ws))

    # -- workspaces -----------------------------------------------------------------------------

    def github_repo(self, key: str | Path) -> str | None:
        """The workspace's GitHub ``owner/name`` (set, or from its remote URL), or None."""
        return self.shipping.github_repo_name(self._workspaces.get(key))

    # -- one session ----------------------------------------------------------------------------

    @on_its_machine("push", "plain")
    def push(self, session_id: str, force_with_lease: bool = False) -> str:
        """Push the session's branch with upstream set; return what happened (``new``, ...)."""
        return self.shipping.shipper.push(session_id, force_with_lease=force_with_lease).outcome

    @on_its_machine("open the pull request of", "link")
    def create_pr(
        self, session_id: str, title: str | None = None, body: str | None = None, draft: bool = False,
        base: str | None = None,
    ) -> PullRequestLink:  # fmt: skip
        """Open (or link the open) pull request of the session; see :meth:`Session.create_pr`."""
        return self.shipping.shipper.create_pr(session_id, title=title, body=body, draft=draft, base=base)

    @on_its_machine("merge the pull request of", "plain")
    def merge_pr(self, session_id: str, method: str = "squash", force: bool = False) -> str:
        """Merge the session's PR (``squash``, ``merge``, ``rebase``); return the merge commit."""
        self.owners.check(session_id)
        return self.shipping.shipper.merge_pr(session_id, method=method, force=force)

    @on_its_machine("update the branch of")
    def update_branch(self, session_id: str, method: str = "rebase") -> SessionRecord:
        """Rebase onto (or merge) ``origin/<default>``, keeping uncommitted work."""
        return self.shipping.updater.update(session_id, method=method)

    @on_its_machine("abort the branch update of")
    def abort_update(self, session_id: str) -> SessionRecord:
        """Undo an update stopped on conflicts: branch tip and every uncommitted byte back."""
        self.owners.check(session_id)
        return self.shipping.updater.abort(session_id)

    def pr_state(self, session_id: str) -> PullRequestState:
        """What is known of the session's pull request (checks, draft, mergeable, title, ...)."""
        return self.store.pr_state(session_id)

    # -- every session --------------------------------------------------------------------------

    def refresh_prs(self, workspace: str | None = None) -> list[Session]:
        """One pass of live PR status (one list request per repository); the sessions that changed."""
        return [self._handle(sid) for sid in self.shipping.tracker.refresh(workspace)]

    def pr_poll_interval(self) -> float:
        """Seconds a background poller waits between :meth:`refresh_prs` passes.

        ChatML's intervals: 45 s while some session has an open PR, else 30 s (both configurable).
        """
        any_open = any(r.pr_status is PRStatus.OPEN for r in self.store.sessions())
        return self.config.pr_poll_interval_open if any_open else self.config.pr_poll_interval

    def conflict_rows(
        self, workspace: str | None = None, include_uncommitted: bool = True, fetch: bool = True
    ) -> list[dict[str, Any]]:
        """The conflict forecast as plain rows, in the suggested merge order."""
        from .forecast import conflict_rows

        return conflict_rows(
            self.store, self._workspaces, self.progress, workspace,
            include_uncommitted=include_uncommitted, fetch=fetch,
        )  # fmt: skip

    def conflicts(
        self, workspace: str | None = None, include_uncommitted: bool = True, fetch: bool = True
    ) -> pandas.DataFrame:
        """The conflict forecast as a DataFrame indexed by ``order``, the suggested merge order.

        For each live session: clean with ``origin/<default>`` (fetched first)? conflicting sessions
        and files. Computed in memory with ``git merge-tree``; uncommitted work counts unless
        ``include_uncommitted=False``.
        """
        from .table import conflict_table

        return conflict_table(
            self.conflict_rows(workspace, include_uncommitted=include_uncommitted, fetch=fetch)
        )
