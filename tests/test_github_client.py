"""The GitHub client: remote URLs, token discovery, conditional requests, back-off, schema checks."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.errors import GitHubBackoffError, GitHubError, GitHubUnavailableError, InvalidArgumentError
from chatml_lab.github.client import GitHubClient, combine_checks, reset_backoff
from chatml_lab.github.remote import RepoRef, api_url, discover_token, parse_full_name, parse_remote_url
from chatml_lab.models import CheckStatus

from .conftest import commit_file, git
from .github_emulator import GitHubEmulator

REF = RepoRef("acme", "project")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/project.git", ("github.com", "acme", "project")),
        ("https://github.com/acme/project", ("github.com", "acme", "project")),
        ("https://user:pw@github.example.com/acme/project.git", ("github.example.com", "acme", "project")),
        ("ssh://git@github.com/acme/project.git", ("github.com", "acme", "project")),
        ("ssh://git@github.com:22/acme/project", ("github.com", "acme", "project")),
        ("git@github.com:acme/project.git", ("github.com", "acme", "project")),
        ("github.com:acme/project", ("github.com", "acme", "project")),
        ("/srv/git/project.git", None),
        ("file:///srv/git/acme/project.git", None),
        ("https://gitlab.com/group/sub/project.git", None),
        ("", None),
    ],
)
def test_owner_and_name_from_remote_urls(url: str, expected: tuple[str, str, str] | None) -> None:
    found = parse_remote_url(url)
    assert (None if found is None else (found.host, found.owner, found.name)) == expected


def test_full_name_and_api_root(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_full_name("acme/project").full_name == "acme/project"
    with pytest.raises(InvalidArgumentError, match="OWNER/NAME"):
        parse_full_name("just-a-name")
    assert api_url() == "https://api.github.com"
    assert api_url("git.corp.example") == "https://git.corp.example/api/v3"
    monkeypatch.setenv("CHATML_GITHUB_API_URL", "http://127.0.0.1:9/api/")
    assert api_url("git.corp.example") == "http://127.0.0.1:9/api"


def test_token_discovery_order_and_the_no_token_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A PATH with git only: no `gh` to ask.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(GitHubUnavailableError) as info:
        discover_token()
    message = str(info.value)
    assert "\n" not in message and "GITHUB_TOKEN" in message and "gh auth login" in message
    # `gh auth token` is asked when gh is installed.
    gh = bin_dir / "gh"
    gh.write_text("#!/bin/sh\n[ \"$1 $2\" = 'auth token' ] && echo gho_from_gh_cli\n")
    gh.chmod(0o755)
    assert discover_token() == "gho_from_gh_cli"
    monkeypatch.setenv("GH_TOKEN", "gh-token")
    assert discover_token() == "gh-token"
    monkeypatch.setenv("GITHUB_TOKEN", "github-token")
    assert discover_token() == "github-token"


def test_combined_checks() -> None:
    assert combine_checks([], []) is CheckStatus.NONE
    assert combine_checks([("completed", "success")], ["success"]) is CheckStatus.SUCCESS
    assert combine_checks([("in_progress", None)], ["success"]) is CheckStatus.PENDING
    assert combine_checks([("completed", "skipped")], ["pending"]) is CheckStatus.PENDING
    assert combine_checks([("completed", "timed_out"), ("queued", None)], []) is CheckStatus.FAILURE
    assert combine_checks([("completed", "success")], ["error"]) is CheckStatus.FAILURE


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(origin: Path, repo: Path) -> Iterator[tuple[GitHubEmulator, str]]:
    emu = GitHubEmulator()
    api = emu.start()
    reset_backoff()
    emu.add_repo("acme/project", origin)
    git(repo, "checkout", "-q", "-b", "topic")
    commit_file(repo, "topic.txt", "topic\n")
    git(repo, "push", "-q", "origin", "topic")
    try:
        yield emu, api
    finally:
        emu.stop()
        reset_backoff()
    assert emu.invalid == []


def test_unchanged_list_is_a_304_from_the_cache(served: tuple[GitHubEmulator, str]) -> None:
    emu, api = served
    client = GitHubClient(emu.token, api)
    emu.open_pr("acme/project", "topic", title="Topic")
    first = client.list_pulls(REF)
    second = client.list_pulls(REF)
    assert first.fresh and not second.fresh
    assert second.pulls == first.pulls and second.pulls[0].title == "Topic"
    assert [(r.status, r.conditional) for r in emu.log] == [(200, False), (304, True)]
    emu.close_pr("acme/project", 1)
    third = client.list_pulls(REF)
    assert third.fresh and third.pulls[0].state == "closed"


def test_rate_limit_backs_off_until_the_reset_time(served: tuple[GitHubEmulator, str]) -> None:
    emu, api = served
    clock = Clock()
    client = GitHubClient(emu.token, api, clock=clock)
    reset = int(clock.now) + 120
    emu.fail(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
             message="API rate limit exceeded")  # fmt: skip
    with pytest.raises(GitHubBackoffError, match="rate limit") as info:
        client.list_pulls(REF)
    assert info.value.until == reset
    sent = len(emu.log)
    clock.now = reset - 1
    with pytest.raises(GitHubBackoffError):
        client.list_pulls(REF)  # no request while backing off
    assert len(emu.log) == sent
    clock.now = reset + 1
    assert client.list_pulls(REF).fresh
    assert len(emu.log) == sent + 1


def test_429_with_retry_after(served: tuple[GitHubEmulator, str]) -> None:
    emu, api = served
    clock = Clock()
    client = GitHubClient(emu.token, api, clock=clock)
    emu.fail(429, {"Retry-After": "30"}, message="secondary rate limit")
    with pytest.raises(GitHubBackoffError) as info:
        client.list_pulls(REF)
    assert info.value.until == pytest.approx(clock.now + 30)


def test_server_errors_back_off_exponentially(served: tuple[GitHubEmulator, str]) -> None:
    emu, api = served
    clock = Clock()
    client = GitHubClient(emu.token, api, clock=clock)
    emu.fail(502, times=2)
    with pytest.raises(GitHubBackoffError, match="502") as first:
        client.list_pulls(REF)
    assert first.value.until == pytest.approx(clock.now + 2)
    with pytest.raises(GitHubBackoffError):
        client.list_pulls(REF)
    assert len(emu.log) == 1  # the second call sent nothing
    clock.now += 3
    with pytest.raises(GitHubBackoffError) as second:
        client.list_pulls(REF)
    assert second.value.until == pytest.approx(clock.now + 4)  # doubled
    clock.now += 5
    assert client.list_pulls(REF).fresh
    assert client.backoff.failures == 0


def test_bad_token_and_unknown_repository(served: tuple[GitHubEmulator, str]) -> None:
    emu, api = served
    with pytest.raises(GitHubUnavailableError, match=r"rejected the token .*GITHUB_TOKEN"):
        GitHubClient("wrong", api).list_pulls(REF)
    with pytest.raises(GitHubError, match=r"404.*OWNER/NAME"):
        GitHubClient(emu.token, api).list_pulls(RepoRef("acme", "nope"))


def test_a_body_missing_a_required_field_fails(served: tuple[GitHubEmulator, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    emu, api = served
    emu.open_pr("acme/project", "topic")
    real = emu._pull_json

    def without_url(pull: object, full: bool) -> dict[str, object]:
        data = real(pull, full)  # type: ignore[arg-type]
        del data["html_url"]
        return data

    monkeypatch.setattr(emu, "_pull_json", without_url)
    with pytest.raises(GitHubError):
        GitHubClient(emu.token, api).list_pulls(REF)
    assert emu.invalid and "html_url" in emu.invalid[0]
    emu.invalid.clear()
