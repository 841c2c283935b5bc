"""The server's background task refreshes drift with no request and no sidebar asking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatml_lab.core.manager import ChatML

from ..conftest import commit_file, git
from .conftest import until


@pytest.fixture
def jp_server_config(hermetic: Any) -> dict[str, Any]:
    """A drift refresh every 0.3 s."""
    return {
        "ServerApp": {"jpserver_extensions": {"chatml_lab.server": True}},
        "ChatMLServer": {"drift_interval": 0.3, "poll_interval": 0.05, "core": {"fetch_throttle": 0.0}},
    }


async def test_drift_is_refreshed_in_the_background(
    jp_serverapp: Any, ext: Any, server_cm: ChatML, repo: Path
) -> None:
    gone = server_cm.new_session(repo, name="branch-gone", agent="scripted")  # first: sync_all stops at it
    session = server_cm.new_session(repo, name="left-behind", agent="scripted")
    git(gone.worktree, "checkout", "-q", "--detach")
    git(repo, "branch", "-D", "chatml/branch-gone")  # its drift cannot be counted: the others still are
    for n in range(2):
        commit_file(repo, f"n{n}.txt", "x\n")
    git(repo, "push", "-q", "origin", "main")
    await ext._start_jupyter_server_extension(jp_serverapp)
    await until(lambda: session.record.behind == 2, what="the background drift refresh")
    assert session.record.drift_checked_at is not None
