"""Claude Code through claude-agent-sdk, against the scripted server (skipped without the SDK)."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.agents.backend import AgentContext, backend_class
from chatml_lab.agents.claude_code import INSTALL_HINT, ClaudeCodeBackend
from chatml_lab.agents.scripted_server import ScriptedServer
from chatml_lab.errors import AgentError, AgentUnavailableError
from chatml_lab.events import EventType, validate
from chatml_lab.models import PermissionMode

from .conftest import git

needs_sdk = pytest.mark.skipif(
    importlib.util.find_spec("claude_agent_sdk") is None,
    reason=f"claude-agent-sdk is not installed ({INSTALL_HINT})",
)


class Recorder:
    """Collects events and answers approvals from a list."""

    def __init__(self, answers: list[bool]) -> None:
        self.events: list[tuple[EventType, dict[str, Any]]] = []
        self.asked: list[str] = []
        self.answers = answers

    def emit(self, kind: EventType, data: dict[str, Any]) -> None:
        validate(kind, data)
        self.events.append((kind, data))

    def ask(self, tool: str, _input: dict[str, Any]) -> bool:
        self.asked.append(tool)
        return self.answers.pop(0) if self.answers else True

    def of(self, kind: EventType) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]


@pytest.fixture
def worktree(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wt-cc"
    git(repo, "worktree", "add", "-q", "-b", "chatml/cc", str(path))
    return path


@pytest.fixture
def server(worktree: Path) -> Iterator[ScriptedServer]:
    write = {
        "type": "tool_use",
        "name": "Write",
        "input": {"file_path": str(worktree / "hello.txt"), "content": "hi\n"},
    }
    script = {
        "turns": [
            [{"type": "text", "text": "Writing hello.txt."}, write],
            [{"type": "text", "text": "Done."}],
        ]
    }
    with ScriptedServer(script) as running:
        yield running


def context(
    worktree: Path,
    repo: Path,
    server: ScriptedServer,
    tmp_path: Path,
    recorder: Recorder,
    mode: PermissionMode,
) -> AgentContext:
    config = tmp_path / "claude-config"
    config.mkdir(exist_ok=True)
    env = dict(
        os.environ,
        ANTHROPIC_BASE_URL=server.url,
        ANTHROPIC_API_KEY="sk-fake",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        CLAUDE_CONFIG_DIR=str(config),
        CLAUDE_CODE_MAX_RETRIES="0",
    )
    return AgentContext(
        conversation_id="conv-cc",
        session_name="cc",
        branch="chatml/cc",
        worktree=worktree,
        git_common_dir=repo / ".git",
        permission_mode=mode,
        model=None,
        options={},
        env=env,
        emit=recorder.emit,
        ask=recorder.ask,
        cancelled=threading.Event(),
    )


def test_registered_and_explains_a_missing_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    assert backend_class("claude-code") is ClaudeCodeBackend
    real = importlib.util.find_spec

    def hide_sdk(name: str, *args: Any) -> Any:
        return None if name == "claude_agent_sdk" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", hide_sdk)
    reason = ClaudeCodeBackend.unavailable_reason()
    assert reason is not None and 'pip install "chatml-lab[claude-code]"' in reason
    with pytest.raises(AgentUnavailableError, match="claude-code"):
        ClaudeCodeBackend(None)  # type: ignore[arg-type]


@needs_sdk
def test_claude_code_asks_writes_and_resumes(
    worktree: Path, repo: Path, server: ScriptedServer, tmp_path: Path
) -> None:
    recorder = Recorder([True])
    ctx = context(worktree, repo, server, tmp_path, recorder, PermissionMode.DEFAULT)
    backend = ClaudeCodeBackend(ctx)
    result = backend.run_turn("write hello.txt")
    assert (worktree / "hello.txt").read_text() == "hi\n"
    assert recorder.asked == ["Write"]
    kinds = [k for k, _ in recorder.events]
    assert kinds.index(EventType.TOOL_START) < kinds.index(EventType.TOOL_END)
    assert (
        recorder.of(EventType.TOOL_START)[0]["tool"] == "Write" and recorder.of(EventType.TOOL_END)[0]["ok"]
    )
    texts = recorder.of(EventType.ASSISTANT_TEXT)
    assert [t["text"] for t in texts] == ["Writing hello.txt.", "Done."] and all(t["scripted"] for t in texts)
    assert recorder.of(EventType.ASSISTANT_DELTA)
    assert result.model == "scripted" and result.cost_usd == 0.0 and result.usage["input_tokens"] > 0
    session_id = ctx.state["session_id"]
    assert ctx.state["started"] is True

    second = ClaudeCodeBackend(ctx)  # a new runner: resumes the same Claude Code session
    second.run_turn("anything else?")
    assert ctx.state["session_id"] == session_id
    history = server.requests[-1]["messages"]
    assert sum(m["role"] == "assistant" for m in history) == 2  # the first turn's two answers came along


@needs_sdk
def test_claude_code_denial_reaches_the_model(
    worktree: Path, repo: Path, server: ScriptedServer, tmp_path: Path
) -> None:
    recorder = Recorder([False])
    backend = ClaudeCodeBackend(context(worktree, repo, server, tmp_path, recorder, PermissionMode.DEFAULT))
    backend.run_turn("write hello.txt")
    assert recorder.asked == ["Write"] and not (worktree / "hello.txt").exists()
    assert recorder.of(EventType.TOOL_END)[0]["ok"] is False
    results = [
        block
        for block in server.requests[-1]["messages"][-1]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert results and "denied" in str(results[0]["content"])


@needs_sdk
def test_claude_code_api_failure_is_an_agent_error(worktree: Path, repo: Path, tmp_path: Path) -> None:
    failing = {"turns": [{"error": {"status": 400, "type": "invalid_request_error", "message": "scripted"}}]}
    with ScriptedServer(failing) as server:
        recorder = Recorder([])
        backend = ClaudeCodeBackend(
            context(worktree, repo, server, tmp_path, recorder, PermissionMode.ACCEPT_EDITS)
        )
        with pytest.raises(AgentError) as caught:
            backend.run_turn("hi")
    message = str(caught.value)
    assert "400" in message and "scripted" in message
    assert "sk-fake" not in message and "\n" not in message


@needs_sdk
def test_claude_code_interrupt_mid_stream(worktree: Path, repo: Path, tmp_path: Path) -> None:
    slow = {"delay": 0.2, "turns": [[{"type": "text", "text": "A long slow answer. " * 10}]]}
    with ScriptedServer(slow) as server:
        recorder = Recorder([])
        ctx = context(worktree, repo, server, tmp_path, recorder, PermissionMode.DEFAULT)

        fired: list[bool] = []

        def emit(kind: EventType, data: dict[str, Any]) -> None:
            recorder.emit(kind, data)
            if not fired and len(recorder.of(EventType.ASSISTANT_DELTA)) == 2:
                fired.append(True)
                ctx.cancelled.set()

        ctx.emit = emit
        backend = ClaudeCodeBackend(ctx)
        result = backend.run_turn("talk slowly")
        assert result.stop_reason == "interrupted"
        assert len(server.requests) == 1
        server.script["delay"] = 0
        ctx.cancelled.clear()
        recorder.events.clear()
        assert backend.run_turn("and now?").stop_reason != "interrupted"
        assert recorder.of(EventType.ASSISTANT_TEXT)
