"""Live PR status: poll passes against the emulator, task status moving, merge, back-off, detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.core.session import Session
from chatml_lab.errors import GitHubBackoffError, PullRequestRefusedError
from chatml_lab.events import EventType

from . import github_fixtures
from .agent_fixtures import agent_cm, kill_runners, write_script
from .conftest import commit_file, git
from .github_fixtures import REPO, World

world = github_fixtures.world
__all__ = ["agent_cm"]


def pushed_session(world: World, name: str, filename: str | None = None, content: str = "x\n") -> Session:
    s = world.cm.new_session(world.repo, name=name)
    commit_file(s.worktree, filename or f"{name}.txt", content, f"Work on {name}")
    s.push()
    return s


def pr_updates(s: Session) -> list[dict[str, object]]:
    return [e.data for e in s.events() if e.type is EventType.PR_UPDATE]


def test_none_open_checks_merged_with_task_status_moving(world: World) -> None:
    cm, emu = world.cm, world.emu
    s = pushed_session(world, "flow")
    assert cm.refresh_prs() == [] and s.record.pr_status.value == "none"

    pull = emu.open_pr(REPO, "chatml/flow", title="Flow")
    first_sha = pull.head_sha
    changed = cm.refresh_prs()
    assert [c.id for c in changed] == [s.id]
    rec = s.record
    assert (rec.pr_status.value, rec.pr_number, rec.task_status.value) == ("open", 1, "in_review")
    assert s.pr.title == "Flow" and s.pr.mergeable == "clean" and s.pr.checks.value == "none"
    assert pr_updates(s)[-1]["task_status"] == "in_review"

    emu.set_check_run(pull.head_sha, "tests", "in_progress")
    emu.set_status(pull.head_sha, "ci/legacy", "success")
    assert [c.id for c in cm.refresh_prs()] == [s.id]
    assert s.pr.checks.value == "pending"
    emu.set_check_run(pull.head_sha, "tests", "completed", "failure")
    cm.refresh_prs()
    # ``s.pr`` is a property that reads the store anew: mypy's narrowing from the line above is wrong.
    assert s.pr.checks.value == "failure" and s.pr.mergeable == "unstable"  # type: ignore[comparison-overlap]
    assert "checks: pending → failure" in pr_updates(s)[-1]["changes"]  # type: ignore[operator]
    # A finished result of an unchanged head is not asked for again until checks_recheck_after ...
    emu.set_check_run(pull.head_sha, "tests", "completed", "success")
    assert cm.refresh_prs() == [] and s.pr.checks.value == "failure"
    cm.config = Config(checks_recheck_after=0)  # ... after which a re-run is seen
    cm.refresh_prs()
    assert s.pr.checks.value == "success" and s.pr.mergeable == "clean"
    cm.config = Config()
    # A fix pushed: the new head's checks are followed from scratch.
    commit_file(s.worktree, "fix.txt", "fix\n", "Fix")
    s.push()
    cm.refresh_prs()
    assert s.pr.checks.value == "none" and s.pr.head_sha == pull.head_sha != first_sha
    emu.set_check_run(pull.head_sha, "tests", "queued")
    cm.refresh_prs()
    assert s.pr.checks.value == "pending"
    emu.set_check_run(pull.head_sha, "tests", "completed", "success")
    cm.refresh_prs()
    assert s.pr.checks.value == "success"

    emu.merge_pr(REPO, 1)
    assert [c.id for c in cm.refresh_prs()] == [s.id]
    rec = s.record
    assert (rec.pr_status.value, rec.task_status.value) == ("merged", "done")
    last = pr_updates(s)[-1]
    assert last["pr_status"] == "merged" and last["task_status"] == "done"
    assert cm.refresh_prs() == []
    assert not s.archived  # archive_on_merge is off by default


def test_closed_pr(world: World) -> None:
    s = pushed_session(world, "closing")
    world.emu.open_pr(REPO, "chatml/closing")
    world.cm.refresh_prs()
    world.emu.close_pr(REPO, 1)
    assert [c.id for c in world.cm.refresh_prs()] == [s.id]
    assert s.record.pr_status.value == "closed" and s.task_status.value == "in_review"


def test_a_pass_with_nothing_changed_is_one_conditional_request(world: World) -> None:
    cm, emu = world.cm, world.emu
    sessions = [pushed_session(world, f"idle-{i}") for i in range(3)]
    for s in sessions[:2]:
        pull = emu.open_pr(REPO, s.branch)
        emu.set_check_run(pull.head_sha, "tests", "completed", "success")
    cm.refresh_prs()
    before = len(emu.log)
    assert cm.refresh_prs() == []
    assert [(r.method, r.path, r.status, r.conditional) for r in emu.log[before:]] == [
        ("GET", f"/repos/{REPO}/pulls", 304, True)
    ]


def test_the_user_s_hand_beats_automatic_moves(world: World) -> None:
    cm, emu = world.cm, world.emu
    s = pushed_session(world, "hand")
    emu.open_pr(REPO, "chatml/hand")
    cm.refresh_prs()
    assert s.task_status.value == "in_review"
    s.update(task_status="in_progress")  # by hand, after the automatic move
    emu.merge_pr(REPO, 1)
    cm.refresh_prs()
    assert s.record.pr_status.value == "merged" and s.task_status.value == "in_progress"
    assert "task_status" not in pr_updates(s)[-1]


def test_rate_limit_and_server_errors_back_off_the_poller(world: World) -> None:
    cm, emu = world.cm, world.emu
    pushed_session(world, "limited")
    emu.fail(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4102444800"},
             message="API rate limit exceeded")  # fmt: skip
    with pytest.raises(GitHubBackoffError, match="rate limit"):
        cm.refresh_prs()
    sent = len(emu.log)
    with pytest.raises(GitHubBackoffError, match="no request before"):
        cm.refresh_prs()
    assert len(emu.log) == sent  # backed off: nothing sent


def test_server_error_backs_off(world: World) -> None:
    cm, emu = world.cm, world.emu
    pushed_session(world, "flaky")
    emu.fail(503)
    with pytest.raises(GitHubBackoffError, match="503"):
        cm.refresh_prs()
    with pytest.raises(GitHubBackoffError):
        cm.refresh_prs()
    assert len(emu.log) == 1


def test_merge_refuses_failed_checks_and_conflicts_unless_forced(world: World, tmp_path: Path) -> None:
    emu = world.emu
    s = pushed_session(world, "merge-me")
    link = s.create_pr(title="Merge me", body="b")
    sha = emu.pulls[(REPO, link.number)].head_sha
    emu.set_check_run(sha, "tests", "completed", "failure")
    with pytest.raises(PullRequestRefusedError, match="checks failed"):
        s.merge_pr()
    emu.set_check_run(sha, "tests", "in_progress")
    with pytest.raises(PullRequestRefusedError, match="still running"):
        s.merge_pr()
    assert emu.pulls[(REPO, 1)].state == "open"
    emu.set_check_run(sha, "tests", "completed", "failure")
    merged = s.merge_pr(method="merge", force=True)
    assert emu.last_merge_method == "merge"
    assert git(world.origin, "rev-parse", "main").strip() == merged
    rec = s.record
    assert (rec.pr_status.value, rec.task_status.value) == ("merged", "done")
    assert git(world.origin, "branch", "--list", "chatml/merge-me").strip()  # branch kept

    # A PR that conflicts with main is refused even with green checks.
    c = pushed_session(world, "clash", filename="README.md", content="clash\n")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(world.origin), str(other))
    commit_file(other, "README.md", "main moved\n")
    git(other, "push", "-q", "origin", "HEAD:main")
    c.create_pr(title="Clash", body="b")
    with pytest.raises(PullRequestRefusedError, match="conflicts with its base"):
        c.merge_pr()
    with pytest.raises(PullRequestRefusedError, match="not mergeable"):
        c.merge_pr(force=True)  # GitHub itself refuses


def test_merge_settings_delete_branch_and_archive(world: World) -> None:
    cm = world.cm
    cm.set_setting("delete_branch_on_merge", "true")
    cm.set_setting("archive_on_merge", "yes")
    s = pushed_session(world, "tidy")
    (s.worktree / "notes.txt").write_text("uncommitted notes\n")
    s.create_pr(title="Tidy", body="b")
    s.merge_pr()
    assert git(world.origin, "branch", "--list", "chatml/tidy").strip() == ""
    rec = s.record
    assert rec.archived and rec.task_status.value == "done"
    s.unarchive()  # the archive was the lossless one
    assert (s.worktree / "notes.txt").read_text() == "uncommitted notes\n"


def test_link_from_bash_output(world: World) -> None:
    cm, emu = world.cm, world.emu
    s = pushed_session(world, "agentic")
    git(s.worktree, "push", "-q", "origin", "HEAD:refs/heads/agent-branch")
    emu.open_pr(REPO, "agent-branch", title="Opened by the agent")
    shipper = cm.shipping.shipper
    assert shipper.link_from_output(s.id, "https://github.com/someone/else/pull/1\n") is None
    out = f"Creating pull request for agent-branch into main\n\nhttps://github.com/{REPO}/pull/1\n"
    assert shipper.link_from_output(s.id, out) == 1
    rec = s.record
    assert (rec.pr_number, rec.pr_status.value, rec.task_status.value) == (1, "open", "in_review")
    assert s.pr.title == "Opened by the agent"
    # The poller keeps it bound by number though its head is another branch.
    emu.merge_pr(REPO, 1)
    cm.refresh_prs()
    assert s.record.pr_status.value == "merged"


def test_runner_links_a_pr_its_agent_opened(agent_cm: ChatML, world: World, tmp_path: Path) -> None:
    """A real runner: the scripted agent's Bash prints a PR URL, as `gh pr create` does."""
    world.emu.open_pr(REPO, "main", title="Agent PR")
    script = write_script(tmp_path / "pr.json", [
        [{"type": "tool_use", "name": "Bash", "input": {"command": f"echo https://github.com/{REPO}/pull/1"}}],
        [{"type": "text", "text": "Opened it."}],
    ])  # fmt: skip
    ws = agent_cm.add_workspace(world.repo) if not agent_cm.workspaces() else agent_cm.workspaces()[0]
    s = agent_cm.new_session(ws, name="runner-pr", agent=f"scripted:{script}", permission_mode="bypass")
    try:
        s.send("open a PR")
        assert s.wait(timeout=60) == "idle"
        rec = s.record
        assert (rec.pr_number, rec.pr_status.value) == (1, "open")
        assert any(u.get("message") == "linked pull request #1 the agent opened" for u in pr_updates(s))
    finally:
        kill_runners(agent_cm)


def test_poll_interval_follows_chatml(world: World) -> None:
    cm = world.cm
    assert cm.pr_poll_interval() == 30.0
    pushed_session(world, "interval")
    world.emu.open_pr(REPO, "chatml/interval")
    cm.refresh_prs()
    assert cm.pr_poll_interval() == 45.0
    cm.config = Config(pr_poll_interval=5.0, pr_poll_interval_open=7.0)
    assert cm.pr_poll_interval() == 7.0


def test_old_etags_are_pruned(world: World) -> None:
    rows = world.cm.store
    rows.put_etag("old", 'W/"1"', [])
    world.cm.store.execute("UPDATE github_etags SET stored_at = 0 WHERE key = 'old'")
    pushed_session(world, "prune")
    world.cm.refresh_prs()
    assert rows.etag("old") is None
    assert world.cm.store.scalar("SELECT COUNT(*) FROM github_etags") == 1  # the list's validator
