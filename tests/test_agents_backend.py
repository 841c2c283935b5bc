"""The built-in agent loop over real HTTP: the anthropic SDK talks to the scripted server."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.agents.anthropic_backend import (
    DEFAULT_MODEL,
    INTERRUPTED,
    TRUNCATED,
    AnthropicBackend,
    ScriptedBackend,
    repair_transcript,
)
from chatml_lab.agents.backend import AgentContext, backend_class
from chatml_lab.agents.scripted_server import ScriptedServer
from chatml_lab.errors import AgentError
from chatml_lab.events import EventType, validate
from chatml_lab.models import PermissionMode

from .conftest import git

WRITE_HELLO = {"type": "tool_use", "name": "Write", "input": {"file_path": "hello.txt", "content": "hi\n"}}
COMMIT = {
    "type": "tool_use",
    "name": "Bash",
    "input": {"command": "git add -A && git commit -q -m 'Add hello'"},
}
THREE_TURNS: dict[str, Any] = {
    "turns": [
        [{"type": "text", "text": "I'll create hello.txt."}, WRITE_HELLO],
        [{"type": "thinking", "thinking": "Now commit."}, {"type": "text", "text": "Committing."}, COMMIT],
        [{"type": "text", "text": "All done: hello.txt is committed."}],
    ]
}


@dataclass
class Harness:
    """An AgentContext whose emit collects events and whose ask answers from a list."""

    ctx: AgentContext
    events: list[tuple[EventType, dict[str, Any]]] = field(default_factory=list)
    asked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[bool] = field(default_factory=list)
    saves: int = 0

    def kinds(self) -> list[str]:
        """Event types, with runs of deltas collapsed to one."""
        out: list[str] = []
        for kind, _ in self.events:
            if not (out and kind == EventType.ASSISTANT_DELTA and out[-1] == kind.value):
                out.append(kind.value)
        return out

    def of(self, kind: EventType) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]


@pytest.fixture
def worktree(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wt-s1"
    git(repo, "worktree", "add", "-q", "-b", "chatml/s1", str(path))
    return path


@pytest.fixture
def harness(worktree: Path, repo: Path) -> Callable[..., Harness]:
    def make(
        mode: PermissionMode = PermissionMode.DEFAULT,
        options: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        state: dict[str, Any] | None = None,
        model: str | None = None,
        on_event: Callable[[Harness, EventType, dict[str, Any]], None] | None = None,
    ) -> Harness:
        def emit(kind: EventType, data: dict[str, Any]) -> None:
            validate(kind, data)
            h.events.append((kind, data))
            if on_event is not None:
                on_event(h, kind, data)

        def ask(tool: str, tool_input: dict[str, Any]) -> bool:
            h.asked.append((tool, tool_input))
            return h.answers.pop(0) if h.answers else True

        def save(_state: dict[str, Any]) -> None:
            h.saves += 1

        ctx = AgentContext(
            conversation_id="conv-1",
            session_name="s1",
            branch="chatml/s1",
            worktree=worktree,
            git_common_dir=repo / ".git",
            permission_mode=mode,
            model=model,
            options=options or {},
            env=env if env is not None else dict(os.environ),
            emit=emit,
            ask=ask,
            cancelled=threading.Event(),
            state=state if state is not None else {},
            save_state=save,
        )
        h = Harness(ctx)
        return h

    return make


@pytest.fixture
def backends() -> Iterator[list[AnthropicBackend]]:
    """Backends a test made; closed (servers stopped) at teardown."""
    made: list[AnthropicBackend] = []
    yield made
    for backend in made:
        backend.close()


def scripted(
    h: Harness, backends: list[AnthropicBackend], script: dict[str, Any] | None = None
) -> ScriptedBackend:
    if script is not None:
        h.ctx.options["script"] = script
    backend = ScriptedBackend(h.ctx)
    backends.append(backend)
    return backend


def assert_valid_transcript(messages: list[dict[str, Any]]) -> None:
    """Alternating roles, user first, and every tool_use answered first thing in the next message."""
    assert messages[0]["role"] == "user"
    assert all(a["role"] != b["role"] for a, b in itertools.pairwise(messages))
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        asked = [b["id"] for b in message["content"] if b["type"] == "tool_use"]
        if asked:
            answer = messages[index + 1]["content"]
            assert [b.get("tool_use_id") for b in answer[: len(asked)]] == asked


def test_entry_points_name_these_classes() -> None:
    assert backend_class("anthropic") is AnthropicBackend
    assert backend_class("scripted") is ScriptedBackend
    assert ScriptedBackend.scripted and ScriptedBackend.unavailable_reason() is None
    assert "ANTHROPIC_API_KEY" in (AnthropicBackend.unavailable_reason() or "")


def test_three_turn_conversation_writes_and_commits(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path, repo: Path
) -> None:
    h = harness()
    backend = scripted(h, backends, THREE_TURNS)
    result = backend.run_turn("Add hello.txt and commit it")

    assert (worktree / "hello.txt").read_text() == "hi\n"
    assert git(worktree, "log", "-1", "--format=%s", "chatml/s1").strip() == "Add hello"
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "ignore env"
    assert git(worktree, "status", "--porcelain").strip() == ""
    assert h.kinds() == [
        "assistant_delta", "assistant_text", "tool_start", "tool_end",
        "thinking", "assistant_delta", "assistant_text", "tool_start", "tool_end",
        "assistant_delta", "assistant_text",
    ]  # fmt: skip
    starts, ends = h.of(EventType.TOOL_START), h.of(EventType.TOOL_END)
    assert [s["tool"] for s in starts] == ["Write", "Bash"] and [e["ok"] for e in ends] == [True, True]
    assert [s["id"] for s in starts] == [e["id"] for e in ends]
    assert [tool for tool, _ in h.asked] == ["Write", "Bash"]
    texts = h.of(EventType.ASSISTANT_TEXT)
    assert texts[-1]["text"] == "All done: hello.txt is committed."
    assert all(d.get("scripted") is True for d in texts + h.of(EventType.ASSISTANT_DELTA))
    assert "".join(d["text"] for d in h.of(EventType.ASSISTANT_DELTA)).startswith("I'll create hello.txt.")

    assert result.stop_reason == "end_turn" and result.model == "scripted" and result.cost_usd == 0.0
    assert result.usage["input_tokens"] > 0 and result.usage["output_tokens"] > 0
    assert set(result.usage) == {
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"
    }  # fmt: skip
    messages = h.ctx.state["messages"]
    assert len(messages) == 6 and h.saves >= 6
    assert_valid_transcript(messages)
    assert all("cache_control" not in b for m in messages for b in m["content"])  # only on the wire


def test_requests_carry_tools_system_rules_and_cache_breakpoints(
    harness: Callable[..., Harness], backends: list[AnthropicBackend]
) -> None:
    with ScriptedServer({"turns": [[{"type": "text", "text": "Hello."}]]}) as server:
        env = dict(os.environ, ANTHROPIC_API_KEY="sk-test-secret", ANTHROPIC_BASE_URL=server.url)
        h = harness(env=env, model="claude-haiku-4-5", options={"max_retries": 0})
        backend = AnthropicBackend(h.ctx)
        backends.append(backend)
        result = backend.run_turn("hi")
        body = server.requests[0]
    assert result.model == "scripted" and result.cost_usd == 0.0
    assert body["model"] == "claude-haiku-4-5" and body["stream"] is True
    # Claude Code's six, then RunNotebook (a task conversation's extra tool, agents/toolset.py).
    assert [t["name"] for t in body["tools"]] == [
        "Read",
        "Write",
        "Edit",
        "Glob",
        "Grep",
        "Bash",
        "RunNotebook",
    ]
    system = body["system"][0]
    assert system["cache_control"] == {"type": "ephemeral"}
    for rule in ("git stash", "force-push", "reset --hard", "chatml/s1", "s1", str(h.ctx.worktree)):
        assert rule in system["text"]
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "scripted" not in h.of(EventType.ASSISTANT_TEXT)[0]  # a real backend's text is not labelled
    assert DEFAULT_MODEL.startswith("claude-")


def test_api_errors_raise_one_line_without_the_key(
    harness: Callable[..., Harness], backends: list[AnthropicBackend]
) -> None:
    script = {
        "turns": [{"error": {"status": 401, "type": "authentication_error", "message": "bad sk-test-secret"}}]
    }
    with ScriptedServer(script) as server:
        env = dict(os.environ, ANTHROPIC_API_KEY="sk-test-secret", ANTHROPIC_BASE_URL=server.url)
        h = harness(env=env, options={"max_retries": 0})
        backend = AnthropicBackend(h.ctx)
        backends.append(backend)
        with pytest.raises(AgentError) as caught:
            backend.run_turn("hi")
    message = str(caught.value)
    assert "401" in message and "authentication_error" in message and "\n" not in message
    assert "sk-test-secret" not in message
    # The user message is kept; the next one joins it instead of breaking role alternation.
    assert h.ctx.state["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


@pytest.mark.parametrize("approve", [False, True])
def test_default_mode_asks_before_write(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path, approve: bool
) -> None:
    h = harness()
    h.answers = [approve]
    backend = scripted(h, backends, {"turns": [[WRITE_HELLO], [{"type": "text", "text": "ok"}]]})
    backend.run_turn("write hello")
    assert h.asked == [("Write", WRITE_HELLO["input"])]
    assert (worktree / "hello.txt").exists() is approve
    result_block = backend.server.requests[1]["messages"][-1]["content"][0]
    assert result_block["type"] == "tool_result" and result_block["is_error"] is not approve
    assert h.of(EventType.TOOL_END)[0]["ok"] is approve
    if not approve:
        assert "user denied" in result_block["content"]


def test_accept_edits_asks_only_before_bash_and_bypass_never(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path
) -> None:
    h = harness(PermissionMode.ACCEPT_EDITS)
    h.answers = [False]
    scripted(h, backends, THREE_TURNS).run_turn("go")
    assert [tool for tool, _ in h.asked] == ["Bash"]
    assert (worktree / "hello.txt").exists()
    assert h.of(EventType.TOOL_END)[1]["ok"] is False  # the commit was denied

    h2 = harness(PermissionMode.BYPASS)
    scripted(h2, backends, THREE_TURNS).run_turn("go")
    assert h2.asked == [] and all(e["ok"] for e in h2.of(EventType.TOOL_END))


def test_plan_mode_refuses_write(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path
) -> None:
    h = harness(PermissionMode.PLAN)
    script = {
        "turns": [
            [{"type": "tool_use", "name": "Read", "input": {"file_path": "README.md"}}, WRITE_HELLO],
            [{"type": "text", "text": "Plan: add hello.txt."}],
        ]
    }
    backend = scripted(h, backends, script)
    backend.run_turn("plan it")
    assert h.asked == [] and not (worktree / "hello.txt").exists()
    read, write = h.of(EventType.TOOL_END)
    assert read["ok"] and "# project" in read["output"]
    assert not write["ok"] and "plan mode" in write["output"]
    assert "Plan mode is on" in backend.server.requests[0]["system"][0]["text"]


def test_interrupt_mid_stream_keeps_partial_text_and_next_turn_works(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path
) -> None:
    def stop_after_three_deltas(h: Harness, kind: EventType, _data: dict[str, Any]) -> None:
        if len(h.of(EventType.ASSISTANT_DELTA)) == 3:
            h.ctx.cancelled.set()

    script = {
        "delay": 0.05,
        "turns": [
            [{"type": "text", "text": "A long explanation. " * 10}, WRITE_HELLO],
            [{"type": "text", "text": "Resumed."}],
        ],
    }
    h = harness(on_event=stop_after_three_deltas)
    backend = scripted(h, backends, script)
    started = time.monotonic()
    result = backend.run_turn("explain, then write")
    assert time.monotonic() - started < 2
    assert result.stop_reason == "interrupted"
    assert not (worktree / "hello.txt").exists() and h.of(EventType.TOOL_START) == []
    partial = h.of(EventType.ASSISTANT_TEXT)
    assert len(partial) == 1 and partial[0]["interrupted"] is True
    assert partial[0]["text"] == "".join(d["text"] for d in h.of(EventType.ASSISTANT_DELTA))
    messages = h.ctx.state["messages"]
    assert messages[-1] == {"role": "assistant", "content": [{"type": "text", "text": partial[0]["text"]}]}

    h.ctx.cancelled.clear()
    h.events.clear()
    again = backend.run_turn("go on")
    assert again.stop_reason == "end_turn"
    assert h.of(EventType.ASSISTANT_TEXT)[-1]["text"] == "Resumed."
    assert_valid_transcript(backend.server.requests[-1]["messages"])


def test_interrupt_during_tools_answers_every_tool_use(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path
) -> None:
    def cancel_once_bash_runs(h: Harness, kind: EventType, data: dict[str, Any]) -> None:
        if kind == EventType.TOOL_START and data["tool"] == "Bash":
            threading.Timer(0.2, h.ctx.cancelled.set).start()

    sleep = {"type": "tool_use", "name": "Bash", "input": {"command": "sleep 30"}}
    h = harness(PermissionMode.BYPASS, on_event=cancel_once_bash_runs)
    backend = scripted(h, backends, {"turns": [[sleep, WRITE_HELLO], [{"type": "text", "text": "Next."}]]})
    started = time.monotonic()
    result = backend.run_turn("sleep then write")
    assert time.monotonic() - started < 5 and result.stop_reason == "interrupted"
    assert [e["ok"] for e in h.of(EventType.TOOL_END)] == [False]
    assert not (worktree / "hello.txt").exists()
    last = h.ctx.state["messages"][-1]["content"]
    assert [b["is_error"] for b in last] == [True, True] and last[1]["content"] == INTERRUPTED
    assert_valid_transcript(h.ctx.state["messages"])

    h.ctx.cancelled.clear()
    assert backend.run_turn("carry on").stop_reason == "end_turn"
    assert_valid_transcript(backend.server.requests[-1]["messages"])


def test_new_backend_resumes_and_repairs_a_saved_transcript(
    harness: Callable[..., Harness], backends: list[AnthropicBackend]
) -> None:
    crashed = [
        {"role": "user", "content": [{"type": "text", "text": "write it"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}],
        },
    ]
    h = harness(state={"messages": crashed})
    backend = scripted(h, backends, {"turns": [[WRITE_HELLO], [{"type": "text", "text": "Second turn."}]]})
    assert backend.run_turn("are you there?").stop_reason == "end_turn"
    assert h.of(EventType.ASSISTANT_TEXT)[-1]["text"] == "Second turn."  # 1 assistant message -> turn 1
    sent = backend.server.requests[0]["messages"]
    assert_valid_transcript(sent)
    assert sent[2]["content"][0]["content"] == INTERRUPTED
    assert sent[2]["content"][-1]["text"] == "are you there?"


def test_repair_transcript_fills_missing_results_first() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "a", "name": "Read", "input": {}},
                {"type": "tool_use", "id": "b", "name": "Read", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "x"}]},
    ]
    repair_transcript(messages)
    assert [b["tool_use_id"] for b in messages[2]["content"]] == ["a", "b"]
    assert messages[2]["content"][1]["content"] == INTERRUPTED
    assert repair_transcript([{"role": "user", "content": "hi"}]) == [{"role": "user", "content": "hi"}]
    assert repair_transcript([]) == []


def test_a_tool_call_cut_by_max_tokens_is_answered(
    harness: Callable[..., Harness], backends: list[AnthropicBackend], worktree: Path
) -> None:
    h = harness(PermissionMode.BYPASS)
    cut = {"content": [WRITE_HELLO], "stop_reason": "max_tokens"}
    backend = scripted(h, backends, {"turns": [cut]})
    assert backend.run_turn("write").stop_reason == "max_tokens"
    assert not (worktree / "hello.txt").exists()
    assert h.ctx.state["messages"][-1]["content"][0]["content"] == TRUNCATED
    assert_valid_transcript(h.ctx.state["messages"])
