"""Renaming a session: its name, and its branch while the branch is unpushed (DESIGN §4, §7).

Moving the branch and writing the row are one recorded operation: a rename cut short between the
two is finished (the branch moved) or undone (it did not) by :meth:`Renamer.settle`.
"""

from __future__ import annotations

from ..errors import InvalidNameError, OperationInProgressError, SessionExistsError
from ..gitops.repo import GitRepo
from ..models import SessionChanges, SessionRecord
from ..storage.operations import Operation
from ..storage.store import Store
from .operations import DONE, ROLLED_BACK, Operations, Outcome
from .workspaces import Workspaces


class Renamer:
    """Renames sessions and their unpushed branches."""

    def __init__(self, store: Store, workspaces: Workspaces, operations: Operations) -> None:
        self.store = store
        self.workspaces = workspaces
        self.operations = operations
        operations.handle("rename", self.settle)

    def rename(self, rec: SessionRecord, new: str, changes: SessionChanges) -> None:
        """Rename ``rec`` to ``new`` and write ``changes`` (other columns) with it."""
        ws = self.workspaces.get(rec.workspace_id)
        repo = self.workspaces.repo(ws)
        if any(s.name == new for s in self.store.sessions(True, ws.id)):
            raise SessionExistsError(f"session name {new!r} is taken in workspace {ws.name!r}")
        pushed = bool(ws.remote and repo.resolve(f"refs/remotes/{ws.remote}/{rec.branch}"))
        if pushed:  # the branch keeps its name: one row write, nothing to journal
            named: SessionChanges = {**changes, "name": new}
            self.store.update_session(rec.id, **named)
            return
        prefix = rec.branch.rsplit("/", 1)[0] + "/" if "/" in rec.branch else ""
        branch = prefix + new
        if not repo.valid_branch_name(branch):
            raise InvalidNameError(f"git refuses {branch!r} as a branch name: choose another")
        with repo.lock():
            now = self.store.session(rec.id)
            if now is None or (now.name, now.branch, now.archived) != (rec.name, rec.branch, rec.archived):
                raise OperationInProgressError(
                    f"session {rec.name!r} was changed by another process meanwhile: run the command again"
                )
            if any(s.name == new for s in self.store.sessions(True, ws.id)):
                raise SessionExistsError(f"session name {new!r} is taken in workspace {ws.name!r}")
            if repo.branch_exists(branch):
                raise SessionExistsError(f"branch {branch!r} already exists: choose another name")
            plan = {"old_branch": rec.branch, "branch": branch, "name": new, "changes": dict(changes)}
            op = self.operations.begin("rename", rec.id, ws.id, rec.name, plan)
            with self.operations.running(op, repo):
                repo.rename_branch(rec.branch, branch)
                op = self.operations.step(op, "renamed")
                self._renamed(op)

    def _renamed(self, op: Operation) -> None:
        changes: SessionChanges = op.plan["changes"]  # the other columns, as the rename was asked
        changes["name"], changes["branch"] = op.plan["name"], op.plan["branch"]
        self.operations.finish(op, DONE, changes=changes)

    def settle(self, op: Operation, repo: GitRepo) -> Outcome:
        """Finish a rename whose branch moved; undo one whose branch did not."""
        old, new = op.plan["old_branch"], op.plan["branch"]
        if repo.branch_exists(new) and not repo.branch_exists(old) and self.store.session(op.session_id):
            self._renamed(op)
            return Outcome(op, DONE, f"finished renaming {op.session_name} to {op.plan['name']}")
        self.operations.finish(op, ROLLED_BACK)
        return Outcome(op, ROLLED_BACK, f"undid the unfinished rename of {op.session_name}")
