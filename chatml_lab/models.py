"""Plain data: the enums and records of DESIGN §2, shared by every layer."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypedDict

from .errors import InvalidArgumentError


class _Choice(enum.StrEnum):
    """A string enum whose parse error lists the allowed values."""

    @classmethod
    def parse(cls, value: str | enum.StrEnum) -> Self:
        """Return the member named by ``value`` (case-insensitive, ``-`` or ``_``)."""
        text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if member.value == text:
                return member
        allowed = "|".join(m.value for m in cls)
        raise InvalidArgumentError(f"unknown {cls._label()} {value!r}: use one of {allowed}")

    @classmethod
    def _label(cls) -> str:
        return cls.__name__.lower()


class Priority(_Choice):
    """Session priority, Linear-style. ``rank`` orders urgent first and none last."""

    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    @property
    def rank(self) -> int:
        """Sort key: 0 for urgent … 4 for none."""
        return list(Priority).index(self)


class TaskStatus(_Choice):
    """Where the session's task stands. New sessions start ``in_progress``."""

    BACKLOG = "backlog"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    DONE = "done"
    CANCELLED = "cancelled"

    @classmethod
    def _label(cls) -> str:
        return "task status"


class PRStatus(_Choice):
    """State of the session branch's pull request."""

    NONE = "none"
    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"

    @classmethod
    def _label(cls) -> str:
        return "PR status"


class AgentState(_Choice):
    """What a conversation's agent is doing; ``crashed`` when its runner died."""

    IDLE = "idle"
    RUNNING = "running"
    WAITING = "waiting"
    STOPPED = "stopped"
    CRASHED = "crashed"

    @classmethod
    def _label(cls) -> str:
        return "agent state"


class ConversationKind(_Choice):
    """A session has one ``task`` conversation and any number of ``review``/``chat`` ones."""

    TASK = "task"
    REVIEW = "review"
    CHAT = "chat"

    @classmethod
    def _label(cls) -> str:
        return "conversation kind"


class PermissionMode(_Choice):
    """When the agent must ask before acting (DESIGN §5)."""

    DEFAULT = "default"
    ACCEPT_EDITS = "accept_edits"
    BYPASS = "bypass"
    PLAN = "plan"

    @classmethod
    def _label(cls) -> str:
        return "permission mode"


class SummaryState(_Choice):
    """Progress of an archive summary."""

    NONE = "none"
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"

    @classmethod
    def _label(cls) -> str:
        return "summary state"


@dataclass(frozen=True)
class Workspace:
    """A git repository registered by path."""

    id: str
    name: str
    path: Path
    default_branch: str
    remote: str | None
    branch_prefix: str | None
    created_at: float
    last_fetch_at: float | None = None


@dataclass(frozen=True)
class SessionRecord:
    """One session as stored: worktree + branch + agent settings + bookkeeping."""

    id: str
    workspace_id: str
    name: str
    branch: str
    worktree_path: Path
    base_ref: str
    base_commit: str
    created_at: float
    updated_at: float
    priority: Priority = Priority.NONE
    task_status: TaskStatus = TaskStatus.IN_PROGRESS
    pinned: bool = False
    archived: bool = False
    archive_summary: str | None = None
    archive_summary_state: SummaryState = SummaryState.NONE
    snapshot_ref: str | None = None
    pr_status: PRStatus = PRStatus.NONE
    pr_number: int | None = None
    pr_url: str | None = None
    auto_named: bool = False
    agent_backend: str | None = None
    model: str | None = None
    permission_mode: PermissionMode = PermissionMode.DEFAULT
    cost_usd: float | None = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    port_base: int = 0
    ahead: int | None = None
    behind: int | None = None
    drift_checked_at: float | None = None
    health: str = "ok"
    agent_options: dict[str, Any] = field(default_factory=dict)


class SessionChanges(TypedDict, total=False):
    """Columns of a session row that may change after creation, with the types the store accepts.

    Enum columns take the member or its value (both are ``str``); flags take a bool or 0/1.
    """

    name: str
    branch: str
    worktree_path: Path
    base_ref: str
    base_commit: str
    updated_at: float
    priority: str
    task_status: str
    pinned: bool | int
    archived: bool | int
    archive_summary: str | None
    archive_summary_state: str
    snapshot_ref: str | None
    pr_status: str
    pr_number: int | None
    pr_url: str | None
    auto_named: bool | int
    agent_backend: str | None
    model: str | None
    permission_mode: str
    cost_usd: float | None
    input_tokens: int
    output_tokens: int
    ahead: int | None
    behind: int | None
    drift_checked_at: float | None
    health: str
    agent_options: dict[str, Any]


@dataclass(frozen=True)
class Conversation:
    """One agent conversation inside a session."""

    id: str
    session_id: str
    kind: ConversationKind
    title: str
    agent_state: AgentState
    agent_session_id: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class GcReport:
    """What garbage collection found (and, unless a dry run, cleaned)."""

    dry_run: bool
    orphan_worktrees: list[Path] = field(default_factory=list)
    missing_worktrees: list[str] = field(default_factory=list)
    stale_snapshot_refs: list[str] = field(default_factory=list)
    half_made: list[str] = field(default_factory=list)
    #: Branches with the session prefix that no session uses and that hold no unique commit.
    orphan_branches: list[str] = field(default_factory=list)
    #: What gc saw and leaves alone, with why: work it cannot prove is elsewhere, operations still
    #: running, workspaces whose repository is missing; and interrupted operations it finished.
    notes: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when there was nothing to collect."""
        return not (
            self.orphan_worktrees or self.missing_worktrees or self.stale_snapshot_refs or self.half_made
            or self.orphan_branches
        )  # fmt: skip
