"""Claude Code as a backend, through ``claude-agent-sdk`` (an optional extra).

Each turn starts the bundled ``claude`` CLI in the worktree, resumes the conversation's Claude Code
session (its id is ours: a uuid kept in ``ctx.state["session_id"]``, given as ``--session-id`` on
the first turn and ``--resume`` afterwards), sends the message and translates what comes back
into our events. Claude Code runs its own tools; it asks before acting through the SDK's
``can_use_tool`` callback, which we answer with ``ctx.ask`` (the runner's approval round-trip).

Permission modes map to Claude Code's: ``default`` -> ``default``, ``accept_edits`` ->
``acceptEdits``, ``bypass`` -> ``bypassPermissions``, ``plan`` -> ``plan``. Claude Code refuses
bypass mode as root unless ``IS_SANDBOX=1`` is set (meant for containers); we say so up front.

Its result can say ``subtype: "success"`` with ``is_error: true`` (an API failure): we check
``is_error`` and raise :class:`~chatml_lab.errors.AgentError` with the reason.

Confinement: where bubblewrap works, the whole CLI runs inside the session's
:class:`~chatml_lab.agents.sandbox.Sandbox` (through a launcher given as ``cli_path``), so its
Bash, Write and Edit tools get the same filesystem limits as the built-in agent's Bash. Two
differences, said in the backend's first notice: the network stays on (the CLI needs the API) and
its tools can read the CLI's own credential (the CLI needs it in its environment).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from ..errors import AgentError, AgentUnavailableError
from ..events import EventType
from ..models import PermissionMode
from . import pricing
from .backend import AgentContext, Backend, TurnResult
from .sandbox import Sandbox, sandbox_problem

INSTALL_HINT = 'install it with pip install "chatml-lab[claude-code]"'

MODES: dict[PermissionMode, str] = {
    PermissionMode.DEFAULT: "default",
    PermissionMode.ACCEPT_EDITS: "acceptEdits",
    PermissionMode.BYPASS: "bypassPermissions",
    PermissionMode.PLAN: "plan",
}


def _text(content: Any) -> str:
    """A tool result's content (a string or a list of content blocks) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content]
    return "\n".join(p for p in parts if p)


class ClaudeCodeBackend(Backend):
    """Claude Code driven through ``claude-agent-sdk`` (entry point ``claude-code``)."""

    name: ClassVar[str] = "claude-code"

    def __init__(self, ctx: AgentContext) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise AgentUnavailableError(reason)
        super().__init__(ctx)
        self._stderr: deque[str] = deque(maxlen=20)
        self._model: str | None = None
        self.sandbox = Sandbox(ctx.worktree, ctx.branch, ctx.sandbox, env=ctx.env)
        ctx.emit(EventType.NOTICE, {"message": self.confinement()})

    def confinement(self) -> str:
        """One plain line: how (or whether) Claude Code's tools are confined."""
        if not self.sandbox.active:
            return (
                f"claude-code is UNSANDBOXED ({sandbox_problem()}): its Bash, Write and Edit tools "
                "can change anything this user can, including other sessions' branches and worktrees"
            )
        network = "" if self.ctx.sandbox.network else " (sandbox_network=off cannot apply: it needs the API)"
        return (
            "claude-code runs in a bubblewrap sandbox: writes only to this worktree and its own branch; "
            f"the network stays on{network} and its tools can read Claude Code's own credential"
        )

    def _launcher(self) -> str | None:
        """The CLI wrapped in the sandbox (None: let the SDK find and run it unconfined)."""
        if not self.sandbox.active:
            return None
        import claude_agent_sdk

        bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
        cli = str(bundled) if bundled.is_file() else shutil.which("claude")
        if cli is None:
            return None
        env = self.ctx.env
        if env.get("CLAUDE_CONFIG_DIR"):
            writable = [Path(env["CLAUDE_CONFIG_DIR"])]
        else:  # the CLI keeps sessions, settings and its login there
            home = Path(env.get("HOME") or Path.home())
            (home / ".claude").mkdir(exist_ok=True)
            if not (home / ".claude.json").exists():
                (home / ".claude.json").write_text("{}\n")
            writable = [home / ".claude", home / ".claude.json"]
        for path in writable:
            if path.suffix != ".json":
                path.mkdir(parents=True, exist_ok=True)
        return str(self.sandbox.launcher("claude", [cli], writable))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """A reason when ``claude-agent-sdk`` is not installed."""
        if importlib.util.find_spec("claude_agent_sdk") is None:
            return f"the claude-code agent needs claude-agent-sdk: {INSTALL_HINT}"
        return None

    def rules(self) -> str:
        """What we append to Claude Code's own system prompt."""
        ctx = self.ctx
        return (
            f'You are working in the chatml session "{ctx.session_name}" on branch {ctx.branch}, '
            f"in the git worktree {ctx.worktree}. Stay inside this worktree. Never switch branches; "
            f"commit on {ctx.branch}. Never run `git stash` (the stash is shared by every worktree of "
            "this repository), never force-push, never `git reset --hard`. Other agents work in "
            "sibling worktrees of the same repository: leave them alone."
        )

    def run_turn(self, text: str) -> TurnResult:
        """Run one Claude Code turn to its result; raise AgentError when it fails."""
        root = os.geteuid() == 0
        if self.ctx.permission_mode == PermissionMode.BYPASS and root and not self.ctx.env.get("IS_SANDBOX"):
            raise AgentError(
                "Claude Code refuses bypass mode as root: use another permission mode, run as a "
                "normal user, or set IS_SANDBOX=1 if this is a disposable container"
            )
        try:
            return asyncio.run(self._turn(text))
        finally:
            note = self.sandbox.finish()
            if note:
                self.ctx.emit(EventType.NOTICE, {"message": note})

    def _options(self, sdk: Any) -> Any:
        state = self.ctx.state
        if "session_id" not in state:
            state["session_id"] = str(uuid.uuid4())
            self.ctx.save_state(state)
        session_id = state["session_id"]
        # Our id is used for the first turn and resumed afterwards, so a restarted runner (or a
        # new process) continues the same Claude Code session in the same worktree.
        which = {"resume": session_id} if state.get("started") else {"session_id": session_id}
        self.sandbox.prepare()
        return sdk.ClaudeAgentOptions(
            cwd=str(self.ctx.worktree),
            cli_path=self._launcher(),
            permission_mode=MODES[self.ctx.permission_mode],
            can_use_tool=self._can_use_tool,
            # Credentials stay (the CLI needs them); git's ref hook and the session's TMPDIR are added.
            env=self.sandbox.env(self.ctx.env, scrub=False),
            include_partial_messages=True,
            model=self.ctx.model,
            system_prompt={"type": "preset", "preset": "claude_code", "append": self.rules()},
            stderr=self._stderr.append,
            **which,
        )

    async def _can_use_tool(self, tool: str, tool_input: dict[str, Any], context: Any) -> Any:
        import claude_agent_sdk as sdk

        approved = await asyncio.to_thread(self.ctx.ask, tool, tool_input)
        if approved:
            return sdk.PermissionResultAllow(updated_input=tool_input)
        if self.ctx.cancelled.is_set():
            return sdk.PermissionResultDeny(message="Interrupted by the user.", interrupt=True)
        return sdk.PermissionResultDeny(
            message=f"The user denied this {tool} call. Do not retry it as is; ask how to proceed."
        )

    async def _turn(self, text: str) -> TurnResult:
        import claude_agent_sdk as sdk

        started = time.monotonic()
        result: Any = None
        try:
            async with sdk.ClaudeSDKClient(options=self._options(sdk)) as client:
                await client.query(text)
                watcher = asyncio.create_task(self._watch_cancel(client))
                try:
                    async for message in client.receive_response():
                        if isinstance(message, sdk.ResultMessage):
                            result = message
                        self._on_message(sdk, message)
                finally:
                    watcher.cancel()
        except sdk.ClaudeSDKError as exc:
            raise AgentError(self._describe(f"Claude Code failed: {exc}")) from None
        interrupted = self.ctx.cancelled.is_set()
        if result is None:
            raise AgentError(self._describe("Claude Code ended without a result"))
        if result.is_error and not interrupted:
            detail = result.result or "; ".join(result.errors or []) or result.subtype
            raise AgentError(self._describe(f"Claude Code failed: {detail}"))
        usage = {key: int((result.usage or {}).get(key) or 0) for key in pricing.USAGE_KEYS}
        if self._model == pricing.SCRIPTED_MODEL:
            cost: float | None = 0.0
        elif result.total_cost_usd is not None:
            cost = float(result.total_cost_usd)
        else:
            cost = pricing.cost(self._model, usage)
        stop = "interrupted" if interrupted else (result.stop_reason or result.subtype)
        duration_ms = int((time.monotonic() - started) * 1000)
        return TurnResult(usage, cost, duration_ms, stop, self._model or self.ctx.model)

    async def _watch_cancel(self, client: Any) -> None:
        while not self.ctx.cancelled.is_set():
            await asyncio.sleep(0.05)
        await client.interrupt()

    def _emit_text(self, kind: EventType, text: str) -> None:
        data: dict[str, Any] = {"text": text}
        if self._model == pricing.SCRIPTED_MODEL:
            data["scripted"] = True
        self.ctx.emit(kind, data)

    def _on_message(self, sdk: Any, message: Any) -> None:
        """Translate one SDK message into events (sub-agent chatter is left out)."""
        if getattr(message, "parent_tool_use_id", None):
            return
        if isinstance(message, sdk.StreamEvent):
            event = message.event
            if event.get("type") == "message_start":
                self._model = event.get("message", {}).get("model") or self._model
            delta = event.get("delta") or {}
            if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
                self._emit_text(EventType.ASSISTANT_DELTA, delta.get("text", ""))
            return
        if isinstance(message, sdk.AssistantMessage | sdk.UserMessage | sdk.ResultMessage):
            self._mark_started()
        if isinstance(message, sdk.AssistantMessage):
            self._model = message.model or self._model
            for block in message.content:
                if isinstance(block, sdk.TextBlock) and block.text:
                    self._emit_text(EventType.ASSISTANT_TEXT, block.text)
                elif isinstance(block, sdk.ThinkingBlock) and block.thinking:
                    self.ctx.emit(EventType.THINKING, {"text": block.thinking})
                elif isinstance(block, sdk.ToolUseBlock):
                    self.ctx.emit(
                        EventType.TOOL_START, {"id": block.id, "tool": block.name, "input": block.input}
                    )
            if message.error:
                self.ctx.emit(EventType.ERROR, {"message": f"Claude Code reported {message.error}"})
        elif isinstance(message, sdk.UserMessage) and isinstance(message.content, list):
            for block in message.content:
                if isinstance(block, sdk.ToolResultBlock):
                    ok = not block.is_error
                    self.ctx.emit(
                        EventType.TOOL_END,
                        {"id": block.tool_use_id, "ok": ok, "output": _text(block.content)},
                    )

    def _mark_started(self) -> None:
        if not self.ctx.state.get("started"):
            self.ctx.state["started"] = True
            self.ctx.save_state(self.ctx.state)

    def _describe(self, text: str) -> str:
        """One line, with the CLI's last stderr line when there is one and no credential."""
        if self._stderr:
            text += f" (stderr: {self._stderr[-1].strip()})"
        for secret in (self.ctx.env.get("ANTHROPIC_API_KEY"), self.ctx.env.get("ANTHROPIC_AUTH_TOKEN")):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())
