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
    #: Shown, never stored: the session's machine stopped heartbeating (issue 13).
    UNREACHABLE = "unreachable"

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
    #: The machine holding the repository (issue 13; None: not known yet).
    machine: str | None = None
    #: Who registered it (see :mod:`chatml_lab.core.owners`).
    owner: str = ""


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
    #: The machine holding the worktree (issue 13; None: not known yet).
    machine: str | None = None
    #: Who created it: the only one who may change it, with the people it is shared with.
    owner: str = ""


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


class PullRequestChanges(TypedDict, total=False):
    """Columns of a session's pull-request row (``session_prs``) that the core writes."""

    title: str | None
    head: str | None
    head_sha: str | None
    base: str | None
    draft: bool
    checks: str
    checks_sha: str | None
    checks_at: float | None
    mergeable: str | None
    updated: str | None
    polled_at: float | None
    push_url: str | None
    push_branch: str | None
    push_blocked: str | None


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


class CheckStatus(_Choice):
    """Combined CI state of a pull request's head: check runs and legacy commit statuses."""

    NONE = "none"
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"

    @classmethod
    def _label(cls) -> str:
        return "checks state"


class MergeMethod(_Choice):
    """How ``merge_pr`` merges: a squash commit, a merge commit, or the commits rebased."""

    SQUASH = "squash"
    MERGE = "merge"
    REBASE = "rebase"

    @classmethod
    def _label(cls) -> str:
        return "merge method"


@dataclass(frozen=True)
class PullRequestState:
    """What is known of a session's pull request beyond ``pr_status``/``pr_number``/``pr_url``.

    ``mergeable`` is GitHub's ``mergeable_state`` (``clean``, ``dirty``, ``blocked``, ``unstable``,
    ``behind``, ``draft``, ``unknown``) or None before the first look. ``push_url`` and
    ``push_branch`` say where ``push`` sends the branch (a fork's URL for a fork PR whose author
    allows maintainer edits); ``push_blocked`` says why it cannot push, when it cannot.
    """

    session_id: str
    title: str | None = None
    head: str | None = None
    head_sha: str | None = None
    base: str | None = None
    draft: bool = False
    checks: CheckStatus = CheckStatus.NONE
    checks_sha: str | None = None
    checks_at: float | None = None
    mergeable: str | None = None
    updated: str | None = None
    polled_at: float | None = None
    push_url: str | None = None
    push_branch: str | None = None
    push_blocked: str | None = None


@dataclass(frozen=True)
class PullRequestLink:
    """The result of ``create_pr``: which pull request the session is linked to, and how."""

    number: int
    url: str
    created: bool
    message: str


# -- review findings (issue 10) ------------------------------------------------------------------


class Severity(_Choice):
    """How bad a review finding is (ChatML's four levels)."""

    ERROR = "error"
    WARNING = "warning"
    SUGGESTION = "suggestion"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: 0 for error … 3 for info."""
        return list(Severity).index(self)


class FindingStatus(_Choice):
    """A finding is ``open`` until resolved as ``fixed`` or ``ignored``."""

    OPEN = "open"
    FIXED = "fixed"
    IGNORED = "ignored"

    @classmethod
    def _label(cls) -> str:
        return "finding status"


@dataclass(frozen=True)
class Finding:
    """One review comment on a line of the session's diff. ``id`` is ``F<number>``, per session."""

    id: str
    session_id: str
    conversation_id: str | None
    file_path: str
    line_number: int | None
    title: str
    content: str
    severity: Severity
    status: FindingStatus
    source: str
    created_at: float
    resolved_at: float | None = None
    resolution_note: str | None = None


@dataclass(frozen=True)
class Scorecard:
    """A review's scores (0-10 per dimension) and summary."""

    id: int
    session_id: str
    conversation_id: str | None
    review_kind: str
    scores: list[dict[str, Any]]
    summary: str
    created_at: float
