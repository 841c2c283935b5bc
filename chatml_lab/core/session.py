"""A handle on one session: reads the current record on every access, delegates to the manager."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..events import Event
from ..models import Priority, SessionRecord, TaskStatus

if TYPE_CHECKING:
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
    ) -> Session:
        """Change priority, task status, pin or name."""
        self._manager.update(self.id, priority=priority, task_status=task_status, pinned=pinned, name=name)
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
        """Fetch (throttled) and refresh ahead/behind."""
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

    def disk_usage(self) -> int:
        """Bytes the worktree takes on disk."""
        return self._manager.disk_usage(self.id)

    def events(self, after: int = 0) -> list[Event]:
        """Events of all the session's conversations with ``seq > after``, in order."""
        convs = [c.id for c in self._manager.store.conversations(self.id)]
        return self._manager.store.events(convs, after=after)

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
        """
        self._manager.agents.prewarm()

    def send(self, text: str) -> Session:
        """Queue a message for the agent; returns at once (a detached runner does the work)."""
        self._manager.agents.send(self.id, text)
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
