"""Sessions from a PR bound through GitHub: same-repository heads are tracked, forks pushed to only
when the author allows maintainer edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import InvalidArgumentError, PullRequestRefusedError

from . import github_fixtures
from .conftest import commit_file, git
from .github_fixtures import REPO, World

world = github_fixtures.world


def contributor(world: World, where: Path, branch: str, remote: Path | None = None) -> str:
    """A clone of ``remote`` (default origin) with one commit on ``branch``, pushed; its sha."""
    git(where.parent, "clone", "-q", str(remote or world.origin), str(where))
    git(where, "checkout", "-q", "-b", branch)
    sha = commit_file(where, f"{branch}.txt", f"{branch}\n", f"Work on {branch}")
    git(where, "push", "-q", "origin", branch)
    return sha


def fork_of_origin(world: World, tmp_path: Path) -> Path:
    fork = tmp_path / "fork.git"
    git(tmp_path, "clone", "-q", "--bare", str(world.origin), str(fork))
    world.emu.add_repo("contrib/project", fork, fork_of=REPO)
    return fork


def test_same_repository_pr_is_tracked_and_push_updates_it(world: World, tmp_path: Path) -> None:
    cm, emu = world.cm, world.emu
    sha = contributor(world, tmp_path / "alice", "topic-7")
    emu.open_pr(REPO, "topic-7", title="Topic seven")
    s = cm.new_session(world.repo, from_pr=f"https://github.com/{REPO}/pull/1")
    rec = s.record
    assert (rec.name, rec.pr_number, rec.pr_status.value) == ("pr-1", 1, "open")
    assert rec.pr_url == f"https://github.com/{REPO}/pull/1" and s.pr.title == "Topic seven"
    assert git(s.worktree, "rev-parse", "HEAD").strip() == sha
    assert s.pr.push_branch == "topic-7" and s.pr.push_url is None
    assert git(s.worktree, "rev-parse", "--abbrev-ref", "@{upstream}").strip() == "origin/topic-7"

    new = commit_file(s.worktree, "review-fix.txt", "fix\n", "Address review")
    assert s.push() == "fast-forward"
    assert git(world.origin, "rev-parse", "refs/heads/topic-7").strip() == new
    assert git(world.origin, "branch", "--list", "chatml/pr-1").strip() == ""  # no stray branch
    world.cm.refresh_prs()
    assert s.pr.head_sha == new


def test_fork_pr_with_maintainer_edits_pushes_to_the_fork(world: World, tmp_path: Path) -> None:
    fork = fork_of_origin(world, tmp_path)
    contributor(world, tmp_path / "bob", "fix-typo", remote=fork)
    world.emu.open_pr(
        REPO, "fix-typo", title="Fix typo", head_repo="contrib/project", maintainer_can_modify=True
    )
    s = world.cm.new_session(world.repo, from_pr=1)
    assert git(world.origin, "branch", "--list", "fix-typo").strip() == ""  # a fork's branch
    assert s.pr.push_url == str(fork) and s.pr.push_branch == "fix-typo"
    new = commit_file(s.worktree, "typo.txt", "fixed\n", "Maintainer fix")
    assert s.push() == "fast-forward"
    assert git(fork, "rev-parse", "refs/heads/fix-typo").strip() == new
    assert git(world.origin, "branch", "--list", "fix-typo").strip() == ""
    world.cm.refresh_prs()
    assert s.pr.head_sha == new and s.record.pr_status.value == "open"


def test_fork_pr_without_maintainer_edits_cannot_push(world: World, tmp_path: Path) -> None:
    fork = fork_of_origin(world, tmp_path)
    tip = contributor(world, tmp_path / "carol", "locked", remote=fork)
    world.emu.open_pr(REPO, "locked", head_repo="contrib/project", maintainer_can_modify=False)
    s = world.cm.new_session(world.repo, from_pr=1, name="locked-review")
    assert git(s.worktree, "rev-parse", "HEAD").strip() == tip
    commit_file(s.worktree, "mine.txt", "mine\n")
    with pytest.raises(PullRequestRefusedError) as info:
        s.push()
    message = str(info.value)
    assert "contrib/project" in message and "does not allow edits by maintainers" in message
    assert "\n" not in message
    assert git(fork, "rev-parse", "refs/heads/locked").strip() == tip
    assert git(world.origin, "branch", "--list", "chatml/locked-review").strip() == ""


def test_a_pr_url_of_another_repository_is_refused_before_anything_is_made(world: World) -> None:
    before = git(world.repo, "worktree", "list")
    with pytest.raises(InvalidArgumentError, match="not of this workspace"):
        world.cm.new_session(world.repo, from_pr="https://github.com/other/thing/pull/3")
    assert git(world.repo, "worktree", "list") == before
    assert world.cm.store.sessions(include_archived=True) == []


def test_without_github_the_pr_branch_is_found_by_its_tip(cm: ChatML, repo: Path, origin: Path,
                                                         tmp_path: Path) -> None:  # fmt: skip
    where = tmp_path / "dave"
    git(tmp_path, "clone", "-q", str(origin), str(where))
    git(where, "checkout", "-q", "-b", "shared")
    commit_file(where, "shared.txt", "shared\n")
    git(where, "push", "-q", "origin", "shared", "HEAD:refs/pull/4/head")
    s = cm.new_session(repo, from_pr=4)
    assert s.pr.push_branch == "shared"
    new = commit_file(s.worktree, "more.txt", "more\n")
    s.push()
    assert git(origin, "rev-parse", "refs/heads/shared").strip() == new
