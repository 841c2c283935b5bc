"""A handle on one session: reads the current record on every access, delegates to the manager."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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

    def events(self, after: int = 0) -> list[Any]:
        """Events of all the session's conversations after ``after``."""
        convs = [c.id for c in self._manager.store.conversations(self.id)]
        return self._manager.store.events(convs, after=after)
