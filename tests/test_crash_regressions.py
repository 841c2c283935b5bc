"""Issue 8's failures, each reproduced as it was reported, on the command line.

Failures 1-4: an archive, unarchive or delete killed half-way and then retried lost work or could
not be retried. Failure 8: a failed `new` left its branch, and gc did not see it. The kills come
from the `git` shim of :mod:`tests.faults`, at the first git command that starts with a prefix.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML
from chatml_lab.core.snapshots import SNAPSHOT_NS
from chatml_lab.errors import SessionArchivedError
from chatml_lab.storage.operations import Operation

from .conftest import commit_file, git
from .faults import Shim, Work, blob_id, disagreements, forked, holds, killed, make_work, where_is


@dataclass
class Cli:
    cm: ChatML
    repo: Path
    shim: Shim
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    def killed_at(self, prefix: str, *argv: str, when: str = "after") -> None:
        """Run `chatml ARGV` and SIGKILL it just ``when`` its first git command starting with ``prefix``."""
        assert killed(forked(argv, self.shim.env(0, when, on=prefix))), f"{argv} was not killed at {prefix}"

    def refs(self, work: Work) -> dict[str, str]:
        out = git(
            self.repo,
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            f"{SNAPSHOT_NS}/{work.session_id}/",
        )
        return dict(line.split() for line in out.splitlines())


@pytest.fixture
def cli(cm: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    commit_file(repo, ".worktreeinclude", ".env\n")
    (repo / ".env").write_text("SECRET=main\n")
    cm.add_workspace(repo)
    yield Cli(cm, repo, Shim(tmp_path), capsys)


def test_1_a_delete_retried_after_a_kill_keeps_its_first_snapshot(cli: Cli) -> None:
    work = make_work(cli.cm, cli.repo, "s")
    cli.killed_at("worktree remove", "delete", "s", "--force")
    first = cli.refs(work)
    assert len(first) == 1 and holds(cli.repo, next(iter(first)), work)

    code, out, _ = cli("delete", "s", "--force")
    assert code == 0 and f"its work is kept in {next(iter(first))}" in out
    assert cli.refs(work) == first  # the same ref, never moved to the branch tip
    untracked = blob_id(work.files["notes/untracked.txt"])
    assert untracked in git(cli.repo, "ls-tree", "-r", next(iter(first)))
    assert disagreements(cli.cm, cli.repo) == []


def test_2_an_archive_retried_after_a_kill_keeps_the_work(cli: Cli) -> None:
    work = make_work(cli.cm, cli.repo, "s")
    cli.killed_at("worktree remove", "archive", "s")
    assert where_is(cli.repo, work) is not None

    code, out, err = cli("archive", "s")
    assert code == 0 and "uncommitted work kept in refs/chatml/snapshots/" in out, err
    rec = cli.cm.store.session(work.session_id)
    assert rec is not None and rec.archived and rec.snapshot_ref and holds(cli.repo, rec.snapshot_ref, work)
    code, out, _ = cli("unarchive", "s")
    assert code == 0 and where_is(cli.repo, work) == "worktree"
    code, _, err = cli("delete", "s")
    assert code == 1 and "would lose" in err  # the edits are back, so delete refuses
    assert cli("gc", "--yes")[0] == 0
    assert where_is(cli.repo, work) == "worktree"
    assert disagreements(cli.cm, cli.repo) == []


def test_3_an_unarchive_killed_after_worktree_add_can_be_retried(cli: Cli) -> None:
    work = make_work(cli.cm, cli.repo, "s")
    cli.cm.archive(work.session_id)
    cli.killed_at("worktree add", "unarchive", "s")
    assert work.worktree.exists()  # git made it; the row still says archived

    code, out, err = cli("unarchive", "s")
    assert code == 0 and "restored s" in out, err
    assert "in the way" not in err
    rec = cli.cm.store.session(work.session_id)
    assert rec is not None and not rec.archived and rec.health == "ok"
    assert where_is(cli.repo, work) == "worktree"
    assert disagreements(cli.cm, cli.repo) == []


@pytest.mark.parametrize("move_aside", [False, True], ids=["retried", "moved-aside-then-retried"])
def test_4_an_unarchive_killed_after_its_last_git_call_restores_on_retry(cli: Cli, move_aside: bool) -> None:
    work = make_work(cli.cm, cli.repo, "s")
    cli.cm.archive(work.session_id)
    cli.killed_at("ls-tree", "unarchive", "s")  # its last git command: checking every byte came back
    if move_aside:  # what the old "is in the way" message told the user to do
        work.worktree.rename(work.worktree.with_name("aside"))

    code, out, err = cli("unarchive", "s")
    assert code == 0 and "restored s" in out, err
    assert where_is(cli.repo, work) == "worktree"
    assert cli("gc", "--yes")[0] == 0
    assert where_is(cli.repo, work) == "worktree"  # gc dropped the snapshot only once it was verified back
    if move_aside:
        shutil.rmtree(work.worktree.with_name("aside"))
        assert cli("gc", "--yes")[0] == 0
    assert disagreements(cli.cm, cli.repo) == []


def test_8_a_failed_new_leaves_no_branch_and_the_retry_works(cli: Cli) -> None:
    # `git worktree add -b` makes the branch, then cannot make the directory: a file is in the way.
    base = cli.cm.workspaces_dir
    base.mkdir(parents=True, exist_ok=True)
    (base / "project").write_text("not a directory\n")
    code, _, err = cli("new", "doomed", "--repo", str(cli.repo))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "could not create" in err
    assert git(cli.repo, "branch", "--list", "chatml/*").strip() == ""
    assert cli.cm.store.sessions(include_archived=True) == []
    assert cli.cm.store.open_operations() == []
    (base / "project").unlink()
    code, out, err = cli("new", "doomed", "--repo", str(cli.repo))
    assert code == 0 and "created session doomed" in out, err


def test_8_gc_reports_and_cleans_orphan_session_branches_but_keeps_unique_work(cli: Cli) -> None:
    cli("new", "kept", "--repo", str(cli.repo))
    git(cli.repo, "branch", "chatml/orphan", "main")  # what a failed `new` used to leave
    git(cli.repo, "branch", "chatml/unique", "main")
    commit_on = cli.repo / "unique-work"
    git(cli.repo, "worktree", "add", "-q", str(commit_on), "chatml/unique")
    commit_file(commit_on, "mine.txt", "only here\n")
    git(cli.repo, "worktree", "remove", str(commit_on))
    git(cli.repo, "branch", "user-branch", "main")  # not ours: no session prefix

    code, out, _ = cli("gc", "--dry-run")
    assert "orphan branch (no session, no unique commit): chatml/orphan" in out
    assert "kept branch chatml/unique of no session: 1 commit(s) on no other branch" in out
    assert "user-branch" not in out and "chatml/kept" not in out
    code, out, _ = cli("gc", "--yes")
    assert code == 0 and "deleted branch chatml/orphan" in out
    branches = set(git(cli.repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split())
    assert branches == {"main", "chatml/kept", "chatml/unique", "user-branch"}


def test_8_gc_reports_snapshot_refs_no_session_references(cli: Cli) -> None:
    stray = f"{SNAPSHOT_NS}/0123456789abcdef/archive-1-x"
    git(cli.repo, "update-ref", stray, "main")
    work = make_work(cli.cm, cli.repo, "live")
    unverified = f"{SNAPSHOT_NS}/{work.session_id}/archive-2-y"
    git(cli.repo, "update-ref", unverified, git(cli.repo, "rev-parse", "main").strip())
    report = cli.cm.gc(dry_run=True)
    assert stray in report.stale_snapshot_refs  # its session is gone
    assert unverified not in report.stale_snapshot_refs  # its content is not in the live worktree
    assert any(unverified in note for note in report.notes)


def test_a_session_part_way_through_an_operation_shows_as_such(cli: Cli, tmp_path: Path) -> None:
    """An open operation whose process lives is shown and waited for; once that process is gone,
    the next command settles it (here: undoes an archive that removed nothing)."""
    work = make_work(cli.cm, cli.repo, "busy")
    owner = subprocess.Popen(["sleep", "60"])
    try:
        now = time.time()
        cli.cm.store.begin_operation(Operation(
            id="op-by-another-process", kind="archive", session_id=work.session_id,
            workspace_id=cli.cm.workspace(cli.repo).id, session_name="busy", step="planned", state="open",
            pid=owner.pid, pid_started=psutil.Process(owner.pid).create_time(), started_at=now,
            updated_at=now, plan={"path": str(work.worktree), "branch": "chatml/busy", "summary": "",
                                  "ref": f"{SNAPSHOT_NS}/{work.session_id}/archive-x", "worktree": True},
        ))  # fmt: skip
        code, out, _ = cli("list")
        assert code == 0 and f"archive in progress (pid {owner.pid}" in out
        assert f"archive in progress (pid {owner.pid}" in cli("gc", "--dry-run")[1]
        code, _, err = cli("archive", "busy")
        assert code == 1 and "is being changed by another process (archive" in err
        assert cli("set", "busy", "--priority", "high")[0] == 0  # a change that cannot collide
    finally:
        owner.kill()
        owner.wait()
    code, out, err = cli("list")
    assert code == 0 and "undid the unfinished archive of busy" in err
    assert "archive in progress" not in out and where_is(cli.repo, work) == "worktree"
    assert cli("archive", "busy")[0] == 0
    assert disagreements(cli.cm, cli.repo) == []


def test_two_archives_of_one_session_at_once_keep_the_snapshot_referenced(cli: Cli) -> None:
    """The second archive read the session before the first one took the repository lock; it used
    to archive again over it and clear the snapshot ref the first one had just written. The race is
    made certain here: the session's archive script runs the other `chatml archive`. (Through the
    Python API the second call raises "was archived by another process meanwhile".)"""
    chatml = Path(sys.executable).parent / "chatml"
    config = cli.repo / ".chatml" / "config.json"
    config.parent.mkdir()
    config.write_text(
        json.dumps({"archive": f'[ -n "$INNER" ] || INNER=1 {chatml} archive "$CHATML_SESSION_NAME"'})
    )
    work = make_work(cli.cm, cli.repo, "twice")
    code, out, _ = cli("archive", "twice")
    assert code == 0 and "archived (already) twice" in out  # the other process's archive stands
    rec = cli.cm.store.session(work.session_id)
    assert rec is not None and rec.archived and rec.snapshot_ref and holds(cli.repo, rec.snapshot_ref, work)
    assert cli("unarchive", "twice")[0] == 0 and where_is(cli.repo, work) == "worktree"
    other = make_work(cli.cm, cli.repo, "again")  # the same race through the Python API
    with pytest.raises(SessionArchivedError, match="'again' was archived by another process meanwhile"):
        cli.cm.archive(other.session_id)
    rec = cli.cm.store.session(other.session_id)
    assert rec is not None and rec.snapshot_ref and holds(cli.repo, rec.snapshot_ref, other)
