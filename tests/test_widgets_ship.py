"""The dashboard's Push / PR buttons, PR column (link, state, checks), conflict marker and PR poll."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.render.pr import conflict_marks, pr_cell_html
from chatml_lab.widgets.dashboard import Dashboard
from chatml_lab.widgets.pr_poll import PullRequestPoll

from . import github_fixtures
from .conftest import commit_file, git
from .github_fixtures import REPO, World

world = github_fixtures.world


@pytest.fixture
def board(world: World) -> Iterator[Dashboard]:
    dashboard = Dashboard(world.cm, autostart=False, background=False)
    yield dashboard
    dashboard.close()


def test_pr_cell_html() -> None:
    assert ">none<" in pr_cell_html({"pr_status": "none"})
    cell = pr_cell_html({"pr_status": "open", "pr_number": 7, "pr_url": "https://x/pull/7", "checks": "failure",
                         "pr_title": "T <b>", "pr_draft": True}, "conflicts with main")  # fmt: skip
    assert 'href="https://x/pull/7"' in cell and "#7 open draft" in cell and "\N{BALLOT X}" in cell
    assert "T &lt;b&gt;" in cell and "conflicts with main" in cell
    rows = [{"workspace": "w", "session": "a", "clean_with_main": False, "conflicts_with": ["b"]},
            {"workspace": "w", "session": "c", "clean_with_main": True, "conflicts_with": []}]  # fmt: skip
    assert conflict_marks(rows) == {"w/a": "conflicts with main, b"}


def test_push_and_pr_buttons_and_the_pr_column(world: World, board: Dashboard, tmp_path: Path) -> None:
    cm, emu = world.cm, world.emu
    s = cm.new_session(world.repo, name="board")
    commit_file(s.worktree, "b.txt", "b\n", "Board work")
    board.refresh()
    widgets_row = board.row("board")
    widgets_row.push.click()
    assert "board: new" in board.banner.value
    assert (
        git(world.origin, "rev-parse", "chatml/board").strip() == git(s.worktree, "rev-parse", "HEAD").strip()
    )
    widgets_row.open_pr.click()
    assert "opened pull request #1" in board.banner.value
    board.refresh()
    assert (
        f'href="https://github.com/{REPO}/pull/1"' in widgets_row.pr.value
        and "#1 open" in widgets_row.pr.value
    )
    assert widgets_row.status.value == "in_review"

    emu.set_check_run(emu.pulls[(REPO, 1)].head_sha, "ci", "completed", "success")
    board.pr_poll.poll()
    board.refresh()
    assert "\N{CHECK MARK}" in widgets_row.pr.value

    other = cm.new_session(world.repo, name="other")
    commit_file(other.worktree, "b.txt", "different\n", "Clash")
    board.pr_poll.forecast()
    board.refresh()
    assert "conflicts with other" in widgets_row.pr.value
    assert "conflicts with board" in board.row("other").pr.value


def test_pr_poll_is_due_at_chatml_intervals_and_reports_an_error_once(
    cm: ChatML, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    poll = PullRequestPoll(cm)
    assert poll.due(now=1e9)
    poll.last = 1e9
    assert not poll.due(now=1e9 + 29) and poll.due(now=1e9 + 30)
    cm.new_session(repo, name="tokenless")
    cm.update_workspace(repo, github_repo="acme/project")
    only_git = tmp_path / "bin"  # no `gh` to ask for a token
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(only_git))
    first = poll.poll()
    assert first is not None and "GITHUB_TOKEN" in first
    assert poll.poll() is None  # the same error is not shown again
    assert PullRequestPoll(cm, enabled=False).due(now=1e12) is False


def test_chat_header_and_transcript_show_the_pr(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from chatml_lab.cli import main
    from chatml_lab.widgets.chat import ChatPanel

    s = world.cm.new_session(world.repo, name="talk")
    commit_file(s.worktree, "t.txt", "t\n", "Talk")
    s.create_pr(title="Talk", body="b")
    panel = ChatPanel(s, autostart=False)
    try:
        panel.refresh()
        assert "#1 open" in panel.header.value and f"https://github.com/{REPO}/pull/1" in panel.header.value
        assert "opened pull request #1" in panel.text and "task status → in_review" in panel.text
    finally:
        panel.close()
    assert main(["log", "talk"]) == 0
    assert "PR #1 open, checks none, task status → in_review" in capsys.readouterr().out
