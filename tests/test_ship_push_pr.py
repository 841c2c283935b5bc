"""Push and pull-request creation against the GitHub emulator and a bare ``origin``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import GitHubUnavailableError, PullRequestRefusedError, PushRejectedError
from chatml_lab.events import EventType

from . import github_fixtures
from .conftest import commit_file, git
from .github_fixtures import REPO, World

world = github_fixtures.world


def remote_tip(origin: Path, branch: str) -> str | None:
    out = git(origin, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}").strip()
    return out or None


def test_push_sets_upstream_and_never_plain_forces(world: World, tmp_path: Path) -> None:
    cm, origin = world.cm, world.origin
    s = cm.new_session(world.repo, name="feat")
    sha = commit_file(s.worktree, "feat.txt", "feat\n", "Add feat")
    assert s.push() == "new"
    assert remote_tip(origin, "chatml/feat") == sha
    assert git(s.worktree, "rev-parse", "--abbrev-ref", "@{upstream}").strip() == "origin/chatml/feat"
    assert s.push() == "up-to-date"
    sha2 = commit_file(s.worktree, "feat.txt", "feat 2\n", "More feat")
    assert s.push() == "fast-forward" and remote_tip(origin, "chatml/feat") == sha2

    # Someone else pushes to the branch: the remote diverged.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "chatml/feat", str(origin), str(other))
    theirs = commit_file(other, "theirs.txt", "theirs\n")
    git(other, "push", "-q", "origin", "chatml/feat")
    git(s.worktree, "commit", "-q", "--amend", "-m", "Rewritten")
    with pytest.raises(PushRejectedError) as info:
        s.push()
    assert "force_with_lease" in str(info.value) and "\n" not in str(info.value)
    assert remote_tip(origin, "chatml/feat") == theirs
    # The lease is what we last fetched: their commit is unseen, so even force_with_lease refuses.
    with pytest.raises(PushRejectedError, match="moved since it was last fetched"):
        s.push(force_with_lease=True)
    assert remote_tip(origin, "chatml/feat") == theirs
    git(s.worktree, "fetch", "-q", "origin")
    assert s.push(force_with_lease=True) == "forced"
    assert remote_tip(origin, "chatml/feat") == git(s.worktree, "rev-parse", "HEAD").strip()
    notices = [e.data["message"] for e in s.events() if e.type is EventType.NOTICE]
    assert any("pushed chatml/feat to chatml/feat on origin (new)" in n for n in notices)


def test_create_pr_pushes_honours_template_and_moves_task_status(world: World) -> None:
    cm, emu = world.cm, world.emu
    template = "## What\n\n<!-- describe -->\n\n- [ ] tests added\n"
    (world.repo / ".github").mkdir()
    (world.repo / ".github" / "pull_request_template.md").write_text(template)
    git(world.repo, "add", ".github")
    git(world.repo, "commit", "-q", "-m", "PR template")
    git(world.repo, "push", "-q", "origin", "main")
    s = cm.new_session(world.repo, name="login-fix")
    commit_file(s.worktree, "login.py", "def login(): ...\n", "Reject empty passwords")
    assert s.task_status.value == "in_progress"

    link = s.create_pr()
    assert (link.number, link.created) == (1, True)
    assert link.url == f"https://github.com/{REPO}/pull/1"
    pull = emu.pulls[(REPO, 1)]
    assert pull.title == "Reject empty passwords" and len(pull.title) < 72
    assert pull.body is not None and pull.body.startswith(template.rstrip())
    assert "- Reject empty passwords" in pull.body and "login.py" in pull.body
    assert pull.head_ref == "chatml/login-fix" and pull.base_ref == "main"
    assert remote_tip(world.origin, "chatml/login-fix") == git(s.worktree, "rev-parse", "HEAD").strip()
    rec = s.record
    assert (rec.pr_status.value, rec.pr_number, rec.pr_url) == ("open", 1, link.url)
    assert s.task_status.value == "in_review"
    assert s.pr.title == "Reject empty passwords" and s.pr.head == "chatml/login-fix"
    updates = [e.data for e in s.events() if e.type is EventType.PR_UPDATE]
    assert updates[-1]["pr_status"] == "open" and updates[-1]["task_status"] == "in_review"

    # Asked again: linked, not created twice.
    again = s.create_pr(title="Another")
    assert (again.number, again.created) == (1, False)
    assert len(emu.pulls) == 1
    assert [r.method for r in emu.log].count("POST") == 1


def test_an_open_pr_made_elsewhere_is_linked_not_duplicated(world: World) -> None:
    cm, emu = world.cm, world.emu
    s = cm.new_session(world.repo, name="dup")
    commit_file(s.worktree, "dup.txt", "dup\n", "Dup work")
    s.push()
    emu.open_pr(REPO, "chatml/dup", title="Opened on github.com")
    link = s.create_pr(title="Mine", body="body")
    assert (link.number, link.created) == (1, False)
    assert "already exists" in link.message and "not created again" in link.message
    assert [r.method for r in emu.log].count("POST") == 0
    assert s.record.pr_number == 1 and s.pr.title == "Opened on github.com"


def test_explicit_title_body_draft_and_no_commits(world: World) -> None:
    cm, emu = world.cm, world.emu
    s = cm.new_session(world.repo, name="empty")
    with pytest.raises(PullRequestRefusedError, match="no commits"):
        s.create_pr()
    assert emu.count("/pulls") == 1  # only the duplicate check was asked
    commit_file(s.worktree, "a.txt", "a\n", "First")
    commit_file(s.worktree, "b.txt", "b\n", "Second")
    link = s.create_pr(title="My title", body="My body", draft=True)
    pull = emu.pulls[(REPO, link.number)]
    assert (pull.title, pull.body, pull.draft) == ("My title", "My body", True)
    assert s.pr.draft is True


def test_fallback_title_for_several_commits_is_the_session_name(world: World) -> None:
    s = world.cm.new_session(world.repo, name="parser-cleanup")
    commit_file(s.worktree, "a.txt", "a\n", "First")
    commit_file(s.worktree, "b.txt", "b\n", "Second")
    s.create_pr()
    pull = world.emu.pulls[(REPO, 1)]
    assert pull.title == "Parser cleanup"
    assert pull.body is not None and pull.body.index("- First") < pull.body.index("- Second")


def test_no_token_is_one_line_and_the_token_is_never_stored(world: World, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:  # fmt: skip
    cm = world.cm
    s = cm.new_session(world.repo, name="tok")
    commit_file(s.worktree, "t.txt", "t\n", "T")
    s.create_pr()
    cm.refresh_prs()
    data_dir = Path(os.environ["CHATML_DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert world.emu.token.encode() not in path.read_bytes(), path
    assert world.emu.token.encode() not in (world.repo / ".git" / "config").read_bytes()

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(__import__("shutil").which("git"))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("GITHUB_TOKEN")
    with ChatML(data_dir=data_dir) as fresh:
        with pytest.raises(GitHubUnavailableError) as info:
            fresh.refresh_prs()
        assert "GITHUB_TOKEN" in str(info.value) and "gh auth login" in str(info.value)
        assert "\n" not in str(info.value)
        with pytest.raises(GitHubUnavailableError, match="GITHUB_TOKEN"):
            fresh.session("tok").merge_pr()
        # Push needs no token: it is plain git.
        commit_file(s.worktree, "t.txt", "t2\n", "T2")
        assert fresh.session("tok").push() == "fast-forward"


def test_workspace_without_github_repo_keeps_working(cm: ChatML, repo: Path) -> None:
    s = cm.new_session(repo, name="plain")
    assert cm.github_repo(repo) is None  # origin is a local path
    commit_file(s.worktree, "p.txt", "p\n")
    assert s.push() == "new"
    with pytest.raises(GitHubUnavailableError) as info:
        s.create_pr()
    message = str(info.value)
    assert "no GitHub repository" in message and "--github-repo OWNER/NAME" in message
    assert cm.refresh_prs() == []  # nothing to poll: no error, no request
    cm.update_workspace(repo, github_repo="acme/project")
    assert cm.github_repo(repo) == "acme/project"
    cm.update_workspace(repo, github_repo="")
    assert cm.github_repo(repo) is None
