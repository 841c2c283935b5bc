"""Branch sync (ChatML's rebase/merge onto the default branch) that never loses a byte.

``update`` fetches, snapshots uncommitted work into a private ref (never ``git stash``: it is
shared by every worktree), records the operation, rebases or merges onto ``origin/<default>``,
and puts the work back. On conflicts it stops with the files listed and the worktree conflicted;
``abort`` puts the branch tip and every uncommitted byte (staged and unstaged apart) back. The
operation row survives a kill: the next ``update`` finishes it, ``abort`` undoes it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Protocol

from ..errors import GitError, InvalidArgumentError, SessionError, UpdateConflictError, UpdateInProgressError
from ..gitops import integration
from ..gitops.repo import GitRepo
from ..models import AgentState, SessionRecord
from ..storage.store import Store
from ..storage.updates import BranchUpdate
from .archiver import SNAPSHOT_NS
from .records import Records
from .workspaces import Workspaces

METHODS = ("rebase", "merge")


class AgentStates(Protocol):
    """What an update asks of the agents: whether one is working in the session."""

    def session_state(self, session_id: str) -> AgentState:
        """The task conversation's agent state."""
        ...


class BranchUpdater:
    """``update_branch`` and ``abort_update`` for the sessions of one manager."""

    def __init__(
        self,
        store: Store,
        records: Records,
        workspaces: Workspaces,
        agents: AgentStates,
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self.records = records
        self.workspaces = workspaces
        self.agents = agents
        self.progress = progress

    def _notice(self, rec: SessionRecord, message: str) -> None:
        self.progress(message)
        self.records.notice(rec.id, message)

    def update(self, session_id: str, method: str = "rebase") -> SessionRecord:
        """Rebase the session's branch onto ``origin/<default>`` (or merge it in), keeping uncommitted work."""
        if method not in METHODS:
            raise InvalidArgumentError(f"unknown update method {method!r}: use rebase or merge")
        rec, ws, repo = self.records.live(session_id, "update its branch")
        pending = self.store.branch_update(rec.id)
        if pending is not None:
            head = repo.run("rev-parse", "HEAD", cwd=rec.worktree_path).strip()
            if head != pending.old_head or repo.operation_in_progress(rec.worktree_path):
                return self._resume(rec, repo, pending)
            self.abort(rec.id)  # stopped before git moved anything (a kill): put it back, start over
        if self.agents.session_state(rec.id) in (AgentState.RUNNING, AgentState.WAITING):
            raise SessionError(
                f"the agent of {rec.name!r} is working: `chatml stop {rec.name}` before updating"
            )
        busy = repo.operation_in_progress(rec.worktree_path)
        if busy:
            raise UpdateInProgressError(
                f"a {busy} is already in progress in {rec.worktree_path}: finish or abort it first"
            )
        error = self.workspaces.fetch(repo, ws, force=True)
        if error:
            self._notice(rec, f"warning: fetch of {ws.remote} failed, updating onto local refs ({error})")
        onto = self.workspaces.upstream(repo, ws)
        worktree = rec.worktree_path
        stamp = f"{int(time.time() * 1000)}-{secrets.token_hex(3)}"
        with repo.lock():
            current = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", cwd=worktree).strip()
            if current != rec.branch:
                raise GitError(f"{worktree} has {current} checked out, not {rec.branch}: switch back first")
            old_head = repo.run("rev-parse", "HEAD", cwd=worktree).strip()
            snapshot = repo.snapshot(worktree)
            head_ref = f"{SNAPSHOT_NS}/{rec.id}/update-{stamp}-head"
            snapshot_ref = f"{SNAPSHOT_NS}/{rec.id}/update-{stamp}" if snapshot else None
            repo.update_ref(head_ref, old_head)
            if snapshot and snapshot_ref:
                repo.update_ref(snapshot_ref, snapshot)
            record = BranchUpdate(
                rec.id, method, onto, rec.branch, old_head, head_ref, snapshot_ref, time.time()
            )
            self.store.begin_update(record)  # written before the first change to the worktree
            integration.set_aside(repo, worktree)
            outcome = integration.integrate(repo, worktree, rec.branch, onto, method)
        if outcome.status == "conflict":
            raise self._conflict_error(rec, record, outcome.files)
        return self._finish(rec, repo, record)

    def _conflict_error(
        self, rec: SessionRecord, update: BranchUpdate, files: list[str]
    ) -> UpdateConflictError:
        step = "git rebase --continue" if update.method == "rebase" else "git commit --no-edit"
        listed = ", ".join(files) if files else "(see git status)"
        message = (
            f"updating {rec.name} onto {update.onto} ({update.method}) stopped on conflicts in {listed}:"
            f" resolve them, `git add` them and `{step}` in {rec.worktree_path}, then update again to"
            f" finish; or abort_update() (`chatml update {rec.name} --abort`) to go back"
        )
        self._notice(rec, message)
        return UpdateConflictError(message, files)

    def _resume(self, rec: SessionRecord, repo: GitRepo, update: BranchUpdate) -> SessionRecord:
        """An update was left unfinished (conflicts, or a kill): finish it once git is done."""
        if repo.operation_in_progress(rec.worktree_path):
            raise self._conflict_error(rec, update, integration.conflicted_files(rec.worktree_path))
        return self._finish(rec, repo, update)

    def _finish(self, rec: SessionRecord, repo: GitRepo, update: BranchUpdate) -> SessionRecord:
        worktree = rec.worktree_path
        with repo.lock():
            snapshot = repo.resolve(update.snapshot_ref) if update.snapshot_ref else None
            if snapshot:
                try:
                    repo.restore(worktree, snapshot)
                except GitError:
                    integration.set_aside(repo, worktree)  # back to a clean tree: the work is in the ref
                    message = (
                        f"{rec.name} is now on {update.onto}, but its uncommitted changes conflict with the new"
                        f" commits; they are kept in {update.snapshot_ref}: abort_update() goes back to before"
                        f" the update, or apply them by hand with `git stash apply --index {snapshot}`"
                    )
                    self._notice(rec, message)
                    raise UpdateConflictError(message, []) from None
            head = repo.run("rev-parse", "HEAD", cwd=worktree).strip()
            onto_sha = repo.resolve(update.onto) or rec.base_commit
            ahead, behind = (
                repo.ahead_behind(update.onto, rec.branch) if repo.resolve(update.onto) else (None, None)
            )
            self._retire_refs(repo, update)
        self.store.end_update(
            rec.id, base_commit=onto_sha, ahead=ahead, behind=behind, drift_checked_at=time.time()
        )
        verb = "no change needed" if head == update.old_head else f"now at {head[:10]}"
        self._notice(rec, f"updated {rec.name} onto {update.onto} by {update.method}: {verb}")
        return self.records.get(rec.id)

    def abort(self, session_id: str) -> SessionRecord:
        """Undo an unfinished update: the branch tip and every uncommitted byte as they were."""
        rec = self.records.get(session_id)
        update = self.store.branch_update(rec.id)
        if update is None:
            raise UpdateInProgressError(f"{rec.name} has no unfinished update to abort")
        ws = self.workspaces.get(rec.workspace_id)
        repo = GitRepo(ws.path)
        worktree = rec.worktree_path
        with repo.lock():
            integration.rewind(repo, worktree, update.branch, update.old_head)
            snapshot = repo.resolve(update.snapshot_ref) if update.snapshot_ref else None
            if snapshot:
                repo.restore(worktree, snapshot)
            self._retire_refs(repo, update)
        self.store.end_update(rec.id)
        self._notice(
            rec, f"aborted the update of {rec.name}: branch back at {update.old_head[:10]}, work restored"
        )
        return self.records.reconcile(self.records.get(rec.id))

    def _retire_refs(self, repo: GitRepo, update: BranchUpdate) -> None:
        """The work is back in the worktree: rename the refs so that ``gc`` may collect them."""
        for ref in filter(None, (update.snapshot_ref, update.head_ref)):
            sha = repo.resolve(ref)
            if sha:
                head, _, leaf = ref.rpartition("/")
                repo.update_ref(f"{head}/restored-{leaf}", sha)
                repo.delete_ref(ref)
