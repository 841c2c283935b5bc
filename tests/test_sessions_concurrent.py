"""Concurrent creation from several processes on one repository: no duplicates, nothing half-made."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.models import ConversationKind

from .conftest import git

CREATE_TEN = """
import json, sys
from chatml_lab.core.manager import ChatML
with ChatML() as cm:
    made = [cm.new_session(sys.argv[1]).id for _ in range(int(sys.argv[2]))]
print(json.dumps(made))
"""


def run_together(commands: list[list[str]], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once, wait for all; the environment is the hermetic one."""
    procs = [
        subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    done = []
    for proc, cmd in zip(procs, commands, strict=True):
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return done


def assert_consistent(cm: ChatML, repo: Path, expected: int) -> None:
    """Database, git and the workspaces dir agree on exactly ``expected`` sessions."""
    records = cm.store.sessions(include_archived=True)
    assert len(records) == expected
    names = {r.name for r in records}
    branches = {r.branch for r in records}
    paths = {r.worktree_path for r in records}
    ports = [r.port_base for r in records]
    assert len(names) == len(branches) == len(paths) == expected
    assert len(set(ports)) == expected
    assert all(abs(a - b) >= cm.config.port_block for a in ports for b in ports if a != b)
    for rec in records:
        kinds = [c.kind for c in cm.store.conversations(rec.id)]
        assert kinds == [ConversationKind.TASK]
        assert git(rec.worktree_path, "branch", "--show-current").strip() == rec.branch
        assert git(rec.worktree_path, "status", "--porcelain").strip() == ""

    porcelain = git(repo, "worktree", "list", "--porcelain")
    assert "prunable" not in porcelain
    listed = {
        Path(line.removeprefix("worktree "))
        for line in porcelain.splitlines()
        if line.startswith("worktree ")
    }
    assert listed == {repo.resolve(), *paths}
    heads = set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/chatml/").split())
    assert heads == branches
    assert git(repo, "for-each-ref", "refs/chatml/").strip() == ""
    ws = cm.workspaces()
    assert len(ws) == 1
    on_disk = set((cm.workspaces_dir / ws[0].name).iterdir())
    assert on_disk == paths


@pytest.mark.usefixtures("engine")
def test_twenty_sessions_from_two_processes(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    cm.add_workspace(repo)
    script = tmp_path / "create.py"
    script.write_text(CREATE_TEN)
    results = run_together([[sys.executable, str(script), str(repo), "10"]] * 2, cwd=tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr
    made = [sid for result in results for sid in json.loads(result.stdout)]
    assert len(set(made)) == 20
    assert_consistent(cm, repo, 20)
    assert {r.id for r in cm.store.sessions(include_archived=True)} == set(made)


@pytest.mark.usefixtures("engine")
def test_cli_new_concurrently_on_an_unregistered_repository(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    """Four `chatml new` at once on a repository nobody registered yet: one workspace, four sessions."""
    chatml = Path(sys.executable).parent / "chatml"
    results = run_together([[str(chatml), "new", "--repo", str(repo)]] * 4, cwd=tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert_consistent(cm, repo, 4)


CREATE_ALTERNATING = """
import sys
from chatml_lab.core.manager import ChatML
with ChatML() as cm:
    for i in range(int(sys.argv[3])):
        cm.new_session(sys.argv[1 + i % 2])
"""


def test_two_repositories_share_the_port_space(cm: ChatML, repo: Path, origin: Path, tmp_path: Path) -> None:
    """Different repositories take different git locks; port blocks must still never collide."""
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    cm.add_workspace(repo)
    cm.add_workspace(other)
    script = tmp_path / "alternate.py"
    script.write_text(CREATE_ALTERNATING)
    results = run_together([[sys.executable, str(script), str(repo), str(other), "6"]] * 2, cwd=tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr
    records = cm.store.sessions(include_archived=True)
    assert len(records) == 12
    ports = sorted(r.port_base for r in records)
    assert ports == [cm.config.port_start + i * cm.config.port_block for i in range(12)]
    for path in (repo, other):
        ws = cm.workspace(path)
        mine = [r for r in records if r.workspace_id == ws.id]
        assert len(mine) == 6
        listed = git(path, "worktree", "list", "--porcelain")
        assert all(f"worktree {r.worktree_path}\n" in listed for r in mine)
        assert len(git(path, "for-each-ref", "refs/heads/chatml/").splitlines()) == 6


def test_a_failed_insert_rolls_back_without_deadlock(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    """Issue 8: when the row could not be written, the rollback re-took the repository lock that
    the creation held and every process on the repository hung. Now it exits with one line,
    leaves no worktree, branch, directory or row, and the next creation works."""
    cm.add_workspace(repo)
    with sqlite3.connect(cm.store.path) as db:  # a real SQLite failure, as a full disk would give
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
    chatml = Path(sys.executable).parent / "chatml"
    result = subprocess.run(
        [str(chatml), "new", "doomed", "--repo", str(repo)],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("chatml: error: could not record session 'doomed'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert cm.store.sessions(include_archived=True) == []
    assert git(repo, "for-each-ref", "refs/heads/chatml/").strip() == ""
    assert "doomed" not in git(repo, "worktree", "list", "--porcelain")
    assert not (cm.workspaces_dir / cm.workspaces()[0].name / "doomed").exists()
    with sqlite3.connect(cm.store.path) as db:
        db.execute("DROP TRIGGER refuse")
    assert cm.new_session(repo, name="doomed").name == "doomed"  # the lock was let go
    assert_consistent(cm, repo, 1)
