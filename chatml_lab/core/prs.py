"""Live pull-request status: one poll pass per repository, changes recorded as ``pr_update`` events.

Task status follows the PR (open → ``in_review``, merged → ``done``) unless the user set it by
hand after the last automatic move. The setting ``archive_on_merge`` archives a merged session
through the normal, lossless archive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import ChatMLError, GitHubError, GitHubUnavailableError
from ..events import EventType
from ..github.poller import Observation, Tracked, poll_repository
from ..github.types import PullInfo
from ..models import CheckStatus, PRStatus, PullRequestChanges, PullRequestState, SessionRecord, TaskStatus
from ..storage.store import Store
from .github_access import GitHubAccess
from .records import Records
from .settings import Settings
from .workspaces import Workspaces

ETAG_TTL = 7 * 24 * 3600.0  # a validator unused for a week costs one full answer at most
ON_OPEN = ((TaskStatus.IN_PROGRESS,), TaskStatus.IN_REVIEW)
ON_MERGE = ((TaskStatus.BACKLOG, TaskStatus.IN_PROGRESS, TaskStatus.IN_REVIEW), TaskStatus.DONE)


@dataclass
class RefreshReport:
    """What the last pass did: requests per workspace, workspaces skipped and why, errors."""

    requests: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)


class PullRequestTracker:
    """Applies what GitHub says of PRs to sessions; makes poll passes."""

    def __init__(
        self,
        store: Store,
        config: Config,
        settings: Settings,
        workspaces: Workspaces,
        records: Records,
        access: GitHubAccess,
        archive: Callable[[str], object],
    ) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.workspaces = workspaces
        self.records = records
        self.access = access
        self.archive = archive
        self.last_report = RefreshReport()

    def record_event(self, session_id: str, event_type: EventType, data: dict[str, Any]) -> None:
        """Append an event to the session's task conversation."""
        conversation = self.records.conversations.conversation(session_id).id
        self.store.append_event(conversation, event_type, data)

    # -- applying one PR to one session ---------------------------------------------------------

    def apply(self, rec: SessionRecord, pull: PullInfo, checks: CheckStatus | None = None,
              checks_sha: str | None = None, note: str | None = None) -> bool:  # fmt: skip
        """Record ``pull`` (and ``checks`` when looked at) on the session.

        True when something a user sees changed: then a ``pr_update`` event is written and task
        status may move.
        """
        old = self.store.pr_state(rec.id)
        status = PRStatus.parse(pull.state)
        new_checks = (
            checks
            if checks is not None
            else (old.checks if pull.number == rec.pr_number else CheckStatus.NONE)
        )
        now = time.time()
        changes = _changes(rec, old, pull, status, new_checks)
        fields: PullRequestChanges = {
            "title": pull.title, "head": pull.head_ref, "head_sha": pull.head_sha, "base": pull.base_ref,
            "draft": pull.draft, "mergeable": pull.mergeable, "updated": pull.updated, "polled_at": now,
        }  # fmt: skip
        if checks is not None:
            fields.update({"checks": checks, "checks_sha": checks_sha or pull.head_sha, "checks_at": now})
        elif pull.number != rec.pr_number:
            fields.update({"checks": CheckStatus.NONE, "checks_sha": None, "checks_at": None})
        self.store.save_pr(
            rec.id, {"pr_status": status.value, "pr_number": pull.number, "pr_url": pull.url}, **fields
        )
        if not changes and note is None:
            return False
        moved = None
        if status is PRStatus.OPEN and rec.pr_status is not PRStatus.OPEN:
            moved = ON_OPEN[1] if self.store.auto_move_status(rec.id, *ON_OPEN) else None
        elif status is PRStatus.MERGED and rec.pr_status is not PRStatus.MERGED:
            moved = ON_MERGE[1] if self.store.auto_move_status(rec.id, *ON_MERGE) else None
        data: dict[str, Any] = {
            "pr_status": status.value, "pr_number": pull.number, "pr_url": pull.url,
            "checks": new_checks.value, "draft": pull.draft, "mergeable": pull.mergeable,
            "title": pull.title, "changes": changes,
        }  # fmt: skip
        if moved is not None:
            data["task_status"] = moved.value
        if note:
            data["message"] = note
        self.record_event(rec.id, EventType.PR_UPDATE, data)
        if status is PRStatus.MERGED and rec.pr_status is not PRStatus.MERGED:
            self._after_merge(rec)
        return True

    def _after_merge(self, rec: SessionRecord) -> None:
        if not self.settings.flag("archive_on_merge"):
            return
        try:
            if not self.records.get(rec.id).archived:
                self.archive(rec.id)
        except ChatMLError as exc:  # the merge stands; say why the archive did not happen
            self.records.notice(rec.id, f"archive_on_merge: {rec.name} was not archived: {exc}")

    # -- the pass -------------------------------------------------------------------------------

    def refresh(self, workspace: str | None = None) -> list[str]:
        """One pass over every workspace (or one): one list request per repository.

        Returns the ids of the sessions whose PR state changed.
        """
        report = RefreshReport()
        # Each machine polls its own workspaces; the rows it writes are everyone's view.
        workspaces = [self.workspaces.get(workspace)] if workspace is not None else self.workspaces.here()
        changed: list[str] = []
        first_error: GitHubError | None = None
        for ws in workspaces:
            records = self.store.sessions(include_archived=False, workspace_id=ws.id)
            if self.records.owners is not None:  # others' sessions are polled by their owners
                records = self.records.owners.writable(records)
            if not records:
                continue
            repo = self.access.repo_of(ws)
            if repo is None:
                report.skipped[ws.name] = "no GitHub repository"
                continue
            client = self.access.client(repo)  # no token: GitHubUnavailableError, one line
            states = self.store.pr_states([r.id for r in records])
            tracked = [_tracked(r, states[r.id]) for r in records]
            try:
                result = poll_repository(client, repo, tracked, time.time(), self.config.checks_recheck_after)
            except GitHubUnavailableError:
                raise
            except GitHubError as exc:
                report.errors[ws.name] = str(exc)
                first_error = first_error or exc
                continue
            report.requests[ws.name] = result.requests
            by_id = {r.id: r for r in records}
            for obs in result.observations:
                if self._apply_observation(by_id[obs.key], obs):
                    changed.append(obs.key)
        report.changed = changed
        self.last_report = report
        self.store.prune_etags(time.time() - ETAG_TTL)
        if first_error is not None and not report.requests:
            raise first_error
        return changed

    def _apply_observation(self, rec: SessionRecord, obs: Observation) -> bool:
        return self.apply(rec, obs.pull, obs.checks, obs.checks_sha)

    def poll_interval(self) -> float:
        """Seconds until the next pass: ChatML's 45 s while some session has an open PR, else 30 s."""
        any_open = any(r.pr_status is PRStatus.OPEN for r in self.store.sessions())
        return self.config.pr_poll_interval_open if any_open else self.config.pr_poll_interval


def _tracked(rec: SessionRecord, state: PullRequestState) -> Tracked:
    return Tracked(
        key=rec.id,
        branch=state.push_branch or state.head or rec.branch,
        created_at=rec.created_at,
        pr_number=rec.pr_number,
        pr_status=rec.pr_status.value,
        updated=state.updated,
        mergeable=state.mergeable,
        checks=state.checks,
        checks_sha=state.checks_sha,
        checks_at=state.checks_at,
    )


def _changes(rec: SessionRecord, old: PullRequestState, pull: PullInfo, status: PRStatus,
             checks: CheckStatus) -> list[str]:  # fmt: skip
    """Human-readable changes a user sees (``pr_status: open → merged``)."""
    pairs = [
        ("pr", f"#{rec.pr_number}" if rec.pr_number else "none", f"#{pull.number}"),
        ("pr_status", rec.pr_status.value, status.value),
        ("checks", old.checks.value, checks.value),
        ("draft", str(old.draft).lower(), str(pull.draft).lower()),
        ("title", old.title or "", pull.title),
    ]
    if pull.mergeable is not None:
        pairs.append(("mergeable", old.mergeable or "unknown", pull.mergeable))
    return [f"{key}: {a} → {b}" for key, a, b in pairs if a != b]
