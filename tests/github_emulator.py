"""A GitHub REST emulator on 127.0.0.1 for the pull-request tests: real HTTP, real git underneath.

Each emulated repository is a bare git repository (the tests' ``origin``, a fork). Like GitHub, the
emulator reads branch tips from git on every request, so a ``git push`` moves a PR's head; it
publishes ``refs/pull/N/head``; it computes mergeability with ``git merge-tree``; and a merge
writes a real squash (or merge) commit onto the base branch. A ``rebase`` merge is written as a
squash commit too (the tests only check the method is passed on).

Every JSON body it sends is first validated against githubkit's own models for that endpoint; a
body missing a field the schema requires is recorded in :attr:`GitHubEmulator.invalid` (the
fixture fails the test) and answered with a 500. ETags are content hashes; ``If-None-Match`` with
the current one gets a bodiless 304, as on GitHub. Requests are logged for counting.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from githubkit.compat import type_validate_python
from githubkit_schemas.latest import models as gm

API = "https://api.github.com"
# Timestamps run from the emulator's start, one second per change, like GitHub's real clock.
EPOCH = datetime.now(UTC).replace(microsecond=0)


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def _user(login: str, uid: int) -> dict[str, Any]:
    base = f"{API}/users/{login}"
    return {
        "login": login, "id": uid, "node_id": f"U_{uid}", "avatar_url": f"https://avatars.example/{uid}",
        "gravatar_id": "", "url": base, "html_url": f"https://github.com/{login}",
        "followers_url": f"{base}/followers", "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}", "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions", "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events", "type": "User", "site_admin": False,
    }  # fmt: skip


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
    "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
    "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}", "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}", "languages_url": "/languages",
    "merges_url": "/merges", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
    "teams_url": "/teams", "trees_url": "/git/trees{/sha}", "hooks_url": "/hooks",
}  # fmt: skip


@dataclass
class Repo:
    """An emulated repository backed by a bare git repository."""

    full_name: str
    path: Path
    rid: int
    default_branch: str = "main"
    fork_of: str | None = None

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    def json(self) -> dict[str, Any]:
        owner, name = self.full_name.split("/")
        base = f"{API}/repos/{self.full_name}"
        stamp = EPOCH.isoformat().replace("+00:00", "Z")
        data: dict[str, Any] = {
            "id": self.rid, "node_id": f"R_{self.rid}", "name": name, "full_name": self.full_name,
            "license": None, "forks": 0, "owner": _user(owner, 1000 + self.rid),
            "private": False, "html_url": f"https://github.com/{self.full_name}", "description": None,
            "fork": self.fork_of is not None, "url": base, "git_url": f"git://github.com/{self.full_name}.git",
            "ssh_url": f"git@github.com:{self.full_name}.git",
            # The clone URL is the bare repository, so a push to a fork really lands somewhere.
            "clone_url": str(self.path), "mirror_url": None, "svn_url": f"https://github.com/{self.full_name}",
            "homepage": None, "language": "Python", "forks_count": 0, "stargazers_count": 0,
            "watchers_count": 0, "size": 1, "default_branch": self.default_branch, "open_issues_count": 0,
            "has_pages": False, "disabled": False, "pushed_at": stamp, "created_at": stamp,
            "updated_at": stamp, "open_issues": 0, "watchers": 0,
        }  # fmt: skip
        data.update({key: base + suffix for key, suffix in _REPO_URLS.items()})
        return data

    def tip(self, branch: str) -> str | None:
        out = _git(
            self.path, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False
        )
        return out.stdout.strip() or None


@dataclass
class Pull:
    """An emulated pull request."""

    number: int
    title: str
    body: str | None
    base: Repo
    base_ref: str
    head: Repo
    head_ref: str
    head_sha: str
    draft: bool = False
    state: str = "open"
    merged_sha: str | None = None
    maintainer_can_modify: bool = True
    created: int = 0
    updated: int = 0
    closed: int | None = None
    merged: int | None = None


@dataclass
class Failure:
    """A canned error the next matching requests get."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    remaining: int


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    conditional: bool


@dataclass
class GitHubEmulator:
    """State and HTTP server of the emulator. Use :meth:`start`/:meth:`stop` (the fixture does)."""

    token: str = "ghp_emulatortoken0123456789abcdefghij"
    repos: dict[str, Repo] = field(default_factory=dict)
    pulls: dict[tuple[str, int], Pull] = field(default_factory=dict)
    check_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    last_merge_method: str | None = None
    _clock: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port); return the API root URL."""
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                emulator._handle(self, "GET")

            def do_POST(self) -> None:
                emulator._handle(self, "POST")

            def do_PUT(self) -> None:
                emulator._handle(self, "PUT")

            def do_PATCH(self) -> None:
                emulator._handle(self, "PATCH")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="github-emulator", daemon=True
        )
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # -- test-side controls ---------------------------------------------------------------------

    def add_repo(self, full_name: str, path: Path, fork_of: str | None = None) -> Repo:
        repo = Repo(full_name, path, rid=len(self.repos) + 1, fork_of=fork_of)
        self.repos[full_name] = repo
        return repo

    def tick(self) -> int:
        with self._lock:
            self._clock += 1
            return self._clock

    def open_pr(self, repo: str, head_ref: str, title: str = "A change", head_repo: str | None = None,
                draft: bool = False, body: str | None = None, maintainer_can_modify: bool = True) -> Pull:  # fmt: skip
        """Open a PR as someone on github.com would (the head branch must exist)."""
        with self._lock:
            base = self.repos[repo]
            head = self.repos[head_repo or repo]
            sha = head.tip(head_ref)
            assert sha, f"no branch {head_ref} in {head.full_name}"
            number = 1 + max((n for (r, n) in self.pulls if r == repo), default=0)
            now = self.tick()
            pull = Pull(number, title, body, base, base.default_branch, head, head_ref, sha, draft=draft,
                        created=now, updated=now, maintainer_can_modify=maintainer_can_modify)  # fmt: skip
            self.pulls[(repo, number)] = pull
            self._publish(pull)
            return pull

    def close_pr(self, repo: str, number: int) -> None:
        with self._lock:
            pull = self.pulls[(repo, number)]
            pull.state, pull.closed = "closed", self.tick()
            pull.updated = pull.closed

    def merge_pr(self, repo: str, number: int, method: str = "squash") -> str:
        """Merge as the web UI would: a real commit on the base branch."""
        with self._lock:
            return self._merge(self.pulls[(repo, number)], method)

    def set_check_run(self, sha: str, name: str, status: str, conclusion: str | None = None) -> None:
        with self._lock:
            runs = [r for r in self.check_runs.get(sha, []) if r["name"] != name]
            runs.append({"name": name, "status": status, "conclusion": conclusion})
            self.check_runs[sha] = runs

    def set_status(self, sha: str, context: str, state: str) -> None:
        with self._lock:
            items = [s for s in self.statuses.get(sha, []) if s["context"] != context]
            items.append({"context": context, "state": state})
            self.statuses[sha] = items

    def fail(self, status: int, headers: dict[str, str] | None = None, times: int = 1,
             message: str = "Server Error") -> None:  # fmt: skip
        """The next ``times`` requests get ``status`` (with ``headers``)."""
        self.failures.append(Failure(status, headers or {}, {"message": message}, times))

    def count(self, path_part: str = "") -> int:
        return sum(1 for r in self.log if path_part in r.path)

    # -- git-backed state -----------------------------------------------------------------------

    def _publish(self, pull: Pull) -> None:
        if pull.head is pull.base:
            _git(pull.base.path, "update-ref", f"refs/pull/{pull.number}/head", pull.head_sha)
        else:  # GitHub copies a fork's head commits into the base repository
            _git(pull.base.path, "fetch", "-q", str(pull.head.path),
                 f"+refs/heads/{pull.head_ref}:refs/pull/{pull.number}/head")  # fmt: skip

    def _refresh(self) -> None:
        """Follow pushes to PR heads, as GitHub does."""
        for pull in self.pulls.values():
            if pull.state != "open":
                continue
            sha = pull.head.tip(pull.head_ref)
            if sha and sha != pull.head_sha:
                pull.head_sha, pull.updated = sha, self.tick()
                self._publish(pull)

    def _mergeable(self, pull: Pull) -> tuple[bool | None, str]:
        if pull.state != "open":
            return None, "unknown"
        base = pull.base.tip(pull.base_ref)
        out = _git(
            pull.base.path,
            "merge-tree",
            "--write-tree",
            "--name-only",
            base or "",
            pull.head_sha,
            check=False,
        )
        if out.returncode == 1:
            return False, "dirty"
        if pull.draft:
            return True, "draft"
        if self._checks_state(pull.head_sha) == "failure":
            return True, "unstable"
        return True, "clean"

    def _checks_state(self, sha: str) -> str:
        states = [r["conclusion"] or "pending" for r in self.check_runs.get(sha, [])]
        states += [s["state"] for s in self.statuses.get(sha, [])]
        if any(s in ("failure", "error", "timed_out", "cancelled") for s in states):
            return "failure"
        return "pending" if "pending" in states else "success"

    def _merge(self, pull: Pull, method: str) -> str:
        base_sha = pull.base.tip(pull.base_ref)
        assert base_sha
        tree = _git(pull.base.path, "merge-tree", "--write-tree", base_sha, pull.head_sha).stdout.split()[0]
        parents = ["-p", base_sha] + (["-p", pull.head_sha] if method == "merge" else [])
        env_args = ["-c", "user.name=GitHub", "-c", "user.email=noreply@github.com"]
        commit = _git(pull.base.path, *env_args, "commit-tree", tree, *parents, "-m",
                      f"{pull.title} (#{pull.number})").stdout.strip()  # fmt: skip
        _git(pull.base.path, "update-ref", f"refs/heads/{pull.base_ref}", commit, base_sha)
        now = self.tick()
        pull.state, pull.merged_sha, pull.merged, pull.closed, pull.updated = "closed", commit, now, now, now
        return commit

    # -- JSON -----------------------------------------------------------------------------------

    def _time(self, tick: int | None) -> str | None:
        if tick is None:
            return None
        return (EPOCH + timedelta(seconds=tick)).isoformat().replace("+00:00", "Z")

    def _pull_json(self, pull: Pull, full: bool) -> dict[str, Any]:
        repo = pull.base.full_name
        base = f"{API}/repos/{repo}"
        url = f"{base}/pulls/{pull.number}"
        html = f"https://github.com/{repo}/pull/{pull.number}"
        author = _user(pull.head.owner, 5000 + pull.head.rid)
        data: dict[str, Any] = {
            "url": url, "id": 90000 + pull.number, "node_id": f"PR_{pull.number}", "html_url": html,
            "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": f"{base}/issues/{pull.number}",
            "commits_url": url + "/commits", "review_comments_url": url + "/comments",
            "review_comment_url": f"{base}/pulls/comments{{/number}}",
            "comments_url": f"{base}/issues/{pull.number}/comments",
            "statuses_url": f"{base}/statuses/{pull.head_sha}", "number": pull.number, "state": pull.state,
            "locked": False, "title": pull.title, "user": author, "body": pull.body, "labels": [],
            "milestone": None, "active_lock_reason": None, "created_at": self._time(pull.created),
            "updated_at": self._time(pull.updated), "closed_at": self._time(pull.closed),
            "merged_at": self._time(pull.merged), "merge_commit_sha": pull.merged_sha, "assignee": None,
            "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "head": {"label": f"{pull.head.owner}:{pull.head_ref}", "ref": pull.head_ref, "sha": pull.head_sha,
                     "user": author, "repo": pull.head.json()},
            "base": {"label": f"{pull.base.owner}:{pull.base_ref}", "ref": pull.base_ref,
                     "sha": pull.base.tip(pull.base_ref) or "", "user": _user(pull.base.owner, 1000),
                     "repo": pull.base.json()},
            "_links": {name: {"href": href} for name, href in {
                "self": url, "html": html, "issue": f"{base}/issues/{pull.number}",
                "comments": f"{base}/issues/{pull.number}/comments", "review_comments": url + "/comments",
                "review_comment": f"{base}/pulls/comments{{/number}}", "commits": url + "/commits",
                "statuses": f"{base}/statuses/{pull.head_sha}"}.items()},
            "author_association": "CONTRIBUTOR", "auto_merge": None, "draft": pull.draft,
        }  # fmt: skip
        if full:
            mergeable, state = self._mergeable(pull)
            data.update({
                "merged": pull.merged is not None, "mergeable": mergeable, "rebaseable": mergeable,
                "mergeable_state": state, "merged_by": None if pull.merged is None else _user("merger", 7),
                "comments": 0, "review_comments": 0, "maintainer_can_modify": pull.maintainer_can_modify,
                "commits": 1, "additions": 1, "deletions": 0, "changed_files": 1,
            })  # fmt: skip
        return data

    def _check_runs_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        runs = []
        for i, run in enumerate(self.check_runs.get(sha, []), start=1):
            done = run["status"] == "completed"
            runs.append({
                "id": 7000 + i, "head_sha": sha, "node_id": f"CR_{i}", "external_id": None,
                "url": f"{API}/repos/{repo.full_name}/check-runs/{7000 + i}",
                "html_url": f"https://github.com/{repo.full_name}/runs/{7000 + i}", "details_url": None,
                "status": run["status"], "conclusion": run["conclusion"] if done else None,
                "started_at": self._time(1), "completed_at": self._time(2) if done else None,
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                           "annotations_url": f"{API}/repos/{repo.full_name}/check-runs/{7000 + i}/annotations"},
                "name": run["name"], "check_suite": {"id": 600 + i}, "app": None, "pull_requests": [],
            })  # fmt: skip
        return {"total_count": len(runs), "check_runs": runs}

    def _status_json(self, repo: Repo, sha: str) -> dict[str, Any]:
        items = self.statuses.get(sha, [])
        statuses = [{
            "description": None, "id": 300 + i, "node_id": f"S_{i}", "state": s["state"], "context": s["context"],
            "target_url": None, "avatar_url": None, "url": f"{API}/repos/{repo.full_name}/statuses/{sha}",
            "created_at": self._time(1), "updated_at": self._time(2),
        } for i, s in enumerate(items, start=1)]  # fmt: skip
        states = [s["state"] for s in items]
        combined = ("failure" if {"failure", "error"} & set(states) else
                    "pending" if not states or "pending" in states else "success")  # fmt: skip
        minimal = repo.json()
        return {"state": combined, "statuses": statuses, "sha": sha, "total_count": len(statuses),
                "repository": minimal, "commit_url": f"{API}/repos/{repo.full_name}/commits/{sha}",
                "url": f"{API}/repos/{repo.full_name}/commits/{sha}/status"}  # fmt: skip

    # -- HTTP -----------------------------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(http.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        conditional = "If-None-Match" in http.headers
        length = int(http.headers.get("Content-Length") or 0)
        body = json.loads(http.rfile.read(length) or b"null") if length else None
        with self._lock:
            status, payload, headers, model = self._route(http, method, parts.path, query, body)
            self.log.append(LoggedRequest(method, parts.path, status, conditional))
        text = b""
        if payload is not None:
            if model is not None:
                try:
                    type_validate_python(model, payload)
                except Exception as exc:  # a body githubkit's models reject: the emulator is wrong
                    self.invalid.append(f"{method} {parts.path}: {exc}")
                    status, payload = 500, {"message": "emulator produced an invalid body"}
            text = json.dumps(payload).encode()
            if status == 200 and method == "GET":
                etag = 'W/"' + hashlib.sha256(text).hexdigest()[:40] + '"'
                headers["ETag"] = etag
                if http.headers.get("If-None-Match") == etag:
                    status, text = 304, b""
                    self.log[-1].status = 304
        http.send_response(status)
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers.setdefault("X-RateLimit-Limit", "5000")
        headers.setdefault("X-RateLimit-Remaining", "4999")
        for key, value in headers.items():
            http.send_header(key, value)
        http.send_header("Content-Length", str(len(text)))
        http.end_headers()
        if text:
            http.wfile.write(text)

    def _route(
        self, http: BaseHTTPRequestHandler, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str], Any]:
        auth = http.headers.get("Authorization", "")
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return (
                401,
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                {},
                gm.BasicError,
            )
        if self.failures:
            failure = self.failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                self.failures.pop(0)
            return failure.status, failure.body, dict(failure.headers), None
        self._refresh()
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/(.*)", path)
        if not match or match[1] not in self.repos:
            return (
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                {},
                gm.BasicError,
            )
        repo, rest = self.repos[match[1]], match[2]
        if rest == "pulls" and method == "GET":
            return 200, self._list(repo, query), {}, list[gm.PullRequestSimple]
        if rest == "pulls" and method == "POST":
            return self._create(repo, body)
        found = re.fullmatch(r"pulls/(\d+)(/merge)?", rest)
        if found:
            pull = self.pulls.get((repo.full_name, int(found[1])))
            if pull is None:
                return (
                    404,
                    {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                    {},
                    gm.BasicError,
                )
            if found[2] and method == "PUT":
                return self._merge_request(pull, body or {})
            if method == "GET":
                return 200, self._pull_json(pull, full=True), {}, gm.PullRequest
        found = re.fullmatch(r"commits/([^/]+)/(check-runs|status)", rest)
        if found and method == "GET":
            if found[2] == "check-runs":
                return (
                    200,
                    self._check_runs_json(repo, found[1]),
                    {},
                    gm.ReposOwnerRepoCommitsRefCheckRunsGetResponse200,
                )
            return 200, self._status_json(repo, found[1]), {}, gm.CombinedCommitStatus
        return (
            404,
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            {},
            gm.BasicError,
        )

    def _list(self, repo: Repo, query: dict[str, str]) -> list[dict[str, Any]]:
        state = query.get("state", "open")
        pulls = [p for (r, _), p in self.pulls.items() if r == repo.full_name]
        if state != "all":
            pulls = [p for p in pulls if p.state == state]
        if "head" in query:
            owner, _, ref = query["head"].partition(":")
            pulls = [p for p in pulls if p.head.owner == owner and p.head_ref == ref]
        key = (lambda p: p.updated) if query.get("sort") == "updated" else (lambda p: p.created)
        pulls.sort(key=key, reverse=query.get("direction", "desc") == "desc")
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        return [self._pull_json(p, full=False) for p in pulls[(page - 1) * per_page : page * per_page]]

    def _create(self, repo: Repo, body: dict[str, Any]) -> tuple[int, Any, dict[str, str], Any]:
        owner, _, ref = str(body["head"]).rpartition(":")
        head = next((r for r in self.repos.values() if r.owner == owner), repo) if owner else repo
        if head.tip(ref) is None:
            return 422, {"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
                         "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}]}, {}, gm.ValidationError  # fmt: skip
        for pull in self.pulls.values():
            if pull.base is repo and pull.head is head and pull.head_ref == ref and pull.state == "open":
                return 422, {"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
                             "errors": [{"resource": "PullRequest", "code": "custom",
                                         "message": f"A pull request already exists for {head.owner}:{ref}."}]}, {}, gm.ValidationError  # fmt: skip
        pull = self.open_pr(repo.full_name, ref, title=body["title"], head_repo=head.full_name,
                            draft=bool(body.get("draft")), body=body.get("body"))  # fmt: skip
        pull.base_ref = body.get("base") or repo.default_branch
        return 201, self._pull_json(pull, full=True), {}, gm.PullRequest

    def _merge_request(self, pull: Pull, body: dict[str, Any]) -> tuple[int, Any, dict[str, str], Any]:
        mergeable, _ = self._mergeable(pull)
        if pull.state != "open" or not mergeable or pull.draft:
            return 405, {"message": "Pull Request is not mergeable", "documentation_url": "https://docs.github.com/rest"}, {}, gm.BasicError  # fmt: skip
        if body.get("sha") and body["sha"] != pull.head_sha:
            return 409, {"message": "Head branch was modified. Review and try the merge again.",
                         "documentation_url": "https://docs.github.com/rest"}, {}, gm.BasicError  # fmt: skip
        self.last_merge_method = body.get("merge_method", "merge")
        sha = self._merge(pull, self.last_merge_method)
        return (
            200,
            {"sha": sha, "merged": True, "message": "Pull Request successfully merged"},
            {},
            gm.PullRequestMergeResult,
        )
