"""The contract between the runner and an agent backend.

The runner (:mod:`chatml_lab.agents.runner`) owns the database, the inbox, approvals and
the agent state; a backend only turns one user message into events through an
:class:`AgentContext`. Backends register under the entry-point group :data:`ENTRY_POINT_GROUP`
(built-ins too), so a third-party package can add one without touching this package.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar

from ..errors import AgentUnavailableError
from ..events import Event, EventType
from ..models import PermissionMode
from .sandbox import SandboxPolicy

ENTRY_POINT_GROUP = "chatml_lab.backends"

Emit = Callable[[EventType, dict[str, Any]], None]
#: Ask the user to approve a tool call: ``ask(tool, input) -> approved``. Blocks until answered,
#: interrupted, or timed out (timeout and interrupt count as "denied").
Ask = Callable[[str, dict[str, Any]], bool]


@dataclass
class AgentContext:
    """Everything a backend may use for one conversation."""

    conversation_id: str
    session_name: str
    branch: str
    worktree: Path
    #: The repository's common git dir (``git rev-parse --git-common-dir``): Bash may write there.
    git_common_dir: Path
    permission_mode: PermissionMode
    model: str | None
    #: Backend options stored on the session (``{"script": PATH}`` for ``scripted``).
    options: dict[str, Any]
    #: Environment for tools and subprocesses: the caller's plus ``CHATML_*``.
    env: dict[str, str]
    emit: Emit
    ask: Ask
    #: Set when the user interrupts or stops: stop the turn as soon as possible.
    cancelled: threading.Event
    #: The backend's JSON state saved by the last run (``{}`` at first).
    state: dict[str, Any] = field(default_factory=dict)
    #: Persist ``state`` (call it whenever the transcript changes, so a crash loses little).
    save_state: Callable[[dict[str, Any]], None] = lambda _state: None
    #: The conversation's events so far (for backends that rebuild context from the log).
    history: list[Event] = field(default_factory=list)
    bash_timeout: float = 120.0
    #: How the agent's commands are confined (network, environment allowlist).
    sandbox: SandboxPolicy = field(default_factory=SandboxPolicy)
    #: ``task``, ``review`` or ``chat``: which extra tools the conversation gets (agents/toolset.py).
    conversation_kind: str = "task"
    session_id: str = ""
    #: The store, for tools that write rows (review findings); None outside a runner.
    store: Any = None
    #: ``origin/<default>`` (the review diff's merge-base side) and the session's base commit.
    upstream: str | None = None
    base_commit: str = ""
    #: Instructions this conversation adds to the system prompt (a review's prompt).
    instructions: str = ""


@dataclass(frozen=True)
class TurnResult:
    """What one turn cost. ``cost_usd`` is None when the model's price is unknown."""

    usage: dict[str, int]
    cost_usd: float | None
    duration_ms: int
    stop_reason: str | None = None
    model: str | None = None


class Backend(ABC):
    """One agent implementation. A runner makes one instance per conversation."""

    #: Entry-point name (``anthropic``, ``scripted``, ``claude-code``).
    name: ClassVar[str]
    #: True when output is replayed, not written by a model: UIs label it.
    scripted: ClassVar[bool] = False

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when this backend can run here, else a one-line reason with the fix."""
        return None

    @abstractmethod
    def run_turn(self, text: str) -> TurnResult:
        """Handle one user message: emit deltas, tool events, final text; return usage and cost."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources (servers, clients) when the runner exits."""


def installed_backends() -> list[str]:
    """Names of the backends registered in :data:`ENTRY_POINT_GROUP`, sorted (nothing is imported)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


_FOUND: dict[str, EntryPoint] | None = None


def backend_class(name: str) -> type[Backend]:
    """The backend registered under ``name`` in :data:`ENTRY_POINT_GROUP`."""
    global _FOUND
    if _FOUND is None or name not in _FOUND:  # scanning every installed package costs ~10 ms: once
        _FOUND = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    found = _FOUND
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise AgentUnavailableError(f"unknown agent {name!r}: use one of {known}")
    cls = found[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise AgentUnavailableError(f"agent {name!r} does not name a chatml_lab Backend class")
    return cls
