"""Work leaving a session: push, open or link a pull request, merge it, bind a session to a PR.

Git goes through :mod:`chatml_lab.gitops.integration`, GitHub through :mod:`chatml_lab.github`;
this module decides what to do (push only when needed, never a duplicate PR, refuse a merge that
would not be clean unless forced) and records it (``pr_update``/``notice`` events, PR columns).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import (
    ChatMLError,
    GitError,
    GitHubError,
    InvalidArgumentError,
    PullRequestRefusedError,
    UpdateInProgressError,
)
from ..events import EventType
from ..github.remote import PR_URL
from ..github.types import PullInfo
from ..gitops import integration
from ..gitops.repo import GitRepo
from ..models import CheckStatus, MergeMethod, PRStatus, PullRequestLink, SessionRecord, Workspace
from ..storage.store import Store
from .prs import ON_OPEN, PullRequestTracker

TEMPLATES = (
    ".github/pull_request_template.md", ".github/PULL_REQUEST_TEMPLATE.md", "pull_request_template.md",
    "PULL_REQUEST_TEMPLATE.md", "docs/pull_request_template.md", "docs/PULL_REQUEST_TEMPLATE.md",
)  # fmt: skip


def find_template(worktree: Path) -> str | None:
    """The repository's pull request template as GitHub finds it (None when there is none)."""
    for name in TEMPLATES:
        path = worktree / name
        if path.is_file():
            return path.read_text(errors="replace")
    return None


def pr_number_from(text: str, repo: str | None = None) -> int:
    """A PR number from ``123``, ``#123`` or a ``…/owner/name/pull/123`` URL.

    A URL's repository must be ``repo`` when given.
    """
    text = text.strip()
    match = PR_URL.search(text)
    if match:
        named = f"{match['owner']}/{match['name']}"
        if repo is not None and named.lower() != repo.lower():
            raise InvalidArgumentError(
                f"{text} is a pull request of {named}, not of this workspace's repository {repo}"
            )
        return int(match["number"])
    if text.lstrip("#").isdigit():
        return int(text.lstrip("#"))
    raise InvalidArgumentError(f"{text!r} is not a pull request number or URL (…/OWNER/NAME/pull/N)")


class Shipper:
    """Push, create_pr, merge_pr and PR binding for the sessions of one manager."""

    def __init__(
        self, store: Store, config: Config, tracker: PullRequestTracker, progress: Callable[[str], None]
    ) -> None:
        self.store = store
        self.config = config
        self.tracker = tracker
        self.access = tracker.access
        self.records = tracker.records
        self.workspaces = tracker.workspaces
        self.progress = progress

    def _notice(self, rec: SessionRecord, message: str) -> None:
        self.progress(message)
        self.records.notice(rec.id, message)

    # -- push -----------------------------------------------------------------------------------

    def target(self, rec: SessionRecord, ws: Workspace) -> tuple[str, str]:
        """``(remote name or URL, remote branch)`` the session pushes to."""
        state = self.store.pr_state(rec.id)
        if state.push_blocked:
            raise PullRequestRefusedError(state.push_blocked)
        remote = state.push_url or ws.remote
        if not remote:
            raise GitError(
                f"workspace {ws.name!r} has no remote to push to: add one (`git remote add origin URL`)"
            )
        return remote, state.push_branch or rec.branch

    def push(self, session_id: str, force_with_lease: bool = False) -> integration.PushResult:
        """Push the session's branch (upstream set); a diverged remote needs ``force_with_lease``."""
        rec, ws, repo = self.records.live(session_id, "push it")
        if self.store.branch_update(rec.id) is not None:
            raise UpdateInProgressError(
                f"an update of {rec.name!r} is unfinished: finish it (`chatml update {rec.name}`) or"
                f" abort it (`chatml update {rec.name} --abort`) before pushing"
            )
        remote, remote_branch = self.target(rec, ws)
        if remote == ws.remote:
            lease = repo.resolve(f"refs/remotes/{remote}/{remote_branch}")
        else:  # a fork: the head we last saw of the PR is what we may overwrite
            lease = self.store.pr_state(rec.id).head_sha
        self.progress(f"pushing {rec.branch} to {remote_branch} on {remote}")
        result = integration.push(
            repo, rec.worktree_path, remote, rec.branch, remote_branch, force_with_lease=force_with_lease,
            lease=lease, timeout=max(60.0, self.config.fetch_timeout),
        )  # fmt: skip
        if result.outcome != "up-to-date":
            self._notice(rec, f"pushed {rec.branch} to {remote_branch} on {remote} ({result.outcome})")
        return result

    def _pushed(self, rec: SessionRecord, ws: Workspace, repo: GitRepo) -> bool:
        remote, remote_branch = self.target(rec, ws)
        if remote != ws.remote:
            return self.store.pr_state(rec.id).head_sha == repo.resolve(f"refs/heads/{rec.branch}")
        return repo.resolve(f"refs/remotes/{remote}/{remote_branch}") == repo.resolve(
            f"refs/heads/{rec.branch}"
        )

    # -- pull requests --------------------------------------------------------------------------

    def create_pr(
        self,
        session_id: str,
        title: str | None = None,
        body: str | None = None,
        draft: bool = False,
        base: str | None = None,
    ) -> PullRequestLink:
        """Open a PR for the session's branch (pushing first when needed), or link the open one."""
        rec, ws, repo = self.records.live(session_id, "open a pull request")
        gh_repo = self.access.require_repo(ws)
        client = self.access.client(gh_repo)
        if rec.pr_status is PRStatus.OPEN and rec.pr_number and rec.pr_url:
            return PullRequestLink(rec.pr_number, rec.pr_url, False,
                                   f"{rec.name} is already linked to open pull request #{rec.pr_number}")  # fmt: skip
        _, head = self.target(rec, ws)
        existing = client.open_pull_for_head(gh_repo, gh_repo.owner, head)
        if existing is not None:
            message = f"an open pull request #{existing.number} already exists for {head}: linked it (not created again)"
            self.tracker.apply(rec, client.get_pull(gh_repo, existing.number), note=message)
            self.progress(message)
            return PullRequestLink(existing.number, existing.url, False, message)
        upstream = self.workspaces.upstream(repo, ws)
        subjects = repo.log_subjects(upstream, rec.branch)
        if not subjects:
            raise PullRequestRefusedError(
                f"{rec.name} has no commits on top of {upstream}: commit the work first (a PR needs commits)"
            )
        if not self._pushed(rec, ws, repo):
            self.push(rec.id)
        if title is None or body is None:
            from ..agents.pr_text import draft_pr_text

            self.progress("drafting the pull request title and body")
            template = find_template(rec.worktree_path)
            drafted_title, drafted_body, _source = draft_pr_text(
                rec.name, subjects, repo.diffstat(upstream, rec.branch), template
            )
            title = title if title is not None else drafted_title
            body = body if body is not None else drafted_body
        pull, created = client.create_pull(gh_repo, title, body, head, base or ws.default_branch, draft)
        verb = "opened" if created else "linked the existing"
        message = f"{verb} pull request #{pull.number}: {pull.url}"
        self.tracker.apply(self.records.get(rec.id), pull, note=message)
        self.progress(message)
        return PullRequestLink(pull.number, pull.url, created, message)

    def merge_pr(
        self, session_id: str, method: MergeMethod | str = MergeMethod.SQUASH, force: bool = False
    ) -> str:
        """Merge the session's open PR; returns the merge commit.

        Refuses, with the reason, when it would not merge cleanly or its checks failed or still run
        (unless ``force``).
        """
        how = MergeMethod.parse(method)
        rec = self.records.get(session_id)
        ws = self.workspaces.get(rec.workspace_id)
        if not rec.pr_number:
            raise PullRequestRefusedError(
                f"{rec.name} has no pull request: open one with `chatml pr {rec.name}`"
            )
        gh_repo = self.access.require_repo(ws)
        client = self.access.client(gh_repo)
        pull = client.get_pull(gh_repo, rec.pr_number)
        checks = client.checks(gh_repo, pull.head_sha) if pull.state == "open" else None
        self.tracker.apply(rec, pull, checks, pull.head_sha)
        if pull.state != "open":
            raise PullRequestRefusedError(f"pull request #{pull.number} is already {pull.state}")
        if not force:
            why = _refusal(pull, checks or CheckStatus.NONE)
            if why:
                raise PullRequestRefusedError(f"not merging #{pull.number}: {why} (or merge with force)")
        sha = client.merge_pull(gh_repo, pull.number, how.value, pull.head_sha)
        merged = client.get_pull(gh_repo, pull.number)
        self.tracker.apply(self.records.get(rec.id), merged, note=f"merged #{pull.number} ({how.value})")
        if (
            self.tracker.settings.flag("delete_branch_on_merge")
            and merged.head_repo == gh_repo.full_name
            and ws.remote
        ):
            try:
                GitRepo(ws.path).run("push", ws.remote, "--delete", merged.head_ref, timeout=60)
            except GitError as exc:
                self._notice(rec, f"delete_branch_on_merge: {merged.head_ref} kept on {ws.remote}: {exc}")
        return sha

    # -- binding to an existing PR --------------------------------------------------------------

    def bind_from_pr(self, session_id: str) -> None:
        """Bind a session made with ``from_pr`` to its PR: status, title, and where to push.

        A head branch in the same repository is tracked, so ``push`` updates the PR. A fork's
        branch is pushed to when its author allows maintainer edits; otherwise ``push`` refuses
        with the reason. Without GitHub access the PR's branch is found by its tip on the remote.
        """
        rec = self.records.get(session_id)
        ws = self.workspaces.get(rec.workspace_id)
        repo = GitRepo(ws.path)
        number = rec.pr_number
        if number is None:
            return
        gh_repo = self.access.repo_of(ws)
        pull: PullInfo | None = None
        if gh_repo is not None:
            try:
                pull = self.access.client(gh_repo).get_pull(gh_repo, number)
            except ChatMLError as exc:
                self._notice(rec, f"pull request #{number}: GitHub not asked ({exc}); bound by number only")
        if pull is None:
            self._bind_by_tip(rec, ws, repo, number)
            return
        if pull.head_repo == (gh_repo.full_name if gh_repo else None):
            self.store.save_pr(rec.id, push_url=None, push_branch=pull.head_ref, push_blocked=None)
            if ws.remote:
                self._track(repo, ws.remote, rec.branch, pull.head_ref)
        elif pull.head_repo is None:
            self.store.save_pr(rec.id, push_blocked=f"the fork of pull request #{number} was deleted: this session"
                                                " cannot push to it; open a new pull request instead")  # fmt: skip
        elif pull.maintainer_can_modify:
            self.store.save_pr(
                rec.id, push_url=pull.head_clone_url, push_branch=pull.head_ref, push_blocked=None
            )
        else:
            self.store.save_pr(rec.id, push_blocked=(
                f"pull request #{number} comes from the fork {pull.head_repo}, which does not allow edits by"
                " maintainers: this session cannot push to it (ask the author to allow edits, or open a new PR)"
            ))  # fmt: skip
        self.tracker.apply(rec, pull, note=f"bound to pull request #{number}: {pull.title}")

    def _track(self, repo: GitRepo, remote: str, branch: str, head: str) -> None:
        with repo.lock():
            if repo.fetch(
                remote, self.config.fetch_timeout, f"+refs/heads/{head}:refs/remotes/{remote}/{head}"
            ):
                return
            repo.run("branch", f"--set-upstream-to={remote}/{head}", branch)

    def _bind_by_tip(self, rec: SessionRecord, ws: Workspace, repo: GitRepo, number: int) -> None:
        heads: list[str] = []
        if ws.remote:
            try:
                out = repo.run("ls-remote", "--heads", ws.remote, timeout=self.config.fetch_timeout)
                heads = [ref.removeprefix("refs/heads/") for sha, ref in
                         (line.split("\t", 1) for line in out.splitlines() if "\t" in line) if sha == rec.base_commit]  # fmt: skip
            except GitError:
                heads = []
        if len(heads) == 1 and ws.remote:
            self.store.save_pr(rec.id, push_branch=heads[0])
            self._track(repo, ws.remote, rec.branch, heads[0])
            self._notice(
                rec,
                f"pull request #{number}: its branch {heads[0]} on {ws.remote} is tracked; push updates it",
            )
        else:
            self._notice(rec, f"pull request #{number}: its branch is not on {ws.remote or 'a remote'} (a fork?);"
                              f" push publishes {rec.branch} instead")  # fmt: skip

    def link_from_output(self, session_id: str, output: str) -> int | None:
        """Link the PR whose URL a command printed (the agent ran ``gh pr create``); its number."""
        rec = self.records.get(session_id)
        ws = self.workspaces.get(rec.workspace_id)
        gh_repo = self.access.repo_of(ws)
        for match in PR_URL.finditer(output):
            if gh_repo is not None and (match["owner"].lower(), match["name"].lower()) != (
                gh_repo.owner.lower(),
                gh_repo.name.lower(),
            ):
                continue
            number = int(match["number"])
            if rec.pr_number == number and rec.pr_status is PRStatus.OPEN:
                return number
            note = f"linked pull request #{number} the agent opened"
            if gh_repo is not None:
                try:
                    pull = self.access.client(gh_repo).get_pull(gh_repo, number)
                except GitHubError:
                    pull = None
                if pull is not None:
                    self.tracker.apply(rec, pull, note=note)
                    return number
            url = match[0]
            self.store.save_pr(rec.id, {"pr_status": "open", "pr_number": number, "pr_url": url})
            self.store.auto_move_status(rec.id, *ON_OPEN)
            self.tracker.record_event(rec.id, EventType.PR_UPDATE, {
                "pr_status": "open", "pr_number": number, "pr_url": url, "checks": "none",
                "changes": [f"pr: none → #{number}"], "message": note,
            })  # fmt: skip
            return number
        return None


def _refusal(pull: PullInfo, checks: CheckStatus) -> str | None:
    """Why a PR should not be merged now (None when it may)."""
    if pull.draft:
        return "it is a draft"
    if pull.mergeable == "dirty":
        return "it conflicts with its base branch (update the session and push)"
    if pull.mergeable in (None, "unknown"):
        return "GitHub is still computing whether it can merge: try again in a few seconds"
    if pull.mergeable == "blocked":
        return "branch protection blocks it (required reviews or checks)"
    if checks is CheckStatus.FAILURE:
        return "its checks failed"
    if checks is CheckStatus.PENDING:
        return "its checks are still running"
    return None
