"""Never lose work: archive + unarchive restores every byte; delete refuses, or keeps a snapshot ref."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import GitError, WorkWouldBeLostError
from chatml_lab.gitops.repo import GitRepo
from chatml_lab.models import SessionRecord

from .conftest import commit_file, git

FileMap = dict[str, tuple[str, int, bytes]]


def file_map(root: Path) -> FileMap:
    """Every path under ``root`` except ``.git``: kind, permission bits and bytes (link target for links)."""
    found: FileMap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:  # a worktree's `.git` is a file, the main checkout's a directory
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]
        for name in [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))]:
            path = Path(dirpath) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", 0, os.readlink(path).encode())
            else:
                found[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found


def git_view(worktree: Path) -> dict[str, str]:
    """What git says about a worktree: HEAD, branch, staged and unstaged diffs, status."""
    return {
        "head": git(worktree, "rev-parse", "HEAD"),
        "branch": git(worktree, "branch", "--show-current"),
        "staged": git(worktree, "diff", "--cached", "--binary"),
        "unstaged": git(worktree, "diff", "--binary"),
        "status": git(worktree, "status", "--porcelain=v1", "--untracked-files=all"),
    }


@pytest.fixture
def project(repo: Path) -> Path:
    """The ``repo`` fixture plus tracked files of several kinds, a `.worktreeinclude` and an ignored `.env`."""
    (repo / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (repo / "tool.sh").chmod(0o755)
    for name in ("a.txt", "b.txt", "c.txt", "gone.txt", "staged-gone.txt", "nested/deep/d.txt"):
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n" * 3)
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (repo / ".worktreeinclude").write_text(".env\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "project files")
    git(repo, "push", "-q", "origin", "main")
    (repo / ".env").write_text("SECRET=main\n")
    return repo


def make_every_kind_of_work(wt: Path) -> str:
    """An unpushed commit, then staged, unstaged, partly staged, deleted, untracked and ignored work."""
    unpushed = commit_file(wt, "committed.txt", "committed but not pushed\n")
    (wt / "a.txt").write_text("a: unstaged edit\n")  # modified, unstaged
    (wt / "b.txt").write_text("b: staged edit\n")  # modified, staged
    git(wt, "add", "b.txt")
    (wt / "c.txt").write_text("c: staged version\n")  # partly staged: index and tree differ
    git(wt, "add", "c.txt")
    (wt / "c.txt").write_text("c: staged version\nplus an unstaged line\n")
    (wt / "gone.txt").unlink()  # deleted, unstaged
    git(wt, "rm", "-q", "staged-gone.txt")  # deleted, staged
    (wt / "new-staged.txt").write_text("added to the index\n")
    git(wt, "add", "new-staged.txt")
    (wt / "untracked.txt").write_text("never added\n")
    (wt / "nested" / "deep" / "untracked.bin").write_bytes(b"\x00\xff" * 100)
    (wt / "nested" / "new-dir").mkdir()
    (wt / "nested" / "new-dir" / "x.txt").write_text("in a new directory\n")
    (wt / "run.sh").write_text("#!/bin/sh\n")  # untracked executable
    (wt / "run.sh").chmod(0o755)
    (wt / "tool.sh").chmod(0o644)  # mode change of a tracked file
    (wt / "blob.bin").write_bytes(b"changed binary\x00\x01")
    os.symlink("a.txt", wt / "link-to-a")  # untracked symlink
    (wt / ".env").write_text("SECRET=changed in the session\n")  # ignored, listed in .worktreeinclude
    return unpushed


def test_archive_then_unarchive_restores_every_byte(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="busy")
    wt = session.worktree
    assert (wt / ".env").read_text() == "SECRET=main\n"
    unpushed = make_every_kind_of_work(wt)
    files_before, git_before = file_map(wt), git_view(wt)
    assert git_before["staged"] and git_before["unstaged"]

    rec: SessionRecord = cm.archive(session.id)
    assert rec.archived and rec.snapshot_ref
    assert not wt.exists()
    assert cm.disk_usage(session.id) == 0
    assert git(project, "rev-parse", rec.branch).strip() == unpushed  # branch kept
    assert str(wt) not in git(project, "worktree", "list")
    assert git(project, "stash", "list") == ""  # the shared stash was never used
    assert "uncommitted" in (rec.archive_summary or "")

    rec = cm.unarchive(session.id)
    assert not rec.archived and rec.snapshot_ref is None and rec.health == "ok"
    assert rec.worktree_path == wt
    assert file_map(wt) == files_before
    assert git_view(wt) == git_before
    # The live snapshot ref was retired; gc removes the "restored" copy later.
    assert git(project, "stash", "list") == ""
    assert cm.gc(dry_run=True).stale_snapshot_refs


def test_worktreeinclude_untracked_in_main_still_protects_the_sessions_env(cm: ChatML, repo: Path) -> None:
    """`.worktreeinclude` kept only in the main checkout (not committed): the session's `.env` survives."""
    (repo / ".worktreeinclude").write_text(".env\n")
    (repo / ".env").write_text("SECRET=main\n")
    session = cm.new_session(repo, name="envonly")
    wt = session.worktree
    assert (wt / ".env").read_text() == "SECRET=main\n"
    (wt / ".env").write_text("SECRET=session\n")
    before = file_map(wt)
    session.archive()
    session.unarchive()
    assert file_map(wt) == before


def test_archive_twice_round_trip_and_clean_archive(cm: ChatML, project: Path) -> None:
    """A clean session archives without a snapshot; a second round trip of dirty work still restores."""
    clean = cm.new_session(project, name="clean")
    rec = cm.archive(clean.id)
    assert rec.snapshot_ref is None
    assert cm.unarchive(clean.id).worktree_path.is_dir()

    dirty = cm.new_session(project, name="dirty")
    make_every_kind_of_work(dirty.worktree)
    before = (file_map(dirty.worktree), git_view(dirty.worktree))
    for _ in range(2):
        cm.archive(dirty.id)
        cm.unarchive(dirty.id)
        assert (file_map(dirty.worktree), git_view(dirty.worktree)) == before


def repo_refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def test_delete_refuses_when_work_would_be_lost(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="precious")
    wt = session.worktree
    make_every_kind_of_work(wt)
    files, view, refs = file_map(wt), git_view(wt), repo_refs(project)
    worktrees = git(project, "worktree", "list", "--porcelain")

    with pytest.raises(WorkWouldBeLostError, match=r"would lose .*uncommitted.*commit") as info:
        cm.delete(session.id)
    assert type(info.value) is WorkWouldBeLostError
    assert "\n" not in str(info.value)
    assert (file_map(wt), git_view(wt)) == (files, view)
    assert repo_refs(project) == refs
    assert git(project, "worktree", "list", "--porcelain") == worktrees
    assert cm.record(session.id).name == "precious"


def test_delete_with_only_unpushed_commits_refuses(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="committed")
    commit_file(session.worktree, "work.txt", "work\n")
    with pytest.raises(WorkWouldBeLostError, match="1 commit"):
        session.delete()
    # Once the branch is pushed nothing would be lost: delete goes through and keeps no ref.
    git(session.worktree, "push", "-q", "origin", "HEAD")
    assert session.delete() is None
    assert git(project, "for-each-ref", "refs/chatml/") == ""


def test_forced_delete_keeps_a_snapshot_ref(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="doomed")
    wt = session.worktree
    unpushed = make_every_kind_of_work(wt)
    branch = session.branch
    expected = {rel: data for rel, (kind, _mode, data) in file_map(wt).items() if kind == "file"}

    kept = cm.delete(session.id, force=True)
    assert kept is not None and kept.startswith("refs/chatml/")
    assert not wt.exists()
    assert not git(project, "branch", "--list", branch).strip()
    assert cm.store.session(session.id) is None
    assert str(wt) not in git(project, "worktree", "list")

    # The ref holds the unpushed commit and every file of the worktree, byte for byte.
    git(project, "merge-base", "--is-ancestor", unpushed, kept)
    listed = set(git(project, "ls-tree", "-r", "--name-only", kept).splitlines())
    assert set(expected) <= listed
    for rel, data in expected.items():
        shown = _show_bytes(project, f"{kept}:{rel}")
        assert shown == data, rel
    assert "gone.txt" not in listed and "staged-gone.txt" not in listed
    assert _show_bytes(project, f"{kept}:link-to-a") == b"a.txt"

    # gc reports the ref as stale and only then removes it.
    report = cm.gc(dry_run=True)
    assert kept in report.stale_snapshot_refs
    assert git(project, "rev-parse", "--verify", "--quiet", kept).strip()
    cm.gc(dry_run=False)
    assert git(project, "for-each-ref", kept) == ""


def test_forced_delete_of_an_archived_session_keeps_its_snapshot(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="shelved")
    make_every_kind_of_work(session.worktree)
    snapshot = git(project, "rev-parse", cm.archive(session.id).snapshot_ref or "missing").strip()
    with pytest.raises(WorkWouldBeLostError, match="archived uncommitted work"):
        session.delete()
    kept = session.delete(force=True)
    assert kept is not None
    assert git(project, "rev-parse", kept).strip() == snapshot


def _show_bytes(repo: Path, spec: str) -> bytes:
    return subprocess.run(["git", "show", spec], cwd=repo, check=True, capture_output=True).stdout


def test_a_changed_env_counts_as_work_an_unchanged_copy_does_not(cm: ChatML, project: Path) -> None:
    """`.env` copied from the main checkout is no work; editing it in the session is."""
    untouched = cm.new_session(project, name="untouched")
    assert cm.at_risk(untouched.record, GitRepo(project)) == []
    assert untouched.delete() is None

    edited = cm.new_session(project, name="edited")
    (edited.worktree / ".env").write_text("SECRET=edited\n")
    with pytest.raises(WorkWouldBeLostError, match=r"1 changed file\(s\) named in \.worktreeinclude"):
        edited.delete()
    kept = edited.delete(force=True)
    assert kept is not None
    assert _show_bytes(project, f"{kept}:.env") == b"SECRET=edited\n"


def commit_on_branch_elsewhere(repo: Path, branch: str, name: str, content: str) -> str:
    """Commit on ``branch`` from a scratch worktree, as a user might while the session is archived."""
    scratch = repo.parent / f"scratch-{name}"
    git(repo, "worktree", "add", "-q", str(scratch), branch)
    sha = commit_file(scratch, name, content, f"edit {name} elsewhere")
    git(repo, "worktree", "remove", str(scratch))
    return sha


def test_unarchive_after_the_branch_moved_merges_the_work_onto_it(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="moving")
    wt = session.worktree
    (wt / "a.txt").write_text("a: unstaged edit\n")
    (wt / "b.txt").write_text("b: staged edit\n")
    git(wt, "add", "b.txt")
    (wt / "untracked.txt").write_text("never added\n")
    (wt / ".env").write_text("SECRET=changed\n")
    cm.archive(session.id)
    tip = commit_on_branch_elsewhere(project, session.branch, "c.txt", "c: committed while archived\n")

    cm.unarchive(session.id)
    assert git(wt, "rev-parse", "HEAD").strip() == tip  # the new commit is kept, not reverted
    assert (wt / "c.txt").read_text() == "c: committed while archived\n"
    assert git(wt, "diff", "--cached", "--name-only").split() == ["b.txt"]
    assert git(wt, "diff", "--name-only").split() == ["a.txt"]
    assert (wt / "a.txt").read_text() == "a: unstaged edit\n"
    assert (wt / "untracked.txt").read_text() == "never added\n"
    assert (wt / ".env").read_text() == "SECRET=changed\n"
    assert git(project, "stash", "list") == ""


def test_unarchive_refuses_when_the_work_conflicts_with_the_moved_branch(cm: ChatML, project: Path) -> None:
    session = cm.new_session(project, name="clash")
    (session.worktree / "a.txt").write_text("a: the session's edit\n")
    ref = cm.archive(session.id).snapshot_ref
    assert ref is not None
    snapshot = git(project, "rev-parse", ref).strip()
    commit_on_branch_elsewhere(project, session.branch, "a.txt", "a: a conflicting commit\n")

    with pytest.raises(GitError, match="conflict with the new commits") as info:
        cm.unarchive(session.id)
    assert snapshot in str(info.value) and "\n" not in str(info.value)
    rec = cm.record(session.id)
    assert rec.archived and rec.snapshot_ref == ref
    assert git(project, "rev-parse", ref).strip() == snapshot
    assert not session.worktree.exists()
    assert str(session.worktree) not in git(project, "worktree", "list")


@pytest.mark.parametrize("resolved", [False, True], ids=["conflicted", "resolved-uncommitted"])
def test_archive_refuses_during_a_merge(cm: ChatML, project: Path, resolved: bool) -> None:
    """A merge in progress (MERGE_HEAD, maybe unmerged entries) cannot go into a snapshot: refuse."""
    session = cm.new_session(project, name="merging")
    wt = session.worktree
    git(wt, "switch", "-q", "-c", "side")
    commit_file(wt, "a.txt", "side\n")
    git(wt, "switch", "-q", "chatml/merging")
    commit_file(wt, "a.txt", "mine\n")
    merge = subprocess.run(["git", "merge", "-q", "side"], cwd=wt, capture_output=True, text=True)
    assert merge.returncode != 0
    if resolved:
        (wt / "a.txt").write_text("both\n")
        git(wt, "add", "a.txt")
    before = (file_map(wt), git_view(wt), repo_refs(project))

    with pytest.raises(WorkWouldBeLostError, match="a merge is in progress in session 'merging'"):
        cm.archive(session.id)
    assert (file_map(wt), git_view(wt), repo_refs(project)) == before
    assert not cm.record(session.id).archived
