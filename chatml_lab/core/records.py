"""Session records kept true to git (DESIGN §4): state comes from git, not only the database.

A branch switched by hand, a worktree moved or deleted by hand is reconciled and reported as the
record's ``health`` (and a ``notice`` event), never crashed on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ..errors import GitError, RowGoneError, SessionArchivedError, SessionNotFoundError, StoreUnwritableError
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import Conversation, SessionChanges, SessionRecord, Workspace
from ..storage.operations import Operation
from ..storage.store import Store
from .operations import describe
from .owners import Owners
from .workspaces import Workspaces
from .worktrees import read_head


class TaskConversations(Protocol):
    """Finds a session's task conversation (where notices about the session go)."""

    def conversation(self, session_id: str) -> Conversation:
        """The session's task conversation."""
        ...


class Records:
    """Reads session records, reconciled with git before they are acted on."""

    def __init__(
        self,
        store: Store,
        workspaces: Workspaces,
        conversations: TaskConversations,
        owners: Owners | None = None,
    ) -> None:
        self.store = store
        #: Who may change which session: others' records are reconciled for the eye, not stored.
        self.owners = owners
        self.workspaces = workspaces
        self.conversations = conversations

    def get(self, session_id: str) -> SessionRecord:
        """The stored record of a session (raises when it was deleted)."""
        rec = self.store.session(session_id)
        if rec is None:
            raise SessionNotFoundError(f"session {session_id} no longer exists")
        return rec

    def reconciled(
        self, include_archived: bool, workspaces: list[Workspace] | None = None
    ) -> list[SessionRecord]:
        """Every record, oldest first, each reconciled.

        Open operations and workspaces (read unless given) are read once for all records, so a
        table of a hundred sessions costs a constant number of queries when git and the rows agree.
        """
        pending: dict[str, list[Operation]] = {}
        for op in self.store.open_operations():
            pending.setdefault(op.session_id, []).append(op)
        by_id = {ws.id: ws for ws in (self.store.workspaces() if workspaces is None else workspaces)}
        return [
            self.reconcile(rec, pending.get(rec.id, []), by_id.get(rec.workspace_id))
            for rec in self.store.sessions(include_archived)
        ]

    def live(self, session_id: str, action: str) -> tuple[SessionRecord, Workspace, GitRepo]:
        """A reconciled, unarchived record with its workspace and repository.

        ``action`` words the error when the session is archived. Someone else's session (not shared
        with the user) is refused with :class:`~chatml_lab.errors.NotOwnerError`: every git change
        of a session starts here.
        """
        rec = self.get(session_id)
        if self.owners is not None:
            self.owners.check(rec)
        rec = self.reconcile(rec)
        if rec.archived:
            raise SessionArchivedError(
                f"session {rec.name!r} is archived: `chatml unarchive {rec.name}` before you {action}"
            )
        ws = self.workspaces.get(rec.workspace_id)
        return rec, ws, self.workspaces.repo(ws)

    def notice(self, session_id: str, message: str) -> None:
        """Record a ``notice`` event in the session's task conversation."""
        conversation = self.conversations.conversation(session_id).id
        self.store.append_event(conversation, EventType.NOTICE, {"message": message})

    def reconcile(
        self, rec: SessionRecord, pending: list[Operation] | None = None, ws: Workspace | None = None
    ) -> SessionRecord:
        """Compare a record with git and record what was changed by hand (no exception).

        ``pending`` (its open operations) and ``ws`` (its workspace) are read when not given.
        """
        if pending is None:
            pending = self.store.open_operations(rec.id)
        if pending:  # git and the row are allowed to disagree until the operation closes
            return replace(rec, health=describe(pending[0], self.store.machine))
        here = self.store.machine
        if rec.archived or (here is not None and rec.machine is not None and rec.machine != here):
            return rec  # another machine's worktree is that machine's to check
        health = "ok"
        updates: SessionChanges = {}
        head = read_head(rec.worktree_path)
        ws = ws or self.store.workspace(rec.workspace_id)
        if ws is not None and not ws.path.exists():
            health = f"the repository of workspace {ws.name!r} is missing ({ws.path})"
            head = None
        elif head is None:
            moved = self._find_moved(rec)
            if moved is not None:
                updates["worktree_path"] = moved
                health = f"worktree moved to {moved}"
                head = read_head(moved)
            else:
                health = "worktree missing (deleted by hand?): run `chatml gc` or unarchive"
        if head is not None:
            if head.branch is None:
                health = f"detached HEAD at {str(head.commit)[:10]} (branch {rec.branch} kept)"
            elif head.branch != rec.branch:
                others = {s.branch for s in self.store.sessions(True, rec.workspace_id) if s.id != rec.id}
                if head.branch not in others:
                    updates["branch"] = head.branch
                health = f"branch switched by hand from {rec.branch} to {head.branch}"
        if rec.health.startswith("setup script") and health == "ok":
            health = rec.health
        if health != rec.health or updates:
            if self.owners is not None and not self.owners.may_write(rec):
                return replace(rec, health=health)  # someone else's: shown as it is, stored by its owner
            # The user changed nothing: updated_at (the table's "most recent" order) stays.
            updates["health"], updates["updated_at"] = health, rec.updated_at
            try:
                self.store.update_session(rec.id, **updates)
                if health != "ok":
                    self.notice(rec.id, health)
            except StoreUnwritableError:  # a reading command on a read-only store: show, do not store
                return replace(rec, health=health)
            except RowGoneError:  # deleted by another process meanwhile
                return rec
            return self.get(rec.id)
        return rec

    def _find_moved(self, rec: SessionRecord) -> Path | None:
        ws = self.store.workspace(rec.workspace_id)
        if ws is None:
            return None
        try:
            entries = GitRepo(ws.path).worktrees()
        except GitError:
            return None
        for entry in entries:
            if entry.branch == rec.branch and entry.path != rec.worktree_path and entry.path.exists():
                return entry.path
        return None
