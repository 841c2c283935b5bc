"""Issue 8, failure 7: a damaged, full or read-only store, a vanished session, a closed pipe — one
line each, never a traceback; reading commands keep working where the store can still be read.

The full disk and the read-only directory are real: a small tmpfs mounted for the test (and
remounted read-only), which needs root and a `mount` that works; elsewhere those tests skip.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import SessionNotFoundError, StoreDamagedError, StoreUnwritableError

from .conftest import git


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "sqlite3" not in err
    return code, out, err


def one_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, _, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("chatml: error: "), err
    return lines[0]


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (skips the test when this machine cannot)."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write until the disk is full; the file that filled it."""
    filler = disk / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError), open(disk / "filler-tail", "wb") as out:
        while True:
            out.write(b"\0")
            out.flush()
    return filler


def a_session_with_a_log(data: Path, repo: Path) -> None:
    with ChatML(data_dir=data) as cm:
        session = cm.new_session(repo, name="kept")
        cm.records.notice(session.id, "something worth reading")


@pytest.fixture
def data_on_tmpfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        data = disk / "chatml"
        monkeypatch.setenv("CHATML_DATA_DIR", str(data))
        monkeypatch.setenv("CHATML_WORKSPACES_DIR", str(tmp_path / "trees"))
        yield data


def test_a_full_disk_keeps_reading_commands_working(
    data_on_tmpfs: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_session_with_a_log(data_on_tmpfs, repo)
    fill(data_on_tmpfs.parent)
    code, out, err = run(capsys, "list")
    assert code == 0 and "kept" in out, err
    code, out, _ = run(capsys, "show", "kept")
    assert code == 0 and "chatml/kept" in out
    code, out, _ = run(capsys, "log", "kept")
    assert code == 0 and "something worth reading" in out
    assert "cannot be written" in one_error(capsys, "set", "kept", "--pin")
    line = one_error(capsys, "new", "another", "--repo", str(repo))
    assert "cannot be written" in line and "free some space" in line
    assert git(repo, "branch", "--list", "chatml/another").strip() == ""
    for name in ("filler", "filler-tail"):
        (data_on_tmpfs.parent / name).unlink()
    assert run(capsys, "set", "kept", "--pin")[0] == 0
    assert run(capsys, "new", "another", "--repo", str(repo))[0] == 0


def test_a_read_only_data_dir_keeps_reading_commands_working(
    data_on_tmpfs: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_session_with_a_log(data_on_tmpfs, repo)
    subprocess.run(["mount", "-o", "remount,ro", str(data_on_tmpfs.parent)], check=True)
    code, out, err = run(capsys, "list", "--json")
    assert code == 0 and '"kept"' in out, err
    assert run(capsys, "log", "kept")[0] == 0
    assert run(capsys, "show", "kept")[0] == 0
    line = one_error(capsys, "set", "kept", "--priority", "high")
    assert "read-only" in line or "cannot be written" in line
    with pytest.raises(StoreUnwritableError), ChatML() as cm:
        cm.update(cm.session("kept").id, pinned=True)


def test_worktree_add_on_a_full_disk_leaves_no_branch(
    cm: ChatML,
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cm.add_workspace(repo)
    for n in range(30):  # enough files that a checkout cannot fit
        (repo / f"big-{n}.bin").write_bytes(os.urandom(64 * 1024))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "big files")
    with tmpfs(tmp_path / "small", "1m") as small:
        monkeypatch.setenv("CHATML_WORKSPACES_DIR", str(small))
        line = one_error(capsys, "new", "wontfit", "--repo", str(repo), "--base", "main")
        assert "No space left" in line or "could not" in line or "failed" in line
        assert git(repo, "branch", "--list", "chatml/wontfit").strip() == ""
        assert "wontfit" not in git(repo, "worktree", "list")
        assert not (small / "project" / "wontfit").exists()
        assert cm.store.sessions(include_archived=True) == [] and cm.store.open_operations() == []


@pytest.mark.parametrize("damage", ["not-a-database", "malformed"])
def test_a_damaged_store_is_one_line_for_reading_and_writing_commands(
    cm: ChatML, repo: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    for n in range(3):
        session = cm.new_session(repo, name=f"s{n}")
        for i in range(300):  # enough pages that damage in the middle hits a table
            cm.records.notice(session.id, f"event {i} " + "x" * 200)
    path = cm.store.path
    cm.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    if damage == "not-a-database":
        data[:100] = b"\xde\xad\xbe\xef" * 25
    else:
        page = 4096
        for start in range(2 * page, len(data) - page, 3 * page):
            data[start : start + page] = b"\x42" * page
    path.write_bytes(bytes(data))
    for argv in (["list", "--all"], ["show", "s1"], ["log", "s1"], ["set", "s1", "--pin"]):
        line = one_error(capsys, *argv)
        assert "is damaged" in line and "move it aside" in line, line
    with pytest.raises(StoreDamagedError):
        ChatML().sessions(include_archived=True)


@pytest.mark.usefixtures("engine")
def test_a_session_deleted_by_another_process_during_sync_or_archive(
    cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    """The other process deletes the row while this one works (the deletion runs at a progress
    step of this one): one line saying so, not a FOREIGN KEY traceback."""
    git(repo, "remote", "set-url", "origin", str(tmp_path / "gone.git"))  # the fetch fails: a notice is due

    def delete_when(step: str, name: str) -> None:
        def progress(message: str) -> None:
            if message.startswith(step):
                with ChatML(data_dir=cm.data_dir) as other:
                    other.store.delete_session(other.session(name).id)

        cm.progress = progress

    victim = cm.new_session(repo, name="synced")
    delete_when("fetching", "synced")
    with pytest.raises(SessionNotFoundError, match="'synced' was deleted by another process"):
        cm.sync(victim.id)
    cm.progress = lambda _: None
    victim = cm.new_session(repo, name="archived")
    delete_when("writing the archive summary", "archived")
    with pytest.raises(SessionNotFoundError, match="'archived' was deleted by another process"):
        cm.archive(victim.id)


@pytest.mark.usefixtures("engine")
def test_list_into_a_closed_pipe_is_quiet(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    for n in range(3):
        cm.new_session(repo, name=f"s{n}")
    chatml = Path(sys.executable).parent / "chatml"
    read, write = os.pipe()
    os.close(read)  # `| head` that has already left
    try:
        proc = subprocess.run([str(chatml), "list", "--json"], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=60)  # fmt: skip
    finally:
        os.close(write)
    assert proc.stderr == "" and proc.returncode == 141
