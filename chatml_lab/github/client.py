"""A GitHub REST client over githubkit: typed models, ETag-conditional polling, back-off.

githubkit's own HTTP cache is off (``http_cache=False``): GitHub answers ``max-age=60``, so that
cache would serve a list from memory for a minute right after a merge. Instead each polled URL's
ETag is kept (in the SQLite store) and sent as ``If-None-Match``; an unchanged list then costs a
304 and no rate-limit quota. githubkit's automatic retry is off too: it sleeps inside the call
until a rate limit resets (up to an hour), which would freeze a poller. Instead a rate limit or
a 5xx sets a back-off per API root, and calls made before it ends fail at once, without a request,
with :class:`~chatml_lab.errors.GitHubBackoffError` saying when to try again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from githubkit import GitHub
from githubkit.exception import RateLimitExceeded, RequestError, RequestFailed, RequestTimeout
from githubkit.response import Response
from githubkit.utils import UNSET

from ..errors import GitHubBackoffError, GitHubError, GitHubUnavailableError, PullRequestRefusedError
from ..models import CheckStatus
from .remote import RepoRef
from .types import EtagStore, Listing, MemoryEtags, PullInfo

T = TypeVar("T")
PAGE = 100
_FAILED = {"failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale", "error"}
_PASSED = {"success", "neutral", "skipped"}


@dataclass
class Backoff:
    """When the next request to one API root may go out, and why not before."""

    until: float = 0.0
    failures: int = 0
    reason: str = ""


_BACKOFFS: dict[str, Backoff] = {}
_BACKOFF_LOCK = threading.Lock()


def _clock_text(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _pull(data: Any, full: bool = False) -> PullInfo:
    """A githubkit ``PullRequestSimple``/``PullRequest`` model → :class:`PullInfo`."""
    head_repo = data.head.repo
    merged = data.merged_at is not None
    return PullInfo(
        number=data.number,
        url=data.html_url,
        state="merged" if merged else str(data.state),
        draft=data.draft is True,
        title=data.title,
        head_ref=data.head.ref,
        head_sha=data.head.sha,
        head_repo=head_repo.full_name if head_repo is not None else None,
        head_clone_url=head_repo.clone_url if head_repo is not None else None,
        base_ref=data.base.ref,
        updated=data.updated_at.isoformat(),
        mergeable=str(data.mergeable_state) if full else None,
        maintainer_can_modify=bool(data.maintainer_can_modify) if full else None,
    )


def combine_checks(run_states: list[tuple[str, str | None]], statuses: list[str]) -> CheckStatus:
    """One state from check runs ``(status, conclusion)`` and legacy commit status states."""
    states: list[CheckStatus] = []
    for status, conclusion in run_states:
        if status != "completed":
            states.append(CheckStatus.PENDING)
        elif conclusion in _FAILED:
            states.append(CheckStatus.FAILURE)
        elif conclusion in _PASSED:
            states.append(CheckStatus.SUCCESS)
    for state in statuses:
        states.append(
            CheckStatus.FAILURE if state in _FAILED else CheckStatus.PENDING if state == "pending"
            else CheckStatus.SUCCESS
        )  # fmt: skip
    for verdict in (CheckStatus.FAILURE, CheckStatus.PENDING, CheckStatus.SUCCESS):
        if verdict in states:
            return verdict
    return CheckStatus.NONE


class GitHubClient:
    """The API calls chatml_lab makes, each returning plain records.

    ``requests`` counts the HTTP requests sent (304s included), for measurements.
    """

    def __init__(
        self,
        token: str,
        api_url: str,
        etags: EtagStore | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._gh: GitHub[Any] = GitHub(
            token, base_url=self.api_url + "/", http_cache=False, auto_retry=False, timeout=timeout
        )
        self.etags: EtagStore = etags if etags is not None else MemoryEtags()
        self.clock = clock
        self.requests = 0
        self._depth = 0
        with _BACKOFF_LOCK:
            self.backoff = _BACKOFFS.setdefault(self.api_url, Backoff())

    @contextmanager
    def connection(self) -> Iterator[GitHubClient]:
        """Reuse one HTTP connection for the calls made inside (a poll pass)."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self._gh:
                yield self
        finally:
            self._depth = 0

    # -- the one place requests go through ------------------------------------------------------

    def _call(
        self, what: str, send: Callable[[dict[str, str]], Response[Any]], etag: str | None = None
    ) -> Response[Any]:
        now = self.clock()
        if now < self.backoff.until:
            raise GitHubBackoffError(
                f"GitHub {self.backoff.reason}: no request before {_clock_text(self.backoff.until)}",
                self.backoff.until,
            )
        headers = {"If-None-Match": etag} if etag else {}
        self.requests += 1
        try:
            response = send(headers)
        except RateLimitExceeded as exc:
            raise self._rate_limited(exc.response) from None
        except RequestFailed as exc:
            raise self._failed(what, exc.response) from None
        except RequestTimeout:
            raise self._server_trouble(f"did not answer {what} in time") from None
        except RequestError as exc:
            raise self._server_trouble(f"could not be reached for {what} ({exc.exc})") from None
        self.backoff.failures = 0
        return response

    def _rate_limited(self, response: Response[Any]) -> GitHubBackoffError:
        headers = response.headers
        now = self.clock()
        if "retry-after" in headers:
            until = now + float(headers["retry-after"])
        elif "x-ratelimit-reset" in headers:
            until = float(headers["x-ratelimit-reset"])
        else:
            until = now + 60.0
        self.backoff.until = max(until, now + 1.0)
        self.backoff.reason = f"rate limit reached ({response.status_code})"
        return GitHubBackoffError(
            f"GitHub rate limit reached: no request before {_clock_text(self.backoff.until)}"
            " (the reset time GitHub gave)",
            self.backoff.until,
        )

    def _server_trouble(self, what: str) -> GitHubBackoffError:
        self.backoff.failures += 1
        delay = min(300.0, 2.0**self.backoff.failures)
        self.backoff.until = self.clock() + delay
        self.backoff.reason = what
        return GitHubBackoffError(f"GitHub {what}: next try in {delay:.0f} s", self.backoff.until)

    def _failed(self, what: str, response: Response[Any]) -> GitHubError:
        status = response.status_code
        if status == 429 or (status == 403 and "retry-after" in response.headers):
            return self._rate_limited(response)
        if status >= 500:
            return self._server_trouble(f"answered {status} to {what}")
        message = _message(response)
        if status == 401:
            return GitHubUnavailableError(
                f"GitHub rejected the token (401 {message}): set a valid GITHUB_TOKEN or run `gh auth login`"
            )
        if status == 404:
            error = GitHubError(
                f"GitHub found nothing for {what} (404): check the repository OWNER/NAME and that the"
                " token can see it"
            )
        else:
            error = GitHubError(f"GitHub refused {what} ({status} {message})")
        error.github_status, error.github_message = status, message  # type: ignore[attr-defined]
        return error

    def _conditional(self, key: str, what: str, send: Callable[[dict[str, str]], Response[Any]],
                     parse: Callable[[Response[Any]], Any]) -> tuple[Any, bool]:  # fmt: skip
        """``(payload, fresh)``: the cached payload on a 304, else ``parse(response)`` stored."""
        cached = self.etags.etag(key)
        response = self._call(what, send, cached[0] if cached else None)
        if response.status_code == 304 and cached is not None:
            return cached[1], False
        payload = parse(response)
        etag = response.headers.get("etag")
        if etag:
            self.etags.put_etag(key, etag, payload)
        return payload, True

    # -- pull requests --------------------------------------------------------------------------

    def list_pulls(self, repo: RepoRef) -> Listing:
        """Every PR of ``repo`` (open and closed), most recently updated first: one request."""

        def send(headers: dict[str, str]) -> Response[Any]:
            return self._gh.rest.pulls.list(
                repo.owner, repo.name, state="all", sort="updated", direction="desc", per_page=PAGE,
                headers=headers,
            )  # fmt: skip

        def parse(response: Response[Any]) -> list[dict[str, Any]]:
            return [_pull(p).to_json() for p in _data(response)]

        key = f"{self.api_url} pulls {repo.full_name} all"
        payload, fresh = self._conditional(key, f"the pull requests of {repo}", send, parse)
        pulls = [PullInfo.from_json(p) for p in payload]
        return Listing(pulls=pulls, fresh=fresh, complete=len(pulls) < PAGE)

    def get_pull(self, repo: RepoRef, number: int) -> PullInfo:
        """One PR with its mergeable state (conditional: a 304 returns the cached record)."""

        def send(headers: dict[str, str]) -> Response[Any]:
            return self._gh.rest.pulls.get(repo.owner, repo.name, number, headers=headers)

        key = f"{self.api_url} pull {repo.full_name} {number}"
        payload, _ = self._conditional(
            key,
            f"pull request #{number} of {repo}",
            send,
            lambda r: _pull(_data(r), full=True).to_json(),
        )
        return PullInfo.from_json(payload)

    def open_pull_for_head(self, repo: RepoRef, head_owner: str, branch: str) -> PullInfo | None:
        """The open PR whose head is ``head_owner:branch``, if there is one."""
        response = self._call(
            f"the open pull requests of {repo}",
            lambda h: self._gh.rest.pulls.list(
                repo.owner, repo.name, state="open", head=f"{head_owner}:{branch}", headers=h
            ),
        )
        pulls = [_pull(p) for p in _data(response) if p.head.ref == branch]
        return pulls[0] if pulls else None

    def create_pull(
        self, repo: RepoRef, title: str, body: str, head: str, base: str, draft: bool
    ) -> tuple[PullInfo, bool]:
        """Open a PR; ``(pr, True)``. When GitHub says one exists for ``head``: ``(that one, False)``."""
        try:
            response = self._call(
                f"a new pull request on {repo}",
                lambda h: self._gh.rest.pulls.create(
                    repo.owner, repo.name, title=title, body=body, head=head, base=base, draft=draft,
                    headers=h,
                ),
            )  # fmt: skip
        except GitHubError as exc:
            if getattr(exc, "github_status", None) != 422 or "already exists" not in str(exc):
                raise
            existing = self.open_pull_for_head(repo, repo.owner, head)
            if existing is None:
                raise
            return existing, False
        return _pull(_data(response), full=True), True

    def merge_pull(self, repo: RepoRef, number: int, method: str, sha: str | None) -> str:
        """Merge a PR (``squash``, ``merge`` or ``rebase``) at head ``sha``; return the merge commit."""
        how = cast(Literal["merge", "squash", "rebase"], method)
        try:
            response = self._call(
                f"the merge of pull request #{number}",
                lambda h: self._gh.rest.pulls.merge(
                    repo.owner, repo.name, number, merge_method=how, sha=sha or UNSET, headers=h
                ),
            )
        except GitHubError as exc:
            status = getattr(exc, "github_status", None)
            if status in (405, 409):
                why = getattr(exc, "github_message", "") or "not mergeable"
                raise PullRequestRefusedError(f"GitHub did not merge #{number}: {why} ({status})") from None
            raise
        return str(_data(response).sha)

    # -- checks ---------------------------------------------------------------------------------

    def checks(self, repo: RepoRef, sha: str) -> CheckStatus:
        """Combined checks of commit ``sha``: check runs plus legacy commit statuses.

        Two requests, both conditional.
        """

        def runs(headers: dict[str, str]) -> Response[Any]:
            return self._gh.rest.checks.list_for_ref(
                repo.owner, repo.name, sha, per_page=PAGE, headers=headers
            )

        def statuses(headers: dict[str, str]) -> Response[Any]:
            return self._gh.rest.repos.get_combined_status_for_ref(
                repo.owner, repo.name, sha, headers=headers
            )

        run_states, _ = self._conditional(
            f"{self.api_url} check-runs {repo.full_name} {sha}", f"the check runs of {sha[:10]}", runs,
            lambda r: [[c.status, c.conclusion] for c in _data(r).check_runs],
        )  # fmt: skip
        status_states, _ = self._conditional(
            f"{self.api_url} statuses {repo.full_name} {sha}", f"the commit statuses of {sha[:10]}", statuses,
            lambda r: [s.state for s in _data(r).statuses],
        )  # fmt: skip
        return combine_checks([(s, c) for s, c in run_states], list(status_states))


def _data(response: Response[Any]) -> Any:
    """The body parsed with githubkit's models; a body they reject is GitHub's (or a proxy's) fault."""
    try:
        return response.parsed_data
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GitHubError(
            f"GitHub's answer to {response.raw_request.method} {response.raw_request.url.path} does not"
            f" match its schema ({first})"
        ) from None


def _message(response: Response[Any]) -> str:
    try:
        data = response.json()
    except Exception:
        return str(response.reason_phrase)
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("message", ""))]
    for error in data.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            parts.append(str(error["message"]))
    return ": ".join(p for p in parts if p)


def reset_backoff(api_url: str | None = None) -> None:
    """Forget back-off state (all API roots, or one): a new token, a test."""
    with _BACKOFF_LOCK:
        for key, backoff in _BACKOFFS.items():
            if api_url is None or key == api_url.rstrip("/"):
                backoff.until, backoff.failures, backoff.reason = 0.0, 0, ""
