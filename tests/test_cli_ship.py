"""``chatml push|pr|merge|update|prs|conflicts`` and ``workspace set --github-repo``, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatml_lab.cli import main

from . import github_fixtures
from .conftest import commit_file, git
from .github_fixtures import REPO, World
from .test_sessions_drift import checkout_state
from .test_update_branch import upstream_commit

world = github_fixtures.world


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ship_from_the_terminal(world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cm = world.cm
    assert run(capsys, "workspace", "set", world.ws.name, "--github-repo", "") == (
        0, f"workspace {world.ws.name}: GitHub repository (none: the remote URL names none)\n", "",
    )  # fmt: skip
    code, out, _ = run(capsys, "workspace", "set", world.ws.name, "--github-repo", REPO)
    assert code == 0 and REPO in out
    code, _, err = run(capsys, "workspace", "set", world.ws.name, "--github-repo", "nonsense")
    assert code == 1 and "OWNER/NAME" in err and err.count("\n") == 1

    s = cm.new_session(world.repo, name="cli-ship")
    commit_file(s.worktree, "c.txt", "c\n", "Add c")
    assert run(capsys, "push", "cli-ship")[:2] == (0, "cli-ship: new\n")
    code, out, _ = run(capsys, "pr", "cli-ship", "--title", "From the CLI", "--draft")
    assert code == 0 and out == f"cli-ship: pull request #1 https://github.com/{REPO}/pull/1\n"
    code, out, _ = run(capsys, "pr", "cli-ship")
    assert code == 0 and "already linked" in out

    world.emu.pulls[(REPO, 1)].draft = False
    world.emu.pulls[(REPO, 1)].updated = world.emu.tick()
    world.emu.set_check_run(world.emu.pulls[(REPO, 1)].head_sha, "ci", "completed", "success")
    code, out, _ = run(capsys, "prs", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["pr"] == "#1" and rows[0]["checks"] == "success" and rows[0]["changed"]
    code, out, _ = run(capsys, "prs")
    assert "#1" in out and "0 changed" in out

    code, out, _ = run(capsys, "merge", "cli-ship", "--method", "rebase")
    assert code == 0 and "merged #1 (rebase)" in out and "task done" in out
    assert world.emu.last_merge_method == "rebase"


def test_update_conflict_abort_and_conflicts(world: World, capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:  # fmt: skip
    cm = world.cm
    a = cm.new_session(world.repo, name="left")
    b = cm.new_session(world.repo, name="right")
    commit_file(a.worktree, "README.md", "# left\n", "left")
    commit_file(b.worktree, "README.md", "# right\n", "right")
    (a.worktree / "wip.txt").write_text("wip\n")
    code, out, _ = run(capsys, "conflicts", "--json")
    rows = {r["session"]: r for r in json.loads(out)}
    assert code == 0 and rows["left"]["conflicts_with"] == ["right"] and rows["left"]["uncommitted"]
    code, out, _ = run(capsys, "conflicts")
    assert "left *" in out and "right: README.md" in out and "uncommitted work included" in out

    before = checkout_state(a.worktree)
    upstream_commit(world.origin, tmp_path, "README.md", "# main\n")
    code, out, err = run(capsys, "update", "left")
    assert code == 1 and "conflict: README.md" in out and "--abort" in err
    code, out, _ = run(capsys, "update", "left", "--abort")
    assert code == 0 and "aborted" in out
    assert checkout_state(a.worktree) == before
    code, _, err = run(capsys, "update", "left", "--abort")
    assert code == 1 and "no unfinished update" in err
    git(b.worktree, "reset", "-q", "--hard", "HEAD~1")
    code, out, _ = run(capsys, "update", "right", "--merge")
    assert code == 0 and "behind 0" in out
