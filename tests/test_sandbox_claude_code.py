"""Claude Code's own tools under the session's sandbox (the CLI runs inside bubblewrap)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.agents import sandbox as sandbox_module
from chatml_lab.agents.claude_code import ClaudeCodeBackend
from chatml_lab.agents.sandbox import sandbox_available, sandbox_problem
from chatml_lab.agents.scripted_server import ScriptedServer
from chatml_lab.events import EventType
from chatml_lab.models import PermissionMode

from .conftest import commit_file, git
from .test_agents_claude_code import Recorder, context

needs_sdk = pytest.mark.skipif(
    importlib.util.find_spec("claude_agent_sdk") is None, reason="claude-agent-sdk is not installed"
)
needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason=f"no sandbox here: {sandbox_problem()}")


@pytest.fixture
def worktree(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wt-cc"
    git(repo, "worktree", "add", "-q", "-b", "chatml/cc", str(path))
    other = tmp_path / "wt-other"
    git(repo, "worktree", "add", "-q", "-b", "chatml/other", str(other))
    commit_file(other, "other.txt", "the other session's work\n")
    return path


def _bash(command: str) -> dict[str, Any]:
    return {"type": "tool_use", "name": "Bash", "input": {"command": command, "description": "probe"}}


@pytest.fixture
def server(repo: Path, tmp_path: Path) -> Iterator[ScriptedServer]:
    outside = tmp_path / "outside.txt"
    turns = [
        [
            _bash("git update-ref refs/heads/chatml/other HEAD~1; git update-ref refs/heads/main HEAD~1"),
            _bash(f"echo pwned > {outside}; echo pwned > {repo}/README.md"),
            _bash("echo mine > mine.txt && git add mine.txt && git commit -q -m 'from claude code'"),
        ],
        [{"type": "text", "text": "Done."}],
    ]
    with ScriptedServer({"turns": turns}) as running:
        yield running


@needs_sdk
@needs_bwrap
def test_claude_codes_tools_are_confined(
    worktree: Path, repo: Path, server: ScriptedServer, tmp_path: Path
) -> None:
    before = git(repo, "rev-parse", "chatml/other", "main")
    readme = (repo / "README.md").read_text()
    recorder = Recorder([True, True, True])
    backend = ClaudeCodeBackend(
        context(worktree, repo, server, tmp_path, recorder, PermissionMode.ACCEPT_EDITS)
    )
    notice = recorder.of(EventType.NOTICE)[0]["message"]
    assert notice.startswith("claude-code runs in a bubblewrap sandbox") and "credential" in notice
    backend.run_turn("try to escape, then commit")
    assert recorder.asked == ["Bash", "Bash", "Bash"]
    ends = recorder.of(EventType.TOOL_END)
    assert len(ends) == 3
    assert "Read-only file system" in ends[0]["output"] or "chatml sandbox: refused" in ends[0]["output"]
    assert "Read-only file system" in ends[1]["output"]
    assert git(repo, "rev-parse", "chatml/other", "main") == before
    assert not (tmp_path / "outside.txt").exists() and (repo / "README.md").read_text() == readme
    assert git(repo, "log", "-1", "--format=%s", "chatml/cc").strip() == "from claude code"


@needs_sdk
def test_without_bubblewrap_claude_code_says_it_is_unsandboxed(
    worktree: Path, repo: Path, server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sandbox_module, "_probe", lambda: (None, False, "bubblewrap (bwrap) is not installed")
    )
    recorder = Recorder([])
    backend = ClaudeCodeBackend(context(worktree, repo, server, tmp_path, recorder, PermissionMode.DEFAULT))
    assert recorder.events[0][0] is EventType.NOTICE
    message = recorder.events[0][1]["message"]
    assert message.startswith("claude-code is UNSANDBOXED (bubblewrap (bwrap) is not installed)")
    assert backend._launcher() is None
    assert os.environ.get("CLAUDE_CONFIG_DIR") is None  # the test's config dir came through ctx.env only
