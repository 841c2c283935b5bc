"""Sessions from pull requests: `refs/pull/N/head` on the remote, as GitHub publishes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import PullRequestNotFoundError

from .conftest import commit_file, git


def publish_pr(origin: Path, where: Path, number: int, *, fork: bool) -> str:
    """Push a commit to ``refs/pull/<number>/head`` of ``origin``; return it.

    A same-repository PR also pushes its branch; a fork's commit exists on no branch of ``origin``.
    """
    git(where.parent, "clone", "-q", str(origin), str(where))
    git(where, "checkout", "-q", "-b", f"topic-{number}")
    sha = commit_file(where, f"pr{number}.txt", f"pull request {number}\n", f"PR {number}")
    if not fork:
        git(where, "push", "-q", "origin", f"topic-{number}")
    git(where, "push", "-q", "origin", f"HEAD:refs/pull/{number}/head")
    return sha


def state(repo: Path, cm: ChatML) -> tuple[str, str, int, list[str]]:
    return (
        git(repo, "worktree", "list", "--porcelain"),
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        len(cm.store.sessions(include_archived=True)),
        sorted(str(p) for p in cm.workspaces_dir.rglob("*")) if cm.workspaces_dir.exists() else [],
    )


@pytest.mark.parametrize("fork", [False, True], ids=["branch-pr", "fork-pr"])
def test_session_from_pr(cm: ChatML, repo: Path, origin: Path, tmp_path: Path, fork: bool) -> None:
    sha = publish_pr(origin, tmp_path / "contributor", 7, fork=fork)
    branches_of_origin = git(origin, "branch", "--contains", sha).strip()
    assert bool(branches_of_origin) is not fork

    session = cm.new_session(repo, from_pr=7)
    rec = session.record
    assert (rec.name, rec.branch, rec.pr_number) == ("pr-7", "chatml/pr-7", 7)
    assert rec.base_ref == "pull/7/head" and rec.base_commit == sha
    assert git(session.worktree, "rev-parse", "HEAD").strip() == sha
    assert (session.worktree / "pr7.txt").read_text() == "pull request 7\n"
    assert git(session.worktree, "branch", "--show-current").strip() == "chatml/pr-7"
    # The temporary fetch ref is gone; the main checkout is where it was.
    assert git(repo, "for-each-ref", "refs/chatml/") == ""
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert not (repo / "pr7.txt").exists()


def test_session_from_pr_with_a_name(cm: ChatML, repo: Path, origin: Path, tmp_path: Path) -> None:
    sha = publish_pr(origin, tmp_path / "contributor", 12, fork=True)
    session = cm.new_session(repo, from_pr=12, name="review login")
    assert (session.name, session.branch) == ("review-login", "chatml/review-login")
    assert git(session.worktree, "rev-parse", "HEAD").strip() == sha


def test_unknown_pr_leaves_nothing_behind(cm: ChatML, repo: Path, origin: Path, tmp_path: Path) -> None:
    publish_pr(origin, tmp_path / "contributor", 7, fork=True)
    cm.add_workspace(repo)
    before = state(repo, cm)
    with pytest.raises(PullRequestNotFoundError, match="#99 not found") as info:
        cm.new_session(repo, from_pr=99)
    assert type(info.value) is PullRequestNotFoundError
    assert "\n" not in str(info.value)
    assert state(repo, cm) == before
