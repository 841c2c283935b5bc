"""The built-in agent: a tool-use loop on the official ``anthropic`` SDK.

One :meth:`AnthropicBackend.run_turn` streams the model's answer (``assistant_delta`` per text
delta, ``assistant_text`` per finished text block, ``thinking``), runs the tools it asks for
(``tool_start``/``tool_end``, asking the user first where the permission mode says so) and loops
until the model stops asking for tools. The transcript is the Messages API ``messages`` list, kept
in ``ctx.state["messages"]`` and saved after every change, so a new runner resumes the whole
conversation; a transcript cut short by a crash or an interrupt is repaired (every ``tool_use``
gets a ``tool_result``) before the next message.

:class:`ScriptedBackend` is the same loop pointed at an in-process
:class:`~chatml_lab.agents.scripted_server.ScriptedServer`: no key, no network, labelled output.

The SDK is imported when a client is made, not with this module: a client that only checks
whether the backend can run (``send()`` does) never pays for ``import anthropic`` (~1 s); the
runner host has it imported already.
"""

from __future__ import annotations

import copy
import os
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import AgentError
from ..events import EventType
from ..models import PermissionMode
from . import pricing
from .backend import AgentContext, Backend, TurnResult
from .sandbox import describe
from .scripted_server import ScriptedServer, default_script_path
from .tools import EDIT_TOOLS, EXEC_TOOLS, ToolOutcome, ToolRunner
from .toolset import APPROVED_LIKE_BASH, Toolset

if TYPE_CHECKING:
    import anthropic

# Not claude-sonnet-4-5: the SDK warns it is deprecated (end of life 2026-11-30). Not 5.5 either:
# it returns the text between tool calls as thinking blocks that are empty unless asked for, so
# the chat would go silent between tools. Set the session's model to choose another.
DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 16_000
INTERRUPTED = "Interrupted by the user before this tool ran."
TRUNCATED = "Not run: the answer reached max_tokens, so this tool call may be incomplete."
_USAGE_KEYS = pricing.USAGE_KEYS
_CACHE = {"type": "ephemeral"}

Message = dict[str, Any]


def _blocks(message: Message) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content or [])


def _tool_result(tool_use_id: str, text: str, is_error: bool) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": text, "is_error": is_error}


def repair_transcript(messages: list[Message], note: str = INTERRUPTED) -> list[Message]:
    """Answer every unanswered ``tool_use`` with an error ``tool_result`` saying ``note`` (in place).

    A transcript saved mid-turn (crash, interrupt) may end with an assistant ``tool_use`` and no
    results, or with only some results; the API rejects both, so the next message would fail.
    """
    if not messages:
        return messages
    if messages[-1].get("role") == "assistant":
        if not any(b.get("type") == "tool_use" for b in _blocks(messages[-1])):
            return messages
        messages.append({"role": "user", "content": []})
    if len(messages) >= 2 and messages[-2].get("role") == "assistant":
        asked = [b["id"] for b in _blocks(messages[-2]) if b.get("type") == "tool_use"]
        answer = _blocks(messages[-1])
        results = {b.get("tool_use_id"): b for b in answer if b.get("type") == "tool_result"}
        if any(i not in results for i in asked):
            # tool_result blocks must come first in the user message; keep the model's order.
            ordered = [results.get(i) or _tool_result(i, note, True) for i in asked]
            rest = [b for b in answer if b.get("type") != "tool_result" or b.get("tool_use_id") not in asked]
            messages[-1] = {"role": "user", "content": [*ordered, *rest]}
    return messages


def _param(block: Any) -> dict[str, Any] | None:
    """An SDK content block as a request param (None for blocks we must not send back)."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text} if block.text else None
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


def _usage(usage: Any) -> dict[str, int]:
    return {key: int(getattr(usage, key, 0) or 0) for key in _USAGE_KEYS}


class _Call:
    """What one streamed API call produced."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []
        self.stop_reason: str | None = None
        self.usage: dict[str, int] = dict.fromkeys(_USAGE_KEYS, 0)
        self.model: str | None = None
        self.interrupted = False


class AnthropicBackend(Backend):
    """The built-in agent loop (entry point ``anthropic``)."""

    name: ClassVar[str] = "anthropic"

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        self.tools = ToolRunner(
            ctx.worktree, ctx.git_common_dir, ctx.env, ctx.bash_timeout, branch=ctx.branch, policy=ctx.sandbox
        )
        if not self.tools.is_sandboxed():
            ctx.emit(EventType.NOTICE, {"message": describe(False, ctx.sandbox)})
        self.toolset = Toolset(ctx, self.tools)
        self._client: anthropic.Anthropic | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """A reason when no credentials are configured in the environment."""
        if any(os.environ.get(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE")):
            return None
        return "no Anthropic credentials: set ANTHROPIC_API_KEY (or use the 'scripted' agent offline)"

    # -- configuration ------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The model asked for in requests."""
        return self.ctx.model or DEFAULT_MODEL

    def make_client(self) -> anthropic.Anthropic:
        """A client configured from ``ctx.env`` (key, token, base URL) rather than os.environ."""
        import anthropic

        env = self.ctx.env
        base_url = env.get("ANTHROPIC_BASE_URL") or None
        retries = int(self.ctx.options.get("max_retries", 2))
        timeout = float(self.ctx.options.get("timeout", 600))
        # The SDK refuses api_key and auth_token together; the key wins, as in the SDK's own lookup.
        if env.get("ANTHROPIC_API_KEY"):
            return anthropic.Anthropic(
                api_key=env["ANTHROPIC_API_KEY"], base_url=base_url, max_retries=retries, timeout=timeout
            )
        if env.get("ANTHROPIC_AUTH_TOKEN"):
            return anthropic.Anthropic(
                auth_token=env["ANTHROPIC_AUTH_TOKEN"],
                base_url=base_url,
                max_retries=retries,
                timeout=timeout,
            )
        return anthropic.Anthropic(base_url=base_url, max_retries=retries, timeout=timeout)

    @property
    def client(self) -> anthropic.Anthropic:
        """The SDK client, made on first use."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def system_prompt(self) -> str:
        """The rules every turn is sent with: where the agent is and what it must never do."""
        ctx = self.ctx
        lines = [
            f'You are a coding agent working in the chatml session "{ctx.session_name}".',
            f"Worktree: {ctx.worktree} (the current directory for Bash; file paths are relative to it).",
            f"Branch: {ctx.branch}.",
            "",
            "Rules:",
            "- Stay inside the worktree: read, write and run commands only there.",
            f"- Never switch branches (no git checkout/switch of another branch); commit on {ctx.branch}.",
            "- Never run `git stash`: the stash is shared by every worktree of this repository.",
            "- Never force-push and never `git reset --hard`.",
            "- Other agents work in sibling worktrees of the same repository: leave them alone.",
            "- Be concise, and say what you changed.",
        ]
        if ctx.permission_mode == PermissionMode.PLAN:
            lines += [
                "",
                "Plan mode is on: you are read-only. Investigate, then propose a plan; do not edit.",
            ]
        if not self.tools.is_sandboxed():
            lines += ["", "Bash is not sandboxed here: be especially careful to stay inside the worktree."]
        extra = self.toolset.system_prompt()
        return "\n".join([*lines, "", extra] if extra else lines)

    # -- events -------------------------------------------------------------------------------

    def _emit(self, kind: EventType, data: dict[str, Any]) -> None:
        if self.scripted and kind in (EventType.ASSISTANT_DELTA, EventType.ASSISTANT_TEXT):
            data = {**data, "scripted": True}
        self.ctx.emit(kind, data)

    def _save(self, messages: list[Message]) -> None:
        self.ctx.state["messages"] = messages
        self.ctx.save_state(self.ctx.state)

    # -- the turn -----------------------------------------------------------------------------

    def run_turn(self, text: str) -> TurnResult:
        """Send ``text``, stream the answer, run tools until the model stops; return usage and cost."""
        started = time.monotonic()
        messages: list[Message] = repair_transcript(list(self.ctx.state.get("messages") or []))
        if messages and messages[-1].get("role") == "user":
            # Consecutive user turns (after an interrupt or an API error) become one message.
            messages[-1] = {
                "role": "user",
                "content": [*_blocks(messages[-1]), {"type": "text", "text": text}],
            }
        else:
            messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
        self._save(messages)
        usage = dict.fromkeys(_USAGE_KEYS, 0)
        cost: float | None = 0.0
        model: str | None = None
        stop_reason: str | None = None
        max_steps = int(self.ctx.options.get("max_steps", 100))
        for _step in range(max_steps):
            if self.ctx.cancelled.is_set():
                stop_reason = "interrupted"
                break
            call = self._call(messages)
            model = call.model or model
            usage = {k: usage[k] + call.usage[k] for k in _USAGE_KEYS}
            call_cost = pricing.cost(call.model or self.model, call.usage)
            cost = None if cost is None or call_cost is None else cost + call_cost
            stop_reason = "interrupted" if call.interrupted else call.stop_reason
            if call.blocks:
                messages.append({"role": "assistant", "content": call.blocks})
                self._save(messages)
            tool_uses = [b for b in call.blocks if b["type"] == "tool_use"]
            if call.interrupted or stop_reason != "tool_use" or not tool_uses:
                break
            self._run_tools(tool_uses, messages)
            if self.ctx.cancelled.is_set():
                stop_reason = "interrupted"
                break
        else:
            stop_reason = "max_steps"
            self.ctx.emit(EventType.ERROR, {"message": f"stopped after {max_steps} model calls in one turn"})
        self._save(repair_transcript(messages, TRUNCATED if stop_reason == "max_tokens" else INTERRUPTED))
        duration_ms = int((time.monotonic() - started) * 1000)
        return TurnResult(usage, cost, duration_ms, stop_reason, model or self.model)

    def _run_tools(self, tool_uses: list[dict[str, Any]], messages: list[Message]) -> None:
        results: list[dict[str, Any]] = []
        messages.append({"role": "user", "content": results})
        for block in tool_uses:
            if self.ctx.cancelled.is_set():
                results.append(_tool_result(block["id"], INTERRUPTED, True))
            else:
                outcome = self._run_tool(block)
                results.append(_tool_result(block["id"], outcome.output, not outcome.ok))
            self._save(messages)

    def _run_tool(self, block: dict[str, Any]) -> ToolOutcome:
        name, tool_input = block["name"], block["input"]
        self.ctx.emit(EventType.TOOL_START, {"id": block["id"], "tool": name, "input": tool_input})
        refusal = self._refusal(name, tool_input if isinstance(tool_input, dict) else {})
        if refusal is not None:
            outcome = ToolOutcome(False, refusal)
        else:
            try:
                if self.toolset.handles(name):
                    outcome = self.toolset.run(name, tool_input, self.ctx.cancelled)
                else:
                    outcome = self.tools.run(name, tool_input, self.ctx.cancelled)
            except Exception as exc:  # a tool bug must not end the turn with an unanswered tool_use
                outcome = ToolOutcome(False, f"Error: the {name} tool failed: {type(exc).__name__}: {exc}")
        self.ctx.emit(EventType.TOOL_END, {"id": block["id"], "ok": outcome.ok, "output": outcome.output})
        return outcome

    def _refusal(self, name: str, tool_input: dict[str, Any]) -> str | None:
        """Why this call must not run (plan mode, the user said no), or None to run it."""
        mode = self.ctx.permission_mode
        if name not in EDIT_TOOLS | EXEC_TOOLS | APPROVED_LIKE_BASH or mode == PermissionMode.BYPASS:
            return None
        if mode == PermissionMode.PLAN:
            return (
                f"Refused: plan mode is on, so the session is read-only and {name} is not allowed. "
                "Use Read, Glob and Grep, then describe the changes you propose."
            )
        if mode == PermissionMode.ACCEPT_EDITS and name in EDIT_TOOLS:
            return None
        if self.ctx.ask(name, tool_input):
            return None
        if self.ctx.cancelled.is_set():
            return INTERRUPTED
        return (
            f"The user denied this {name} call, so it did not run. Do not retry it as is: "
            "ask the user how to proceed or take another approach."
        )

    # -- one API call -------------------------------------------------------------------------

    def _request(self, messages: list[Message]) -> dict[str, Any]:
        cached = list(messages)
        last = cached[-1]
        blocks = copy.deepcopy(_blocks(last))
        if blocks:
            blocks[-1]["cache_control"] = _CACHE
        cached[-1] = {**last, "content": blocks}
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(self.ctx.options.get("max_tokens", DEFAULT_MAX_TOKENS)),
            "system": [{"type": "text", "text": self.system_prompt(), "cache_control": _CACHE}],
            "tools": self.toolset.definitions(),
            "messages": cached,
        }
        if self.ctx.options.get("thinking"):
            request["thinking"] = self.ctx.options["thinking"]
        return request

    def _call(self, messages: list[Message]) -> _Call:
        """Stream one model response; on cancel return at once with the text streamed so far.

        The HTTP stream is read by a worker thread: a blocked socket read cannot be interrupted,
        so waiting on a queue is what lets an interrupt return while the model is still thinking.
        Events are emitted from this thread, in order, and never after the cancel.
        """
        call = _Call()
        finished: dict[int, dict[str, Any] | None] = {}
        partial: dict[int, str] = {}
        feed: queue.Queue[tuple[str, Any]] = queue.Queue()
        abandon = threading.Event()
        request = self._request(messages)
        client = self.client

        def read() -> None:
            try:
                with client.messages.stream(**request) as stream:
                    for event in stream:
                        if abandon.is_set():
                            return
                        feed.put(("event", event))
                    feed.put(("done", stream.get_final_message()))
            except Exception as exc:  # handed to the caller's thread, which decides
                feed.put(("error", exc))

        threading.Thread(target=read, name="chatml-anthropic-stream", daemon=True).start()
        while True:
            if self.ctx.cancelled.is_set():
                abandon.set()
                return self._interrupted(call, finished, partial)
            try:
                kind, item = feed.get(timeout=0.05)
            except queue.Empty:
                continue
            if kind == "error":
                import anthropic

                if isinstance(item, anthropic.APIError):
                    raise AgentError(self._describe(item)) from None
                raise AgentError(f"the model stream failed: {type(item).__name__}: {item}") from None
            if kind == "done":
                return self._finished(call, item)
            self._on_event(item, call, finished, partial)

    def _on_event(
        self, event: Any, call: _Call, finished: dict[int, dict[str, Any] | None], partial: dict[int, str]
    ) -> None:
        kind = event.type
        if kind == "message_start":
            call.model = event.message.model
            call.usage = _usage(event.message.usage)
        elif kind == "content_block_delta" and event.delta.type == "text_delta":
            partial[event.index] = partial.get(event.index, "") + event.delta.text
            self._emit(EventType.ASSISTANT_DELTA, {"text": event.delta.text})
        elif kind == "content_block_stop":
            block = event.content_block
            finished[event.index] = _param(block)
            if block.type == "text" and block.text:
                self._emit(EventType.ASSISTANT_TEXT, {"text": block.text})
            elif block.type == "thinking" and block.thinking:
                self.ctx.emit(EventType.THINKING, {"text": block.thinking})
        elif kind == "message_delta":
            call.usage = {**call.usage, **{k: v for k, v in _usage(event.usage).items() if v}}

    def _finished(self, call: _Call, message: Any) -> _Call:
        call.model = message.model
        call.stop_reason = message.stop_reason
        call.usage = _usage(message.usage)
        call.blocks = [p for p in map(_param, message.content) if p is not None]
        return call

    def _interrupted(
        self, call: _Call, finished: dict[int, dict[str, Any] | None], partial: dict[int, str]
    ) -> _Call:
        """Keep finished blocks and the partial text; half a tool input cannot be sent back."""
        call.interrupted = True
        for index in sorted({*finished, *partial}):
            if index in finished:
                block = finished[index]
                if block is not None:
                    call.blocks.append(block)
            elif partial[index]:
                call.blocks.append({"type": "text", "text": partial[index]})
                self._emit(EventType.ASSISTANT_TEXT, {"text": partial[index], "interrupted": True})
        return call

    def _describe(self, exc: anthropic.APIError) -> str:
        """One line for the user, with any credential scrubbed."""
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            detail = exc.api_message or exc.message
            text = f"Anthropic API error {exc.status_code} ({exc.type or 'error'}): {detail}"
            if exc.status_code == 401:
                text += " - check ANTHROPIC_API_KEY"
        elif isinstance(exc, anthropic.APIConnectionError):
            text = f"cannot reach the Anthropic API at {self.client.base_url}: {exc.message}"
        else:
            text = f"Anthropic API error: {exc.message}"
        for secret in (self.ctx.env.get("ANTHROPIC_API_KEY"), self.ctx.env.get("ANTHROPIC_AUTH_TOKEN")):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None


class ScriptedBackend(AnthropicBackend):
    """The agent loop against the bundled scripted server (entry point ``scripted``).

    ``ctx.options["script"]`` names a script file (or holds a script dict); the default is the
    demo script. Output is labelled ``"scripted": true``, the model is ``scripted`` and costs 0.
    """

    name: ClassVar[str] = "scripted"
    scripted: ClassVar[bool] = True

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        self._server: ScriptedServer | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Always available: it needs no key and no network."""
        return None

    @property
    def model(self) -> str:
        """Always ``scripted``: nothing here is a real model's output."""
        return pricing.SCRIPTED_MODEL

    @property
    def server(self) -> ScriptedServer:
        """The in-process scripted server, started on first use."""
        if self._server is None:
            script = self.ctx.options.get("script") or default_script_path()
            self._server = ScriptedServer(script if isinstance(script, dict) else Path(script))
            self._server.start()
        return self._server

    def make_client(self) -> anthropic.Anthropic:
        """A client for the scripted server, with a dummy key and no retries."""
        import anthropic

        return anthropic.Anthropic(api_key="scripted-no-key", base_url=self.server.url, max_retries=0)

    def close(self) -> None:
        """Close the client and stop the server."""
        super().close()
        if self._server is not None:
            self._server.stop()
            self._server = None
