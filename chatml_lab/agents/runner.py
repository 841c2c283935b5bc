"""The runner: one detached process per active conversation (DESIGN §3, "the database is the bus").

A :class:`Runner` takes the conversation's lease, consumes its inbox in order (messages, approval
answers, interrupt, stop), hands each message to the session's backend, appends every event to
the log, and exits after an idle timeout. Clients never talk to it directly; they write the
inbox and read events.

The process entry point is ``python -m chatml_lab.core.runner_main CONVERSATION_ID --data-dir DIR
--token T`` (:data:`~chatml_lab.agents.lease.RUNNER_MODULE`): the core hands the runner a
:data:`Namer` that applies auto-naming and a :data:`PullRequestLinker` that links a PR the agent
opened, so this module never imports the core.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from ..config import Config
from ..errors import ChatMLError
from ..events import EventType
from ..models import AgentState, ConversationKind
from ..storage.store import Store
from . import lease
from .helpers import session_title
from .sandbox import SECRET_ENV

#: Appends one event to the conversation's log.
Emit = Callable[[EventType, dict[str, Any]], None]
#: Names a session from a suggested title: ``namer(session_id, title, source, emit)``. Supplied by
#: the core (renaming moves the branch); it reports what it did through ``emit``.
Namer = Callable[[str, str, str, Emit], object]
#: Links the pull request whose URL a Bash command printed (``gh pr create``) to the session:
#: ``linker(session_id, output)``. Supplied by the core (it asks GitHub and records the PR).
PullRequestLinker = Callable[[str, str], object]

POLL_INTERVAL = 0.05


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace any configured secret that appears in ``text``."""
    source: Mapping[str, str] = os.environ if env is None else env
    for name in SECRET_ENV:
        secret = source.get(name)
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text


def redact_data(value: Any) -> Any:
    """``redact`` applied to every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v) for v in value]
    return value


class Runner:
    """Serves one conversation until idle, stopped, or its lease is lost."""

    def __init__(
        self,
        store: Store,
        conversation_id: str,
        token: str,
        idle_timeout: float,
        approval_timeout: float,
        stale_after: float,
        namer: Namer | None = None,
        config: Config | None = None,
        pr_linker: PullRequestLinker | None = None,
    ) -> None:
        self.store = store
        self.namer = namer
        self.pr_linker = pr_linker
        self.config = config or Config()
        self.conversation_id = conversation_id
        self.token = token
        self.idle_timeout = idle_timeout
        self.approval_timeout = approval_timeout
        self.stale_after = stale_after
        self.cancelled = threading.Event()
        self.stop_requested = threading.Event()
        self.lost_lease = threading.Event()
        self.done = threading.Event()
        self._threads: list[threading.Thread] = []
        self.backend: Any = None
        self._bash_ids: set[str] = set()

    # -- events and state -----------------------------------------------------------------------

    def emit(self, event_type: EventType, data: dict[str, Any]) -> None:
        """Append an event (secrets redacted)."""
        self.store.append_event(self.conversation_id, event_type, redact_data(data))
        if event_type is EventType.TOOL_START and data.get("tool") == "Bash":
            self._bash_ids.add(str(data.get("id")))
        elif event_type is EventType.TOOL_END and str(data.get("id")) in self._bash_ids:
            self._bash_ids.discard(str(data.get("id")))
            self._link_pr(str(data.get("output", "")))

    def _link_pr(self, output: str) -> None:
        """A ``…/pull/N`` URL in Bash output (``gh pr create``): link that PR to the session."""
        if "/pull/" not in output or self.pr_linker is None:
            return
        conversation = self.store.conversation(self.conversation_id)
        if conversation is None:
            return
        try:
            self.pr_linker(conversation.session_id, output)
        except ChatMLError as exc:  # linking is a convenience; the poller finds the PR by branch too
            self.store.append_event(
                self.conversation_id, EventType.NOTICE, {"message": f"PR not linked: {exc}"}
            )

    def set_state(self, state: AgentState) -> None:
        """Record the agent state on the conversation and in the log."""
        self.store.update_conversation(self.conversation_id, agent_state=state.value)
        self.emit(EventType.STATE, {"agent_state": state.value})

    # -- background threads ---------------------------------------------------------------------

    @property
    def finishing(self) -> bool:
        """True once the runner should leave its loop."""
        return self.stop_requested.is_set() or self.lost_lease.is_set()

    def request_stop(self) -> None:
        """Stop after cancelling the current turn (inbox ``stop`` or SIGTERM)."""
        self.stop_requested.set()
        self.cancelled.set()

    def _heartbeat_loop(self) -> None:
        while not self.done.is_set():
            if not lease.heartbeat(self.store, self.conversation_id, self.token):
                self.lost_lease.set()
                self.cancelled.set()
                return
            self.done.wait(lease.HEARTBEAT_INTERVAL)

    def _control_loop(self) -> None:
        """Watch the inbox for interrupt/stop while a turn runs (messages wait their turn)."""
        while not self.done.is_set():
            for item_id, kind, _data in self.store.pending_inbox(self.conversation_id):
                if kind == "interrupt":
                    self.store.consume_inbox(item_id)
                    self.cancelled.set()
                elif kind == "stop":
                    self.store.consume_inbox(item_id)
                    self.request_stop()
            self.done.wait(POLL_INTERVAL * 2)

    def _start(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- approvals ------------------------------------------------------------------------------

    def ask(self, tool: str, tool_input: dict[str, Any]) -> bool:
        """Emit an approval request and block until it is answered, interrupted, or timed out."""
        request_id = f"req-{int(time.time() * 1000) % 10**9}-{os.getpid() % 1000}"
        self.emit(EventType.APPROVAL_REQUEST, {"id": request_id, "tool": tool, "input": tool_input})
        self.set_state(AgentState.WAITING)
        deadline = time.monotonic() + self.approval_timeout
        approved, reason = False, "timed out"
        while True:
            if self.cancelled.is_set():
                reason = "interrupted"
                break
            if time.monotonic() > deadline:
                break
            answer = next(
                (
                    (item_id, data)
                    for item_id, kind, data in self.store.pending_inbox(self.conversation_id)
                    if kind == "approval" and data.get("id") == request_id
                ),
                None,
            )
            if answer is not None:
                approved = bool(answer[1].get("approved"))
                reason = "approved" if approved else str(answer[1].get("reason") or "denied by the user")
                break
            time.sleep(POLL_INTERVAL)
        self.emit(EventType.APPROVAL_RESPONSE, {"id": request_id, "approved": approved, "reason": reason})
        # Answered or not, the agent is no longer waiting: the turn goes on or winds down.
        self.set_state(AgentState.RUNNING)
        if answer is not None:
            # Consumed last: until the state says running, a client's wait() sees the answer
            # queued and keeps waiting, instead of "waiting" with no request left to answer.
            self.store.consume_inbox(answer[0])
        return approved

    # -- main loop ------------------------------------------------------------------------------

    def serve(self) -> int:
        """Run until idle timeout or stop; returns the process exit code."""
        if not lease.acquire(self.store, self.conversation_id, self.token, self.stale_after):
            return 0  # another runner serves this conversation
        print(f"runner pid {os.getpid()} serving {self.conversation_id}", flush=True)
        self._start(self._heartbeat_loop, "heartbeat")
        self._start(self._control_loop, "control")
        try:
            idle_since = time.monotonic()
            while not self.finishing:
                message = self._next_message()
                if message is None:
                    if time.monotonic() - idle_since > self.idle_timeout:
                        break
                    time.sleep(POLL_INTERVAL)
                    continue
                self._turn(message)
                idle_since = time.monotonic()
            if not self.lost_lease.is_set():
                self.set_state(AgentState.STOPPED if self.stop_requested.is_set() else AgentState.IDLE)
        except BaseException as exc:
            self.emit(EventType.ERROR, {"message": f"runner failed: {redact(_one_line(exc))}"})
            self.set_state(AgentState.CRASHED)
            traceback.print_exc()
            return 1
        finally:
            self.done.set()
            if self.backend is not None:
                self.backend.close()
            lease.release(self.store, self.conversation_id, self.token)
        return 0

    def _next_message(self) -> str | None:
        for item_id, kind, data in self.store.pending_inbox(self.conversation_id):
            if kind == "message":
                # "running" is recorded before the message leaves the inbox, so a client never
                # sees an empty inbox and an idle agent while a turn is starting.
                self.set_state(AgentState.RUNNING)
                self.store.consume_inbox(item_id)
                return str(data.get("text", ""))
            if kind == "stop":
                self.store.consume_inbox(item_id)
                self.request_stop()
                return None
            if kind in ("interrupt", "approval"):
                self.store.consume_inbox(item_id)  # nothing to interrupt or answer between turns
        return None

    def _turn(self, text: str) -> None:
        self.cancelled.clear()
        self.emit(EventType.USER_MESSAGE, {"text": text})
        conversation = self.store.conversation(self.conversation_id)
        if conversation is not None and conversation.kind is ConversationKind.TASK:
            self._auto_name(conversation.session_id, text)
        started = time.monotonic()
        try:
            if self.backend is None:
                # Built on the first message, not at start-up: the user's message and the
                # "running" state reach the log before the SDK import (~1 s) is paid.
                self.backend = self._make_backend()
            result = self.backend.run_turn(text)
        except ChatMLError as exc:
            self.emit(EventType.ERROR, {"message": redact(_one_line(exc))})
        except Exception as exc:  # a backend bug must not kill the conversation
            traceback.print_exc()
            self.emit(EventType.ERROR, {"message": redact(f"{type(exc).__name__}: {_one_line(exc)}")})
        else:
            self.emit(
                EventType.RESULT,
                {
                    "usage": result.usage,
                    "cost_usd": result.cost_usd,
                    "duration_ms": result.duration_ms or int((time.monotonic() - started) * 1000),
                    "stop_reason": result.stop_reason,
                    "model": result.model,
                },
            )
            if conversation is not None:
                self.store.add_usage(
                    conversation.session_id,
                    int(result.usage.get("input_tokens", 0)),
                    int(result.usage.get("output_tokens", 0)),
                    result.cost_usd,
                )
                agent_session = self.backend.ctx.state.get("session_id")
                if agent_session and agent_session != conversation.agent_session_id:
                    self.store.update_conversation(self.conversation_id, agent_session_id=str(agent_session))
        if not self.finishing:
            self.set_state(AgentState.IDLE)

    def _auto_name(self, session_id: str, text: str) -> None:
        """Name a session that still has its generated name after the message it was given.

        The title is asked for before the turn starts, so the branch is renamed before the agent
        commits on it. No title when the model failed with a key set: the next message retries.
        """
        rec = self.store.session(session_id)
        if self.namer is None or rec is None or rec.auto_named or rec.archived:
            return
        suggested = session_title(text)
        if suggested is not None:
            self.namer(session_id, *suggested, self.emit)

    def _make_backend(self) -> Any:
        from .context import build_context

        ctx, backend_cls = build_context(
            self.store, self.conversation_id, self.emit, self.ask, self.cancelled, self.config
        )
        return backend_cls(ctx)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The runner process's arguments; timeouts default to :class:`~chatml_lab.config.Config`'s."""
    defaults = Config()
    parser = argparse.ArgumentParser(prog="chatml-runner")
    parser.add_argument("conversation_id")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--idle-timeout", type=float, default=defaults.runner_idle_timeout)
    parser.add_argument("--approval-timeout", type=float, default=defaults.approval_timeout)
    parser.add_argument("--stale-after", type=float, default=defaults.lease_stale_after)
    parser.add_argument("--config", help="the client's Config as JSON (sandbox settings and the rest)")
    return parser.parse_args(argv)


def serve(
    store: Store,
    args: argparse.Namespace,
    namer: Namer | None = None,
    config: Config | None = None,
    pr_linker: PullRequestLinker | None = None,
) -> int:
    """Serve ``args.conversation_id`` until idle or stopped (SIGTERM stops); the exit code."""
    runner = Runner(
        store, args.conversation_id, args.token, args.idle_timeout, args.approval_timeout,
        args.stale_after, namer, config, pr_linker,
    )  # fmt: skip

    def on_term(_signum: int, _frame: Any) -> None:
        runner.request_stop()

    signal.signal(signal.SIGTERM, on_term)
    return runner.serve()
