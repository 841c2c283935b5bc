"""Archive, unarchive and delete: the "never lose work" policy of DESIGN §4, crash-safe (§7).

No ``git stash`` (the stash is shared by every worktree): uncommitted work goes into a snapshot
commit on a private ref of its own (:mod:`.snapshots`), made with a scratch index so neither the
worktree nor its index is touched. Delete refuses when work would be lost unless forced, and a
forced delete still keeps a ref until an explicit :meth:`ChatML.gc`.

Each of the three is a recorded operation (:mod:`.operations`): its row names the ref that will
hold the work before anything is made, the worktree goes only after that ref exists, and the
session's row changes in the transaction that closes the operation. An operation cut short is
rolled back while nothing was removed, else finished, by :meth:`Archiver.settle`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import (
    GitError,
    OperationInProgressError,
    RefNotFoundError,
    RowGoneError,
    SessionArchivedError,
    SessionError,
    SessionNotArchivedError,
    SessionNotFoundError,
    WorktreeMissingError,
    WorkWouldBeLostError,
    option,
)
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import SessionRecord, SummaryState
from ..storage.operations import Operation
from ..storage.store import Store
from .operations import DONE, ROLLED_BACK, Operations, Outcome
from .records import Records, TaskConversations
from .scripts import ScriptRunner
from .snapshots import SNAPSHOT_NS, finish_removal, held_elsewhere, snapshot_ref
from .summary import fallback_summary
from .workspaces import Workspaces
from .worktrees import copy_included, included_work, read_head

__all__ = ["SNAPSHOT_NS", "AgentGate", "Archiver"]


class AgentGate(TaskConversations, Protocol):
    """What archive and delete ask of the agents: a session's task conversation, and quiet."""

    def quiesce(self, session_id: str, force: bool, action: str) -> None:
        """Make sure no runner works in the session's worktree.

        A working runner refuses ``action`` unless ``force``, which stops it.
        """
        ...


class Archiver:
    """Archive, restore and delete sessions."""

    def __init__(
        self,
        store: Store,
        records: Records,
        workspaces: Workspaces,
        agents: AgentGate,
        script_runner: ScriptRunner,
        operations: Operations,
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self.records = records
        self.workspaces = workspaces
        self.agents = agents
        self.scripts = script_runner
        self.operations = operations
        self.progress = progress
        for kind in ("archive", "unarchive", "delete"):
            operations.handle(kind, self.settle)

    def settle(self, op: Operation, repo: GitRepo) -> Outcome:
        """Finish or undo an archive, unarchive or delete that did not finish."""
        if self.store.session(op.session_id) is None:
            self.operations.finish(op, ROLLED_BACK, why="the session was deleted meanwhile")
            return Outcome(
                op, ROLLED_BACK, f"dropped the unfinished {op.kind} of {op.session_name}: it was deleted"
            )
        ws = self.workspaces.get(op.workspace_id)
        if op.kind == "archive":
            return self._settle_archive(op, repo, ws.path)
        if op.kind == "unarchive":
            return self._settle_unarchive(op, repo, ws.path)
        return self._settle_delete(op, repo, ws.path)

    def _recheck(self, rec: SessionRecord, doing: str) -> None:
        """Under the repository's lock, before an operation begins: settle what a dead process left
        open, and make sure no other process changed the session since ``rec`` was read.
        """
        self.operations.settle(rec.id)
        now = self.store.session(rec.id)
        if now is None:
            raise SessionNotFoundError(f"session {rec.name!r} was deleted by another process meanwhile")
        if now.archived and not rec.archived:
            raise SessionArchivedError(f"session {rec.name!r} was archived by another process meanwhile")
        if rec.archived and not now.archived:
            raise SessionNotArchivedError(f"session {rec.name!r} was unarchived by another process meanwhile")
        if (now.branch, now.worktree_path, now.snapshot_ref) != (
            rec.branch,
            rec.worktree_path,
            rec.snapshot_ref,
        ):
            raise OperationInProgressError(
                f"session {rec.name!r} was changed by another process while it was being {doing}: run the"
                " command again"
            )

    def _redundant(self, op: Operation, repo: GitRepo, root: Path, ref: str | None) -> list[str]:
        """``[ref]`` when the ref an undone operation made holds nothing the worktree lacks."""
        sha = repo.resolve(ref) if ref else None
        if ref is None or sha is None:
            return []
        return [ref] if held_elsewhere(repo, root, self.store.session(op.session_id), sha) else []

    # -- archive --------------------------------------------------------------------------------

    def archive(self, session_id: str, force: bool = False) -> SessionRecord:
        """Snapshot uncommitted work into a private ref, remove the worktree, keep branch and record."""
        self.operations.settle(session_id)
        rec = self.records.get(session_id)
        last = self.operations.last_done(session_id, "archive")
        if rec.archived and last and rec.archive_summary_state is SummaryState.GENERATING:
            # The archive was done (by a process killed before its summary, or for it): finish it.
            self._write_summary(rec.id, last.plan.get("summary") or "", self.agents.conversation(rec.id).id)
            return self.records.get(rec.id)
        rec, ws, repo = self.records.live(session_id, "archive it again")
        self.agents.quiesce(rec.id, force=force, action="archive")
        task = self.agents.conversation(rec.id).id
        if read_head(rec.worktree_path) is not None:
            busy = repo.operation_in_progress(rec.worktree_path)
            if busy:  # a snapshot cannot hold it: unmerged entries, MERGE_HEAD, rebase state
                raise WorkWouldBeLostError(
                    f"a {busy} is in progress in session {rec.name!r}: finish or abort it, then archive"
                )
            failed = self.scripts.run("archive", rec, ws, task, stop_at_failure=not force)
            if failed is not None and not force:
                raise SessionError(
                    f"archive script {failed.script.name!r} exited {failed.exit_code}: fix it or archive"
                    f" with {option('force')}"
                )
            summary = fallback_summary(repo, rec, repo.status_porcelain(rec.worktree_path))
        else:
            summary = fallback_summary(repo, rec, None)
        with repo.lock():
            self._recheck(rec, "archived")
            ref = snapshot_ref(rec.id, "archive")
            plan = {"path": str(rec.worktree_path), "branch": rec.branch, "summary": summary, "ref": ref,
                    "worktree": read_head(rec.worktree_path) is not None}  # fmt: skip
            op = self.operations.begin("archive", rec.id, ws.id, rec.name, plan)
            with self.operations.running(op, repo):
                path = rec.worktree_path
                snapshot = None
                if read_head(path) is not None:
                    snapshot = repo.snapshot(path, included_work(repo, ws.path, path))
                    if snapshot:
                        repo.create_ref(ref, snapshot)
                op = self.operations.step(op, "removing", snapshot=snapshot)
                repo.remove_worktree(path)
                self._archived(op)
        try:
            self._write_summary(rec.id, summary, task)
        except RowGoneError:
            raise SessionNotFoundError(
                f"session {rec.name!r} was deleted by another process while it was archived"
            ) from None
        return self.records.get(rec.id)

    def _archived(self, op: Operation) -> None:
        snapshot = op.plan.get("snapshot")
        self.operations.finish(op, DONE, changes={
            "archived": 1, "snapshot_ref": op.plan["ref"] if snapshot else None,
            "archive_summary": op.plan["summary"], "archive_summary_state": SummaryState.GENERATING.value,
            "ahead": None, "behind": None, "health": "ok",
        })  # fmt: skip

    def _settle_archive(self, op: Operation, repo: GitRepo, root: Path) -> Outcome:
        name = op.session_name
        if op.step == "planned":  # the snapshot may exist, the worktree is untouched: undo
            self.operations.finish(op, ROLLED_BACK, redundant=self._redundant(op, repo, root, op.plan["ref"]))
            return Outcome(op, ROLLED_BACK, f"undid the unfinished archive of {name} (nothing was removed)")
        if op.plan["worktree"]:
            finish_removal(repo, Path(op.plan["path"]))
        else:
            repo.run("worktree", "prune")
        self._archived(op)
        kept = f", its work kept in {op.plan['ref']}" if op.plan.get("snapshot") else ""
        return Outcome(op, DONE, f"finished the interrupted archive of {name}{kept}")

    def _write_summary(self, session_id: str, facts: str, conversation: str) -> None:
        """The archive summary: a model's when a key is configured, else the facts from git."""
        from ..agents.helpers import api_configured, summarize_session
        from .summary import transcript_text

        self.progress("writing the archive summary")
        text, source = summarize_session(transcript_text(self.store, session_id), facts)
        state = SummaryState.FAILED if source != "model" and api_configured() else SummaryState.COMPLETED
        self.store.update_session(session_id, archive_summary=text, archive_summary_state=state.value)
        self.store.append_event(conversation, EventType.ARCHIVE_SUMMARY, {"summary": text, "source": source})

    # -- unarchive ------------------------------------------------------------------------------

    def unarchive(self, session_id: str) -> SessionRecord:
        """Recreate the worktree at the same path on the kept branch and restore the snapshot."""
        self.operations.settle(session_id)
        if self.operations.last_done(session_id, "unarchive", settled=True):
            return self.records.reconcile(self.records.get(session_id))  # done for a killed process
        rec = self.records.get(session_id)
        if not rec.archived:
            raise SessionNotArchivedError(f"session {rec.name!r} is not archived")
        ws = self.workspaces.get(rec.workspace_id)
        repo = self.workspaces.repo(ws)
        path = rec.worktree_path
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise WorktreeMissingError(
                f"{path} is in the way (not empty): move it aside, then unarchive {rec.name!r} again"
            )
        snapshot = repo.resolve(rec.snapshot_ref) if rec.snapshot_ref else None
        if rec.snapshot_ref and snapshot is None:
            raise RefNotFoundError(
                f"the archived work of {rec.name!r} ({rec.snapshot_ref}) is gone from the repository:"
                " recreate that ref from its reflog or a backup, then unarchive again"
            )
        if snapshot is None and not repo.branch_exists(rec.branch):
            raise GitError(f"branch {rec.branch!r} of session {rec.name!r} is gone and no snapshot holds it")
        with repo.lock():
            self._recheck(rec, "unarchived")
            plan = {"path": str(path), "branch": rec.branch, "ref": rec.snapshot_ref, "snapshot": snapshot}
            op = self.operations.begin("unarchive", rec.id, ws.id, rec.name, plan)
            with self.operations.running(op, repo):
                if path.exists():
                    path.rmdir()
                # A worktree deleted by hand is still registered until pruned; `worktree add` refuses it.
                repo.run("worktree", "prune")
                if repo.branch_exists(rec.branch):
                    repo.attach_worktree(path, rec.branch)
                else:
                    repo.add_worktree(path, rec.branch, f"{snapshot}^1")
                op = self.operations.step(op, "added")
                self._restore(op, repo, ws.path)
        return self.records.reconcile(self.records.get(rec.id))

    def _restore(self, op: Operation, repo: GitRepo, root: Path, settling: bool = False) -> None:
        """Put the included files and the snapshot back (again, when a first try was cut short),
        check that every byte came back, and close the operation.
        """
        path, snapshot = Path(op.plan["path"]), op.plan.get("snapshot")
        copy_included(repo, root, path)
        verified = snapshot is None
        if snapshot:
            # On a moved branch the snapshot is merged in once: a dirty worktree means it was.
            merge = not settling or not repo.is_dirty(path)
            try:
                exact = repo.restore(path, snapshot, merge=merge)
            except GitError:  # conflicts: back to archived, the snapshot keeps the work
                finish_removal(repo, path)
                self.operations.finish(op, ROLLED_BACK)
                raise
            verified = exact and not repo.missing_from(path, snapshot)
        health = "ok" if verified else f"restored; the archived work is also kept in {op.plan['ref']}"
        self.operations.finish(
            op, DONE, changes={"archived": 0, "snapshot_ref": None, "health": health},
            redundant=[op.plan["ref"]] if verified and op.plan.get("ref") else [], verified=verified,
        )  # fmt: skip

    def _settle_unarchive(self, op: Operation, repo: GitRepo, root: Path) -> Outcome:
        path, name = Path(op.plan["path"]), op.session_name
        head = read_head(path)
        if head is not None and head.branch == op.plan["branch"]:
            self._restore(op, repo, root, settling=True)
            return Outcome(op, DONE, f"finished the interrupted unarchive of {name}")
        repo.run("worktree", "prune")
        if path.exists() and head is None:  # a checkout cut short (the path was free when it began)
            finish_removal(repo, path)
        self.operations.finish(op, ROLLED_BACK)
        return Outcome(op, ROLLED_BACK, f"undid the unfinished unarchive of {name} (it is still archived)")

    # -- delete ---------------------------------------------------------------------------------

    def at_risk(self, rec: SessionRecord, repo: GitRepo, included: list[str] | None = None) -> list[str]:
        """What deleting the session would lose: uncommitted files, unique commits, a snapshot.

        ``included`` is the worktree's :func:`included_work` when the caller has it already.
        """
        risks: list[str] = []
        if not rec.archived and read_head(rec.worktree_path) is not None:
            changed = len(repo.status_porcelain(rec.worktree_path).splitlines())
            if changed:
                risks.append(f"{changed} uncommitted file(s)")
            if included is None:
                ws = self.store.workspace(rec.workspace_id)
                included = included_work(repo, ws.path, rec.worktree_path) if ws else []
            if included:
                risks.append(f"{len(included)} changed file(s) named in .worktreeinclude")
        if repo.branch_exists(rec.branch):
            unique = repo.unique_commits(rec.branch)
            if unique:
                risks.append(f"{unique} commit(s) on no other branch or remote")
        if rec.snapshot_ref and repo.resolve(rec.snapshot_ref):
            risks.append("archived uncommitted work")
        return risks

    def delete(self, session_id: str, force: bool = False) -> str | None:
        """Delete worktree, branch and record; refuse when work would be lost unless ``force``.

        With ``force``, the work is kept under ``refs/chatml/snapshots/<id>/deleted-…`` until
        :meth:`gc` removes it. Returns that ref (or None when nothing needed keeping).
        """
        self.operations.settle(session_id)
        if self.store.session(session_id) is None:
            done = self.operations.last_done(session_id, "delete", settled=True)
            if done is not None:
                return done.plan.get("keep")  # the delete a killed process began is done
        rec = self.records.reconcile(self.records.get(session_id))  # a worktree moved by hand: look there
        ws = self.workspaces.get(rec.workspace_id)
        repo = self.workspaces.repo(ws)
        self.agents.quiesce(rec.id, force=force, action="delete")
        live = not rec.archived and read_head(rec.worktree_path) is not None
        included = included_work(repo, ws.path, rec.worktree_path) if live else []
        risks = self.at_risk(rec, repo, included)
        if risks and not force:
            raise WorkWouldBeLostError(
                f"deleting {rec.name!r} would lose {', '.join(risks)}: archive it, push the branch,"
                f" or delete with {option('force')} (keeps a snapshot ref until gc)"
            )
        with repo.lock():
            self._recheck(rec, "deleted")
            keep = snapshot_ref(rec.id, "deleted") if risks else None
            plan = {"path": str(rec.worktree_path), "branch": rec.branch, "snapshot_ref": rec.snapshot_ref,
                    "worktree": live, "keep": keep}  # fmt: skip
            op = self.operations.begin("delete", rec.id, ws.id, rec.name, plan)
            with self.operations.running(op, repo):
                if keep:
                    tip = self._keep_tip(repo, rec, included if live else None)
                    if tip is None:
                        keep = None
                    else:
                        repo.create_ref(keep, tip)
                op = self.operations.step(op, "removing", keep=keep)
                self._remove(op, repo)
        return keep

    def _keep_tip(self, repo: GitRepo, rec: SessionRecord, included: list[str] | None) -> str | None:
        """One commit reaching all of the session's work: the live worktree's snapshot (or HEAD)
        with its ``included`` files, the branch tip and the archived snapshot, joined when none
        contains the others.
        """
        found: list[str] = []
        if included is not None:
            found.append(
                repo.snapshot(rec.worktree_path, included)
                or repo.run("rev-parse", "HEAD", cwd=rec.worktree_path).strip()
            )
        for ref in (f"refs/heads/{rec.branch}", rec.snapshot_ref):
            sha = repo.resolve(ref) if ref else None
            if sha:
                found.append(sha)
        tips: list[str] = []
        for sha in found:
            if sha not in tips and not any(repo.is_ancestor(sha, other) for other in found if other != sha):
                tips.append(sha)
        if not tips:
            return None
        return (
            tips[0]
            if len(tips) == 1
            else repo.join_commits(tips, f"chatml: the work of deleted session {rec.name}")
        )

    def _remove(self, op: Operation, repo: GitRepo) -> None:
        """The irreversible part of a delete: worktree, branch, row (each step safe to repeat)."""
        if op.plan["worktree"]:
            finish_removal(repo, Path(op.plan["path"]))
        else:
            repo.run("worktree", "prune")
        if repo.branch_exists(op.plan["branch"]):
            repo.delete_branch(op.plan["branch"])
        self.operations.finish(op, DONE, delete_session=True)

    def _settle_delete(self, op: Operation, repo: GitRepo, root: Path) -> Outcome:
        name, keep = op.session_name, op.plan.get("keep")
        if op.step == "planned":
            self.operations.finish(op, ROLLED_BACK, redundant=self._redundant(op, repo, root, keep))
            return Outcome(op, ROLLED_BACK, f"undid the unfinished delete of {name} (nothing was removed)")
        self._remove(op, repo)
        kept = f"; its work is kept in {keep} until `chatml gc`" if keep else ""
        return Outcome(op, DONE, f"finished the interrupted delete of {name}{kept}")
