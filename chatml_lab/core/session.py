"""A handle on one session: reads the current record on every access, delegates to the manager."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..events import Event
from ..models import (
    Conversation,
    Finding,
    PermissionMode,
    Priority,
    PullRequestLink,
    PullRequestState,
    Scorecard,
    SessionRecord,
    TaskStatus,
)

if TYPE_CHECKING:
    import pandas

    from .manager import ChatML


class Session:
    """One session of a :class:`~chatml_lab.core.manager.ChatML` manager."""

    def __init__(self, manager: ChatML, session_id: str) -> None:
        self._manager = manager
        self.id = session_id

    @property
    def record(self) -> SessionRecord:
        """The current stored record."""
        return self._manager.record(self.id)

    @property
    def name(self) -> str:
        """The session's name."""
        return self.record.name

    @property
    def branch(self) -> str:
        """The session's branch."""
        return self.record.branch

    @property
    def worktree(self) -> Path:
        """Where the session's worktree is (or will be recreated on unarchive)."""
        return self.record.worktree_path

    def __getattr__(self, attr: str) -> Any:
        # Every record field (priority, ahead, archived, ...) reads through to the record.
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.record, attr)

    def __repr__(self) -> str:
        rec = self.record
        return f"<Session {rec.name} branch={rec.branch} archived={rec.archived}>"

    def update(
        self,
        priority: Priority | str | None = None,
        task_status: TaskStatus | str | None = None,
        pinned: bool | None = None,
        name: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        permission_mode: PermissionMode | str | None = None,
    ) -> Session:
        """Change priority, task status, pin, name, or the agent (backend, model, permission mode)."""
        self._manager.update(
            self.id, priority=priority, task_status=task_status, pinned=pinned, name=name, agent=agent,
            model=model, permission_mode=permission_mode,
        )  # fmt: skip
        return self

    def pin(self) -> Session:
        """Pin the session (pinned sessions sort first)."""
        return self.update(pinned=True)

    def unpin(self) -> Session:
        """Unpin the session."""
        return self.update(pinned=False)

    def rename(self, name: str) -> Session:
        """Rename the session (and its branch while unpushed)."""
        return self.update(name=name)

    def sync(self, fetch: bool = True) -> Session:
        """Fetch now and refresh ahead/behind (only background refreshes are throttled)."""
        self._manager.sync(self.id, fetch=fetch)
        return self

    def archive(self, force: bool = False) -> Session:
        """Archive: snapshot, remove the worktree, keep the branch."""
        self._manager.archive(self.id, force=force)
        return self

    def unarchive(self) -> Session:
        """Recreate the worktree and restore the snapshot."""
        self._manager.unarchive(self.id)
        return self

    def delete(self, force: bool = False) -> str | None:
        """Delete the session; returns the snapshot ref kept with ``force`` (if any)."""
        return self._manager.delete(self.id, force=force)

    def share(self, person: str) -> Session:
        """Let ``person`` change this session as its owner does (only the owner may share)."""
        self._manager.owners.share(self.id, person)
        return self

    def unshare(self, person: str) -> Session:
        """Make this session read-only for ``person`` again (only the owner may unshare)."""
        self._manager.owners.unshare(self.id, person)
        return self

    def shares(self) -> list[str]:
        """The people this session is shared with (its :attr:`owner` is the ``owner`` field)."""
        return self._manager.owners.shares(self.id)

    def disk_usage(self) -> int:
        """Bytes the worktree takes on disk."""
        return self._manager.disk_usage(self.id)

    def events(self, after: int = 0, conversation: Conversation | str | None = None) -> list[Event]:
        """Events with ``seq > after``, in order: of every conversation, or of ``conversation``."""
        from . import review

        return review.events(self._manager, self.id, after, conversation)

    def last_seq(self) -> int:
        """The sequence number of the session's latest event (0 when none): where to read on from."""
        return self._manager.store.last_seq([c.id for c in self._manager.store.conversations(self.id)])

    # -- the agent ------------------------------------------------------------------------------

    @property
    def agent_state(self) -> str:
        """``idle|running|waiting|stopped|crashed`` of the task conversation (never a stale "running")."""
        return self._manager.agent_state(self.id)

    def warm_up(self) -> None:
        """Get the agent ready to answer at once (starts the runner host if none runs); returns at once.

        For a UI that is about to let the user type a message: the SDK is imported meanwhile.
        Another machine's session needs nothing here: its machine's host starts its runner.
        """
        if self._manager.elsewhere(self.id) is None:
            self._manager.agents.prewarm()

    def send(self, text: str, conversation: Conversation | str | None = None) -> Session:
        """Queue a message for the agent of ``conversation`` (default: the task one).

        Returns at once: a detached runner does the work.
        """
        from . import review

        review.send(self._manager, self.id, text, conversation)
        return self

    def wait(self, timeout: float | None = None) -> str:
        """Block until the agent has handled every queued message or waits for an approval."""
        return self._manager.agents.wait(self.id, timeout=timeout).value

    def interrupt(self) -> Session:
        """Stop the current turn; the conversation stays usable."""
        self._manager.agents.interrupt(self.id)
        return self

    def stop(self) -> Session:
        """Stop the current turn and let the runner exit."""
        self._manager.agents.stop(self.id)
        return self

    def pending_approvals(self) -> list[Event]:
        """Approval requests waiting for an answer."""
        return self._manager.agents.pending_approvals(self.id)

    def approve(self, request_id: str | None = None) -> str:
        """Approve a pending request (the only one when no id is given); returns its id."""
        return self._manager.agents.answer(self.id, request_id, approved=True)

    def deny(self, request_id: str | None = None, reason: str | None = None) -> str:
        """Deny a pending request (the only one when no id is given); returns its id."""
        return self._manager.agents.answer(self.id, request_id, approved=False, reason=reason)

    # -- shipping: push, pull requests, branch sync (issue 9) -----------------------------------

    @property
    def pr(self) -> PullRequestState:
        """What is known of the pull request: title, draft, checks, mergeable state, push target."""
        return self._manager.pr_state(self.id)

    def push(self, force_with_lease: bool = False) -> str:
        """Push the branch with upstream set; never a plain force.

        A remote that moved on is only overwritten with ``force_with_lease`` (and only if it is
        where it was last fetched). Returns ``new``, ``fast-forward``, ``forced`` or ``up-to-date``.
        """
        return self._manager.push(self.id, force_with_lease=force_with_lease)

    def create_pr(
        self, title: str | None = None, body: str | None = None, draft: bool = False, base: str | None = None
    ) -> PullRequestLink:
        """Open a pull request (pushing first when needed), or link the open one for this branch.

        Title and body are drafted by the model when a key is configured, else from the commits
        and diffstat; ``.github/pull_request_template.md`` is honoured. Task status moves
        ``in_progress`` → ``in_review``. Returns the number, URL and whether it was created.
        """
        return self._manager.create_pr(self.id, title=title, body=body, draft=draft, base=base)

    def merge_pr(self, method: str = "squash", force: bool = False) -> str:
        """Merge the PR (``squash``, ``merge`` or ``rebase``); returns the merge commit.

        Refuses when it is not mergeable or its checks failed or run, unless ``force``. The branch
        is kept unless the setting ``delete_branch_on_merge`` says otherwise.
        """
        return self._manager.merge_pr(self.id, method=method, force=force)

    def update_branch(self, method: str = "rebase") -> Session:
        """Fetch, then rebase onto ``origin/<default>`` (or merge it in), keeping uncommitted work.

        On conflicts raises :class:`~chatml_lab.errors.UpdateConflictError` (``.files``) with the
        worktree conflicted; resolve and call again to finish, or :meth:`abort_update`.
        """
        self._manager.update_branch(self.id, method=method)
        return self

    def abort_update(self) -> Session:
        """Undo an unfinished update: the branch tip and every uncommitted byte as before."""
        self._manager.abort_update(self.id)
        return self

    # -- conversations and reviews (core/review.py) ---------------------------------------------

    def conversations(self) -> list[Conversation]:
        """The session's conversations, oldest first: the task one, then reviews and chats."""
        from . import review

        return review.conversations(self._manager, self.id)

    def conversation(self, key: Conversation | str | None = None) -> Conversation:
        """One conversation by id, title or kind (None: the task conversation)."""
        from . import review

        return review.conversation(self._manager, self.id, key)

    def conversation_state(self, key: Conversation | str | None = None) -> str:
        """``idle|running|waiting|stopped|crashed`` of one conversation (a dead runner shows crashed)."""
        return self._manager.agents.state(self.conversation(key).id).value

    def new_conversation(self, kind: str = "chat", title: str | None = None) -> Conversation:
        """Add a ``chat`` (or ``review``) conversation with an agent of its own."""
        from . import review

        return review.new_conversation(self._manager, self.id, kind, title)

    def review(
        self, kind: str = "quick", instructions: str | None = None, model: str | None = None
    ) -> Conversation:
        """Start a read-only review conversation and return it.

        ``kind`` is ``quick``, ``deep``, ``security``, ``performance``, ``architecture`` or
        ``premerge``; findings land in :meth:`findings` as the reviewer files them.
        """
        from . import review

        return review.start_review(self._manager, self.id, kind, instructions, model)

    def wait_conversation(
        self, conversation: Conversation | str | None = None, timeout: float | None = None
    ) -> str:
        """Block until one conversation's agent has finished its queued messages; return its state."""
        from . import review

        return review.wait_conversation(self._manager, self.id, conversation, timeout)

    def findings(self, status: str | None = None) -> pandas.DataFrame:
        """Review findings: id, file, line, severity, title, body, status, conversation, created_at.

        Show it styled with ``chatml_lab.reports.findings.style_findings(session.findings())``.
        """
        from .table import findings_table

        return findings_table(self._manager, self.id, status)

    def finding_list(self, status: str | None = None) -> list[Finding]:
        """Review findings as records."""
        from ..models import FindingStatus

        wanted = FindingStatus.parse(status) if status else None
        return self._manager.store.findings(self.id, status=wanted)

    def resolve_finding(self, finding_id: str, resolution: str = "fixed", note: str | None = None) -> Finding:
        """Mark a finding ``fixed`` or ``ignored`` by hand (``open`` reopens it)."""
        from . import review

        return review.resolve(self._manager, self.id, finding_id, resolution, note)

    def fix_findings(self, ids: list[str] | str | None = None) -> str:
        """Send the open findings (or ``ids``) to the task conversation as one message; returns it."""
        from . import review

        return review.fix_findings(self._manager, self.id, ids)

    def scorecards(self) -> list[Scorecard]:
        """The scorecards the session's reviews submitted."""
        from . import review

        return review.scorecards(self._manager, self.id)
