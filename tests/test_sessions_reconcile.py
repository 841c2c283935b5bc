"""Hand-made changes (worktree deleted, branch switched, worktree moved, orphan worktrees) and gc."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import WorkWouldBeLostError

from .conftest import commit_file, git


def worktree_paths(repo: Path) -> list[Path]:
    out = git(repo, "worktree", "list", "--porcelain")
    return [Path(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("worktree ")]


def health(cm: ChatML, name: str, include_archived: bool = False) -> str:
    frame = cm.table(include_archived=include_archived).set_index("name")
    return str(frame.loc[name, "health"])


def test_worktree_deleted_by_hand(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="vanished")
    tip = commit_file(session.worktree, "kept.txt", "committed before the rm\n")
    cm.new_session(repo, name="bystander")
    shutil.rmtree(session.worktree)

    assert "worktree missing" in health(cm, "vanished")
    assert health(cm, "bystander") == "ok"
    report = cm.gc(dry_run=True)
    assert report.missing_worktrees == ["vanished"]
    assert report.orphan_worktrees == [] and report.stale_snapshot_refs == []
    # A dry run changes nothing: still live, git still lists the (prunable) worktree.
    assert not cm.record(session.id).archived
    assert session.worktree in worktree_paths(repo)

    report = cm.gc(dry_run=False)
    assert any("archived vanished" in action for action in report.actions)
    rec = cm.record(session.id)
    assert rec.archived
    assert git(repo, "rev-parse", rec.branch).strip() == tip  # branch kept
    assert session.worktree not in worktree_paths(repo)
    assert cm.gc(dry_run=True).empty

    cm.unarchive(session.id)
    assert (session.worktree / "kept.txt").read_text() == "committed before the rm\n"
    assert health(cm, "vanished") == "ok"


def test_archive_and_delete_after_the_worktree_was_deleted_by_hand(cm: ChatML, repo: Path) -> None:
    archived = cm.new_session(repo, name="archived-later")
    commit_file(archived.worktree, "a.txt", "a\n")
    shutil.rmtree(archived.worktree)
    rec = cm.archive(archived.id)
    assert rec.archived and rec.snapshot_ref is None
    assert "already gone" in (rec.archive_summary or "")
    cm.unarchive(archived.id)
    assert (archived.worktree / "a.txt").read_text() == "a\n"

    deleted = cm.new_session(repo, name="deleted-later")
    path = deleted.worktree
    shutil.rmtree(path)
    assert deleted.delete() is None
    assert git(repo, "branch", "--list", "chatml/deleted-later").strip() == ""
    assert path not in worktree_paths(repo)


def test_branch_switched_by_hand(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="switcher")
    commit_file(session.worktree, "on-session-branch.txt", "x\n")
    git(session.worktree, "switch", "-q", "-c", "my-experiment")
    commit_file(session.worktree, "experiment.txt", "y\n")

    found = health(cm, "switcher")
    assert "switched by hand" in found and "my-experiment" in found
    assert session.branch == "my-experiment"
    events = [e.data.get("message", "") for e in session.events()]
    assert any("switched by hand" in message for message in events)
    # The session's original branch is kept, and the session keeps working on the new one.
    assert git(repo, "branch", "--list", "chatml/switcher").strip()
    session.sync(fetch=False)
    assert session.ahead == 2
    session.archive()
    session.unarchive()
    assert git(session.worktree, "branch", "--show-current").strip() == "my-experiment"
    assert (session.worktree / "experiment.txt").exists()


def test_worktree_moved_with_git(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    session = cm.new_session(repo, name="mover")
    (session.worktree / "dirty.txt").write_text("uncommitted\n")
    old = session.worktree
    new = tmp_path / "moved-here"
    git(repo, "worktree", "move", str(old), str(new))

    found = health(cm, "mover")
    assert "moved" in found and str(new) in found
    assert session.worktree == new
    assert cm.gc(dry_run=True).empty
    session.sync(fetch=False)
    assert (session.ahead, session.behind) == (0, 0)
    session.archive()
    assert not new.exists()
    session.unarchive()
    assert (new / "dirty.txt").read_text() == "uncommitted\n"
    assert health(cm, "mover") == "ok"


def test_orphan_worktrees_under_the_workspaces_dir(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    cm.new_session(repo, name="real")
    base = cm.workspaces_dir / "project"
    dirty = base / "handmade-dirty"
    clean = base / "handmade-clean"
    outside = tmp_path / "users-own-worktree"
    git(repo, "worktree", "add", "-q", "-b", "hand-dirty", str(dirty))
    git(repo, "worktree", "add", "-q", "-b", "hand-clean", str(clean))
    git(repo, "worktree", "add", "-q", "-b", "users-own", str(outside))
    (dirty / "README.md").write_text("edited by hand\n")
    (dirty / "notes.txt").write_text("untracked notes\n")
    (outside / "mine.txt").write_text("not chatml's business\n")

    report = cm.gc(dry_run=True)
    assert sorted(report.orphan_worktrees) == sorted([clean, dirty])
    assert dirty.exists() and clean.exists()

    report = cm.gc(dry_run=False)
    assert not dirty.exists() and not clean.exists()
    assert outside.exists() and (outside / "mine.txt").exists()
    assert set(worktree_paths(repo)) == {repo.resolve(), base / "real", outside}
    for branch in ("hand-dirty", "hand-clean", "users-own"):
        assert git(repo, "branch", "--list", branch).strip(), branch
    kept = git(repo, "for-each-ref", "--format=%(refname)", "refs/chatml/orphans/").split()
    assert len(kept) == 1 and "handmade-dirty" in kept[0]
    assert git(repo, "show", f"{kept[0]}:notes.txt") == "untracked notes\n"
    assert git(repo, "show", f"{kept[0]}:README.md") == "edited by hand\n"
    assert any(str(dirty) in action and kept[0] in action for action in report.actions)
    assert cm.gc(dry_run=True).empty


def test_stale_snapshot_refs_and_stale_worktree_records(cm: ChatML, repo: Path) -> None:
    doomed = cm.new_session(repo, name="doomed")
    (doomed.worktree / "wip.txt").write_text("wip\n")
    kept = doomed.delete(force=True)
    restored = cm.new_session(repo, name="restored")
    (restored.worktree / "wip.txt").write_text("wip\n")
    restored.archive()
    restored.unarchive()
    live = cm.new_session(repo, name="live-snapshot")
    (live.worktree / "wip.txt").write_text("wip\n")
    live_ref = cm.archive(live.id).snapshot_ref
    # A worktree git still records but whose directory is gone and which no session owns.
    stray = repo.parent / "stray"
    git(repo, "worktree", "add", "-q", "--detach", str(stray))
    shutil.rmtree(stray)

    report = cm.gc(dry_run=True)
    # Unarchive leaves the archive's ref in place (only gc removes a snapshot ref), having checked
    # that every byte came back: gc may drop it.
    restored_refs = [r for r in report.stale_snapshot_refs if f"/{restored.id}/" in r]
    assert kept in report.stale_snapshot_refs and len(restored_refs) == 1
    assert live_ref not in report.stale_snapshot_refs
    assert report.half_made == [str(stray)]
    before = git(repo, "for-each-ref", "refs/chatml/")
    assert kept in before and restored_refs[0] in before

    cm.gc(dry_run=False)
    after = git(repo, "for-each-ref", "--format=%(refname)", "refs/chatml/").split()
    assert after == [live_ref]
    assert stray not in worktree_paths(repo)
    assert cm.gc(dry_run=True).empty
    # The archived session still restores from its ref.
    live.unarchive()
    assert (live.worktree / "wip.txt").read_text() == "wip\n"


def test_gc_skips_a_workspace_whose_repository_is_gone(cm: ChatML, repo: Path) -> None:
    cm.new_session(repo, name="homeless")
    shutil.rmtree(repo)
    report = cm.gc(dry_run=True)
    assert any("skipped workspace project" in action for action in report.actions)
    assert report.empty  # nothing found, nothing to clean: the workspace was skipped, not crashed on


def test_workspaces_dir_behind_a_symlink_is_not_mistaken_for_orphans(
    cm: ChatML, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git records real paths; a workspaces dir reached through a symlink (macOS /tmp, a moved home)."""
    real = tmp_path / "real-trees"
    real.mkdir()
    link = tmp_path / "trees-link"
    link.symlink_to(real)
    monkeypatch.setenv("CHATML_WORKSPACES_DIR", str(link))
    session = cm.new_session(repo, name="linked")
    (session.worktree / "wip.txt").write_text("uncommitted\n")

    assert cm.gc(dry_run=True).empty
    cm.gc(dry_run=False)
    assert (session.worktree / "wip.txt").read_text() == "uncommitted\n"
    assert health(cm, "linked") == "ok"
    session.archive()
    session.unarchive()
    assert (session.worktree / "wip.txt").read_text() == "uncommitted\n"


def test_delete_finds_a_moved_worktree_before_judging_it(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    """Delete right after a `git worktree move`, with nothing reconciled in between."""
    session = cm.new_session(repo, name="moved-dirty")
    (session.worktree / "dirty.txt").write_text("uncommitted\n")
    new = tmp_path / "moved-dirty"
    git(repo, "worktree", "move", str(session.worktree), str(new))

    with pytest.raises(WorkWouldBeLostError, match="1 uncommitted file"):
        session.delete()
    assert (new / "dirty.txt").exists()
    kept = session.delete(force=True)
    assert kept is not None
    assert git(repo, "show", f"{kept}:dirty.txt") == "uncommitted\n"
    assert not new.exists()
    assert git(repo, "branch", "--list", "chatml/moved-dirty").strip() == ""
