"""The tests never reach the real home: ChatML's real data dir and git config stay as they were.

The snapshot is taken when this module is imported, i.e. at collection, before any test has run; the
check runs a whole session lifecycle (API and a `chatml` subprocess) and compares afterwards, so it
also covers every test that ran before it.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import platformdirs

from chatml_lab.config import default_data_dir
from chatml_lab.core.manager import ChatML

REAL_HOME = Path(pwd.getpwuid(os.getuid()).pw_dir)
REAL_DATA = Path(os.environ.get("XDG_DATA_HOME") or REAL_HOME / ".local" / "share") / "ChatML"
WATCHED = (REAL_DATA, REAL_HOME / ".gitconfig", REAL_HOME / ".config" / "git")


def fingerprint() -> dict[str, tuple[int, int] | None]:
    """Existence, size and mtime of the watched paths and everything under them."""
    found: dict[str, tuple[int, int] | None] = {}
    for root in WATCHED:
        if not root.exists():
            found[str(root)] = None
            continue
        for path in [root, *(root.rglob("*") if root.is_dir() else [])]:
            info = path.lstat()
            found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


AT_COLLECTION = fingerprint()


def test_data_dirs_point_at_temp_dirs(hermetic: Path) -> None:
    assert default_data_dir() == Path(os.environ["CHATML_DATA_DIR"])
    assert hermetic in default_data_dir().parents
    assert hermetic in Path(platformdirs.user_data_dir("ChatML", appauthor=False)).parents
    assert Path.home() != REAL_HOME and hermetic in Path.home().parents


def test_nothing_reaches_the_real_home(repo: Path, tmp_path: Path) -> None:
    with ChatML() as cm:  # defaults only: the hermetic environment must be enough
        assert cm.data_dir == Path(os.environ["CHATML_DATA_DIR"])
        session = cm.new_session(repo, name="home-check")
        (session.worktree / "wip.txt").write_text("wip\n")
        session.archive()
        session.unarchive()
        session.delete(force=True)
        cm.gc(dry_run=False)
    chatml = Path(sys.executable).parent / "chatml"
    done = subprocess.run(
        [str(chatml), "new", "--repo", str(repo)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    # Remotes are local paths: nothing here can reach the network.
    remote = subprocess.run(["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True)
    assert Path(remote.stdout.strip()).is_dir()
    assert fingerprint() == AT_COLLECTION
