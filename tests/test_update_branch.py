"""update_branch / abort_update: rebase or merge onto origin/main, uncommitted work kept byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.core.session import Session
from chatml_lab.errors import UpdateConflictError, UpdateInProgressError
from chatml_lab.gitops import integration

from .conftest import commit_file, git
from .test_sessions_drift import checkout_state

NO_EDITOR = {**os.environ, "GIT_EDITOR": "true"}


def upstream_commit(origin: Path, tmp_path: Path, name: str, content: str) -> str:
    where = tmp_path / f"up-{name.replace('/', '-')}-{len(list(tmp_path.iterdir()))}"
    git(tmp_path, "clone", "-q", str(origin), str(where))
    sha = commit_file(where, name, content, f"upstream {name}")
    git(where, "push", "-q", "origin", "HEAD:main")
    return sha


def dirty(s: Session) -> None:
    """Every kind of uncommitted work: staged + unstaged on one file, a deletion, a new untracked
    file, a mode change, and an ignored file."""
    wt = s.worktree
    (wt / "feat.txt").write_text("staged\n")
    git(wt, "add", "feat.txt")
    (wt / "feat.txt").write_text("staged\nand unstaged\n")
    (wt / "old.txt").unlink()
    (wt / "notes").mkdir()
    (wt / "notes" / "todo.md").write_text("- untracked\n")
    (wt / "tool.sh").chmod(0o755)
    (wt / ".env").write_text("SECRET=1\n")


def session_with_work(cm: ChatML, repo: Path) -> Session:
    s = cm.new_session(repo, name="upd")
    commit_file(s.worktree, "feat.txt", "committed\n", "feat")
    commit_file(s.worktree, "old.txt", "old\n", "old")
    commit_file(s.worktree, "tool.sh", "#!/bin/sh\n", "tool")
    return s


@pytest.mark.parametrize("method", ["rebase", "merge"])
def test_update_on_a_dirty_tree_keeps_every_byte(cm: ChatML, repo: Path, origin: Path, tmp_path: Path,
                                                 method: str) -> None:  # fmt: skip
    s = session_with_work(cm, repo)
    dirty(s)
    before = checkout_state(s.worktree)
    up = upstream_commit(origin, tmp_path, "upstream.txt", "from main\n")
    s.update_branch(method)
    wt = s.worktree
    after = checkout_state(wt)
    assert git(wt, "merge-base", "--is-ancestor", up, "HEAD").strip() == ""  # origin/main is in
    assert git(wt, "branch", "--show-current").strip() == "chatml/upd"
    assert (wt / "upstream.txt").read_text() == "from main\n"
    files = {k: v for k, v in after["files"].items() if k != "upstream.txt"}  # type: ignore[attr-defined]
    assert files == before["files"]
    assert after["status"] == before["status"]
    assert git(wt, "diff", "--cached", "--", "feat.txt").count("+staged") == 1
    assert "+and unstaged" in git(wt, "diff", "--", "feat.txt")
    rec = s.record
    assert (rec.ahead, rec.behind) == (4 if method == "merge" else 3, 0)
    assert rec.base_commit == up
    if method == "rebase":
        assert git(wt, "rev-parse", "HEAD~3").strip() == up
    else:
        assert git(wt, "log", "-1", "--format=%s").strip() == "Merge origin/main into chatml/upd"
    assert cm.store.query("SELECT * FROM branch_updates") == []
    assert all(
        "/restored-" in ref
        for ref in git(repo, "for-each-ref", "--format=%(refname)", "refs/chatml/").split()
    )


def test_conflict_stops_then_abort_brings_back_every_byte(cm: ChatML, repo: Path, origin: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    s = session_with_work(cm, repo)
    commit_file(s.worktree, "README.md", "# project, session version\n", "edit readme")
    dirty(s)
    before = checkout_state(s.worktree)
    upstream_commit(origin, tmp_path, "README.md", "# project, main version\n")
    with pytest.raises(UpdateConflictError) as info:
        s.update_branch("rebase")
    assert info.value.files == ["README.md"]
    assert "README.md" in str(info.value) and "--abort" in str(info.value) and "\n" not in str(info.value)
    wt = s.worktree
    assert cm.store.query("SELECT session_id FROM branch_updates")[0][0] == s.id
    assert "<<<<<<<" in (wt / "README.md").read_text()
    assert git(wt, "diff", "--name-only", "--diff-filter=U").split() == ["README.md"]
    with pytest.raises(UpdateConflictError, match=r"stopped on conflicts in README\.md"):
        s.update_branch()  # still conflicted: says so again, changes nothing
    with pytest.raises(UpdateInProgressError, match="unfinished"):
        s.push()
    s.abort_update()
    assert checkout_state(wt) == before
    assert cm.store.query("SELECT * FROM branch_updates") == []
    with pytest.raises(UpdateInProgressError, match="no unfinished update"):
        s.abort_update()


def test_merge_conflict_resolved_by_hand_then_finished(cm: ChatML, repo: Path, origin: Path,
                                                       tmp_path: Path) -> None:  # fmt: skip
    s = session_with_work(cm, repo)
    commit_file(s.worktree, "README.md", "# session\n", "edit readme")
    (s.worktree / "scratch.txt").write_text("uncommitted\n")
    upstream_commit(origin, tmp_path, "README.md", "# main\n")
    with pytest.raises(UpdateConflictError):
        s.update_branch("merge")
    assert not (s.worktree / "scratch.txt").exists()  # set aside while git works
    (s.worktree / "README.md").write_text("# both\n")
    git(s.worktree, "add", "README.md")
    import subprocess

    subprocess.run(["git", "commit", "-q", "--no-edit"], cwd=s.worktree, env=NO_EDITOR, check=True)
    s.update_branch()  # finishes: the uncommitted work comes back
    assert (s.worktree / "scratch.txt").read_text() == "uncommitted\n"
    assert (s.worktree / "README.md").read_text() == "# both\n"
    assert cm.store.query("SELECT * FROM branch_updates") == []
    assert s.behind == 0


def test_uncommitted_changes_that_clash_with_new_commits_are_kept(cm: ChatML, repo: Path, origin: Path,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    s = cm.new_session(repo, name="clash")
    (s.worktree / "README.md").write_text("# my uncommitted edit\n")
    before = checkout_state(s.worktree)
    upstream_commit(origin, tmp_path, "README.md", "# upstream edit\n")
    with pytest.raises(UpdateConflictError, match="kept in refs/chatml/snapshots/"):
        s.update_branch()
    assert (s.worktree / "README.md").read_text() == "# upstream edit\n"
    s.abort_update()
    assert checkout_state(s.worktree) == before


def test_a_kill_half_way_is_undone_or_finished(cm: ChatML, repo: Path, origin: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    s = session_with_work(cm, repo)
    dirty(s)
    before = checkout_state(s.worktree)
    upstream_commit(origin, tmp_path, "upstream.txt", "main\n")

    def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(integration, "integrate", killed)
    with pytest.raises(SystemExit):
        s.update_branch()
    monkeypatch.undo()
    # The worktree was set aside (clean), the work is only in the snapshot ref, the row remembers.
    assert git(s.worktree, "status", "--porcelain") == ""
    with ChatML(data_dir=cm.data_dir) as fresh:
        again = fresh.session("upd")
        again.abort_update()
        assert checkout_state(s.worktree) == before
        # And an update after a kill starts over and completes.
        with pytest.raises(SystemExit):
            monkeypatch.setattr(integration, "integrate", killed)
            again.update_branch()
        monkeypatch.undo()
        again.update_branch()
        assert (s.worktree / "upstream.txt").exists()
        assert (s.worktree / "notes" / "todo.md").read_text() == "- untracked\n"
        assert again.behind == 0


def test_update_with_nothing_new_is_a_no_op(cm: ChatML, repo: Path) -> None:
    s = cm.new_session(repo, name="fresh")
    (s.worktree / "wip.txt").write_text("wip\n")
    before = checkout_state(s.worktree)
    s.update_branch()
    assert checkout_state(s.worktree) == before
    notices = [e.data["message"] for e in s.events() if e.type.value == "notice"]
    assert any("no change needed" in n for n in notices)
