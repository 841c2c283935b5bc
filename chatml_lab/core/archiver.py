"""Archive, unarchive and delete: the "never lose work" policy of DESIGN §4.

No ``git stash`` (the stash is shared by every worktree): uncommitted work goes into a snapshot
commit on a private ref under ``refs/chatml/snapshots/<session id>/``, made with a scratch index
so neither the worktree nor its index is touched. Delete refuses when work would be lost unless
forced, and a forced delete still keeps a ref until an explicit :meth:`ChatML.gc`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..errors import (
    GitError,
    SessionError,
    SessionNotArchivedError,
    WorktreeMissingError,
    WorkWouldBeLostError,
)
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import SessionRecord, SummaryState
from ..storage.store import Store
from .records import Records, TaskConversations
from .scripts import ScriptRunner
from .summary import fallback_summary
from .workspaces import Workspaces
from .worktrees import copy_included, included_work, read_head

SNAPSHOT_NS = "refs/chatml/snapshots"


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
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self.records = records
        self.workspaces = workspaces
        self.agents = agents
        self.scripts = script_runner
        self.progress = progress

    def archive(self, session_id: str, force: bool = False) -> SessionRecord:
        """Snapshot uncommitted work into a private ref, remove the worktree, keep branch and record."""
        rec, ws, repo = self.records.live(session_id, "archive it again")
        self.agents.quiesce(rec.id, force=force, action="archive")
        task = self.agents.conversation(rec.id).id
        snapshot_ref = None
        if read_head(rec.worktree_path) is not None:
            busy = repo.operation_in_progress(rec.worktree_path)
            if busy:  # a snapshot cannot hold it: unmerged entries, MERGE_HEAD, rebase state
                raise WorkWouldBeLostError(
                    f"a {busy} is in progress in session {rec.name!r}: finish or abort it, then archive"
                )
            failed = self.scripts.run("archive", rec, ws, task, stop_at_failure=not force)
            if failed is not None and not force:
                raise SessionError(
                    f"archive script {failed.script.name!r} exited {failed.exit_code}: fix it or archive with force"
                )
            summary = fallback_summary(repo, rec, repo.status_porcelain(rec.worktree_path))
            with repo.lock():
                extra = included_work(repo, ws.path, rec.worktree_path)
                snapshot = repo.snapshot(rec.worktree_path, extra)
                if snapshot:
                    snapshot_ref = f"{SNAPSHOT_NS}/{rec.id}/archive"
                    repo.update_ref(snapshot_ref, snapshot)
                repo.remove_worktree(rec.worktree_path)
        else:
            summary = fallback_summary(repo, rec, None)
        self.store.update_session(
            rec.id, archived=1, snapshot_ref=snapshot_ref, archive_summary=summary,
            archive_summary_state=SummaryState.GENERATING.value, ahead=None, behind=None, health="ok",
        )  # fmt: skip
        self._write_summary(rec.id, summary, task)
        return self.records.get(rec.id)

    def _write_summary(self, session_id: str, facts: str, conversation: str) -> None:
        """The archive summary: a model's when a key is configured, else the facts from git."""
        from ..agents.helpers import api_configured, summarize_session
        from .summary import transcript_text

        self.progress("writing the archive summary")
        text, source = summarize_session(transcript_text(self.store, session_id), facts)
        state = SummaryState.FAILED if source != "model" and api_configured() else SummaryState.COMPLETED
        self.store.update_session(session_id, archive_summary=text, archive_summary_state=state.value)
        self.store.append_event(conversation, EventType.ARCHIVE_SUMMARY, {"summary": text, "source": source})

    def unarchive(self, session_id: str) -> SessionRecord:
        """Recreate the worktree at the same path on the kept branch and restore the snapshot."""
        rec = self.records.get(session_id)
        if not rec.archived:
            raise SessionNotArchivedError(f"session {rec.name!r} is not archived")
        ws = self.workspaces.get(rec.workspace_id)
        repo = GitRepo(ws.path)
        path = rec.worktree_path
        if path.exists() and any(path.iterdir()):
            raise WorktreeMissingError(
                f"{path} is in the way (not empty): move it aside, then unarchive {rec.name!r} again"
            )
        snapshot = repo.resolve(rec.snapshot_ref) if rec.snapshot_ref else None
        with repo.lock():
            if path.exists():
                path.rmdir()
            # A worktree deleted by hand is still registered until pruned; `worktree add` refuses it.
            repo.run("worktree", "prune")
            if repo.branch_exists(rec.branch):
                repo.attach_worktree(path, rec.branch)
            elif snapshot:
                repo.add_worktree(path, rec.branch, f"{snapshot}^1")
            else:
                raise GitError(
                    f"branch {rec.branch!r} of session {rec.name!r} is gone and no snapshot holds it"
                )
            try:
                copy_included(repo, ws.path, path)
                if snapshot and rec.snapshot_ref:
                    repo.restore(path, snapshot)
                    repo.update_ref(f"{SNAPSHOT_NS}/{rec.id}/restored-{int(time.time())}", snapshot)
                    repo.delete_ref(rec.snapshot_ref)
            except BaseException:
                repo.remove_worktree(path)
                raise
        self.store.update_session(rec.id, archived=0, snapshot_ref=None, health="ok")
        return self.records.reconcile(self.records.get(rec.id))

    def at_risk(self, rec: SessionRecord, repo: GitRepo) -> list[str]:
        """What deleting the session would lose: uncommitted files, unique commits, a snapshot."""
        risks: list[str] = []
        if not rec.archived and read_head(rec.worktree_path) is not None:
            changed = len(repo.status_porcelain(rec.worktree_path).splitlines())
            if changed:
                risks.append(f"{changed} uncommitted file(s)")
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

        With ``force``, the work is kept under ``refs/chatml/snapshots/<id>/deleted`` until
        :meth:`gc` removes it. Returns that ref (or None when nothing needed keeping).
        """
        rec = self.records.reconcile(self.records.get(session_id))  # a worktree moved by hand: look there
        ws = self.workspaces.get(rec.workspace_id)
        repo = GitRepo(ws.path)
        self.agents.quiesce(rec.id, force=force, action="delete")
        risks = self.at_risk(rec, repo)
        if risks and not force:
            raise WorkWouldBeLostError(
                f"deleting {rec.name!r} would lose {', '.join(risks)}: archive it, push the branch,"
                " or delete with force (keeps a snapshot ref until gc)"
            )
        kept: str | None = None
        with repo.lock():
            if risks:
                kept = f"{SNAPSHOT_NS}/{rec.id}/deleted"
                tip: str | None = None
                if not rec.archived and read_head(rec.worktree_path) is not None:
                    extra = included_work(repo, ws.path, rec.worktree_path)
                    tip = repo.snapshot(rec.worktree_path, extra)
                if tip is None and rec.snapshot_ref:
                    tip = repo.resolve(rec.snapshot_ref)
                if tip is None:
                    tip = repo.resolve(f"refs/heads/{rec.branch}")
                if tip is None:
                    kept = None
                else:
                    repo.update_ref(kept, tip)
            if not rec.archived:
                repo.remove_worktree(rec.worktree_path)
            if rec.snapshot_ref and repo.resolve(rec.snapshot_ref):
                repo.delete_ref(rec.snapshot_ref)
            if repo.branch_exists(rec.branch):
                repo.delete_branch(rec.branch)
        self.store.delete_session(rec.id)
        return kept
