"""One poll pass over one repository: list its PRs once, match them to sessions, ask only what moved.

Cost of a pass: one conditional list request (PRs of every state, most recently updated first,
so a merge or a push moves a PR to the top and changes the list's ETag). Then, and only for
sessions whose PR changed, one conditional single-PR look-up for the mergeable state; and two
conditional checks look-ups for PRs that changed, whose checks are still pending, or which
have no checks yet while the PR was updated less than ``recheck_after`` ago (CI registers a little
after a push); finished checks of an unchanged head are asked for again only after
``recheck_after``. A pass where nothing changed therefore costs one 304.

Matching is by head branch name (as ChatML does), a bound PR number winning over the name.
Merged and closed PRs are linked to a session without one only if they were updated after the
session was created: an old PR of a reused branch name is not this session's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..models import CheckStatus
from .client import GitHubClient
from .remote import RepoRef
from .types import PullInfo


@dataclass(frozen=True)
class Tracked:
    """What the core knows of one session, for one pass."""

    key: str
    branch: str
    created_at: float
    pr_number: int | None
    pr_status: str
    updated: str | None
    mergeable: str | None
    checks: CheckStatus
    checks_sha: str | None
    checks_at: float | None


@dataclass(frozen=True)
class Observation:
    """What the pass learnt of one session's PR. ``checks`` is None when they were not looked at."""

    key: str
    pull: PullInfo
    checks: CheckStatus | None
    checks_sha: str | None


@dataclass(frozen=True)
class PassResult:
    """The observations of a pass, whether the list changed, and how many requests it cost."""

    observations: list[Observation]
    list_changed: bool
    requests: int


def _epoch(iso: str) -> float:
    stamp = datetime.fromisoformat(iso)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def match(pulls: list[PullInfo], tracked: Tracked, repo: RepoRef) -> PullInfo | None:
    """The PR of ``tracked`` among ``pulls`` (most recently updated first)."""
    by_number = next((p for p in pulls if p.number == tracked.pr_number), None) if tracked.pr_number else None
    same_head = [p for p in pulls if p.head_ref == tracked.branch and p.head_repo == repo.full_name]
    open_head = next((p for p in same_head if p.state == "open"), None)
    if by_number is not None:
        # A newer open PR for the same branch replaces a merged or closed one (ChatML re-links).
        if by_number.state != "open" and open_head is not None and open_head.number != by_number.number:
            return open_head
        return by_number
    if tracked.pr_number:
        return None  # bound to a PR not in this page: asked for separately
    if open_head is not None:
        return open_head
    return next((p for p in same_head if _epoch(p.updated) >= tracked.created_at), None)


def poll_repository(
    client: GitHubClient,
    repo: RepoRef,
    sessions: list[Tracked],
    now: float,
    recheck_after: float,
) -> PassResult:
    """One pass for one repository (see the module docstring for its cost)."""
    before = client.requests
    observations: list[Observation] = []
    with client.connection():
        listing = client.list_pulls(repo)
        for tracked in sessions:
            pull = match(listing.pulls, tracked, repo)
            fetched = False
            if pull is None and tracked.pr_number and tracked.pr_status == "open" and not listing.complete:
                pull, fetched = client.get_pull(repo, tracked.pr_number), True
            if pull is None:
                continue
            moved = pull.updated != tracked.updated or pull.number != tracked.pr_number
            if not fetched and pull.state == "open" and (moved or tracked.mergeable in (None, "unknown")):
                pull, fetched = client.get_pull(repo, pull.number), True
            elif not fetched and not moved:
                pull = _keep_known(pull, tracked)
            checks: CheckStatus | None = None
            stale = tracked.checks_at is None or now - tracked.checks_at >= recheck_after
            # No checks yet on a recent head: CI usually registers a little after the push.
            young = tracked.checks is CheckStatus.NONE and now - _epoch(pull.updated) < recheck_after
            if pull.state == "open" and (
                moved
                or pull.head_sha != tracked.checks_sha
                or tracked.checks is CheckStatus.PENDING
                or stale
                or young
            ):
                checks = client.checks(repo, pull.head_sha)
                if checks is not tracked.checks and not fetched:
                    pull = client.get_pull(repo, pull.number)  # "unstable" follows the checks
            observations.append(
                Observation(tracked.key, pull, checks, pull.head_sha if checks is not None else None)
            )
    return PassResult(observations, listing.fresh, client.requests - before)


def _keep_known(pull: PullInfo, tracked: Tracked) -> PullInfo:
    """A listed PR (no mergeable state) carrying the mergeable state already known."""
    return replace(pull, mergeable=tracked.mergeable)
