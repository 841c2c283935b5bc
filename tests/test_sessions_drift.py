"""Drift (ahead/behind against the default branch) and the main checkout left alone.

Real git in temp dirs; the bare ``origin`` fixture stands in for GitHub.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType

from .conftest import commit_file, git


def checkout_state(repo: Path) -> dict[str, object]:
    """Everything a user sees of a checkout: HEAD, branch, status, index and every file's bytes + mode."""
    files: dict[str, tuple[int, bytes]] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo)
        if rel.parts[0] == ".git" or path.is_dir():
            continue
        mode = path.lstat().st_mode
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        files[str(rel)] = (stat.S_IMODE(mode) | stat.S_IFMT(mode), data)
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "rev-parse", "--symbolic-full-name", "HEAD"),
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "index": git(repo, "ls-files", "--stage"),
        "files": files,
    }


def push_from_elsewhere(origin: Path, where: Path, name: str) -> str:
    """Clone ``origin`` into ``where``, commit ``name`` on main and push it; return the commit."""
    git(where.parent, "clone", "-q", str(origin), str(where))
    sha = commit_file(where, name, f"{name}\n")
    git(where, "push", "-q", "origin", "HEAD:main")
    return sha


@pytest.fixture
def eager(hermetic: Path) -> Iterator[ChatML]:
    """A manager whose sync fetches every time (no throttle)."""
    manager = ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]), config=Config(fetch_throttle=0))
    yield manager
    manager.close()


def test_ahead_then_behind_and_main_checkout_untouched(
    eager: ChatML, repo: Path, origin: Path, tmp_path: Path
) -> None:
    # A main checkout with its own uncommitted work and an ignored file: none of it may change.
    (repo / "README.md").write_text("# project, edited by the user\n")
    (repo / "scratch.txt").write_text("mine\n")
    (repo / ".env").write_text("SECRET=1\n")
    git(repo, "add", "scratch.txt")
    before = checkout_state(repo)

    session = eager.new_session(repo, name="drift")
    assert session.base_ref == "origin/main"
    assert session.base_commit == git(repo, "rev-parse", "origin/main").strip()
    fresh = session.sync()
    assert (fresh.ahead, fresh.behind) == (0, 0)

    commit_file(session.worktree, "feature.txt", "feature\n")
    session.sync()
    assert (session.ahead, session.behind) == (1, 0)

    push_from_elsewhere(origin, tmp_path / "other", "upstream.txt")
    session.sync()
    assert (session.ahead, session.behind) == (1, 1)
    assert session.drift_checked_at is not None

    row = eager.table().set_index("name").loc["drift"]
    assert (row["ahead"], row["behind"]) == (1, 1)
    assert checkout_state(repo) == before
    # The session's commit never reached the main checkout's branch.
    assert git(repo, "rev-parse", "main") == before["head"]


def test_background_sync_is_throttled_explicit_sync_fetches(
    cm: ChatML, repo: Path, origin: Path, tmp_path: Path
) -> None:
    session = cm.new_session(repo, name="throttled")
    push_from_elsewhere(origin, tmp_path / "other", "upstream.txt")
    # new_session just fetched: inside the 60 s window a background sync uses the refs it has ...
    before = time.time()
    rec = cm.sync(session.id, background=True)
    assert rec.behind == 0 and rec.drift_checked_at is not None and rec.drift_checked_at >= before
    # ... while a sync a person asked for fetches now, right after the push (issue 9).
    assert session.sync().behind == 1
    row = next(r for r in cm.rows() if r["id"] == session.id)
    assert row["behind"] == 1 and row["drift_checked_at"] >= rec.drift_checked_at


def test_drift_counts_merge_base_not_tip_difference(
    eager: ChatML, repo: Path, origin: Path, tmp_path: Path
) -> None:
    """Two commits upstream and a merge of upstream into the branch: behind 0, ahead counts the merge."""
    session = eager.new_session(repo, name="merged")
    commit_file(session.worktree, "a.txt", "a\n")
    push_from_elsewhere(origin, tmp_path / "other", "up1.txt")
    commit_file(tmp_path / "other", "up2.txt", "up2\n")
    git(tmp_path / "other", "push", "-q", "origin", "HEAD:main")
    session.sync()
    assert (session.ahead, session.behind) == (1, 2)
    git(session.worktree, "fetch", "-q", "origin")
    git(session.worktree, "merge", "-q", "--no-edit", "origin/main")
    session.sync()
    assert (session.ahead, session.behind) == (2, 0)


def test_repository_without_remote(eager: ChatML, tmp_path: Path) -> None:
    local = tmp_path / "local"
    git(tmp_path, "init", "-q", "-b", "trunk", str(local))
    commit_file(local, "a.txt", "a\n")
    before = checkout_state(local)

    ws = eager.add_workspace(local)
    assert (ws.remote, ws.default_branch) == (None, "trunk")
    session = eager.new_session(ws, name="offline")
    assert session.base_ref == "trunk"
    assert git(session.worktree, "branch", "--show-current").strip() == "chatml/offline"
    assert checkout_state(local) == before

    commit_file(session.worktree, "b.txt", "b\n")
    commit_file(local, "c.txt", "c\n")
    session.sync()
    assert (session.ahead, session.behind) == (1, 1)
    # Archive and unarchive need no remote either.
    session.archive()
    session.unarchive()
    assert (session.worktree / "b.txt").read_text() == "b\n"


@pytest.mark.parametrize("with_remote", [True, False], ids=["origin", "no-remote"])
def test_main_checkout_on_detached_head(eager: ChatML, repo: Path, tmp_path: Path, with_remote: bool) -> None:
    if not with_remote:
        git(repo, "remote", "remove", "origin")
    commit_file(repo, "later.txt", "later\n")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    before = checkout_state(repo)

    ws = eager.add_workspace(repo)
    assert ws.default_branch == "main"
    session = eager.new_session(ws, name="detached")
    expected = "origin/main" if with_remote else "main"
    assert session.base_ref == expected
    assert session.base_commit == git(repo, "rev-parse", expected).strip()
    assert (session.worktree / "later.txt").exists() is not with_remote
    session.sync()
    assert (session.ahead, session.behind) == (0, 0)
    assert checkout_state(repo) == before


def test_offline_creation_uses_local_refs_and_says_so(eager: ChatML, repo: Path, origin: Path) -> None:
    """The remote is unreachable: creation still works from the last fetched refs, with a notice."""
    origin.rename(origin.with_name("unreachable.git"))
    session = eager.new_session(repo, name="offline")
    assert session.base_commit == git(repo, "rev-parse", "origin/main").strip()
    notices = [e.data["message"] for e in session.events() if e.type is EventType.NOTICE]
    assert any(message.startswith("fetch failed, using local refs") for message in notices)
    commit_file(session.worktree, "w.txt", "w\n")
    assert eager.sync(session.id).ahead == 1


def test_sync_with_an_unreachable_remote_warns_and_counts_from_local_refs(
    repo: Path, origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chatml_lab.cli import main
    from chatml_lab.config import Config
    from chatml_lab.events import EventType

    cm = ChatML(config=Config(fetch_throttle=0))
    try:
        session = cm.new_session(repo, name="offline")
        commit_file(session.worktree, "local.txt", "x\n")
        origin.rename(tmp_path / "origin-gone.git")
        rec = cm.sync(session.id)
        assert (rec.ahead, rec.behind) == (1, 0)
        notices = [e.data["message"] for e in session.events() if e.type is EventType.NOTICE]
        assert any("fetch of origin failed" in n and "local refs" in n for n in notices)
        cm.store.update_workspace(session.workspace_id, last_fetch_at=0.0)  # past the CLI's throttle
    finally:
        cm.close()
    assert main(["sync", "offline"]) == 0
    captured = capsys.readouterr()
    assert "offline: ahead 1, behind 0" in captured.out
    assert "warning: fetch of origin failed" in captured.err
