"""Garbage collection: orphan worktrees and branches, worktrees deleted by hand, snapshot refs.

Before anything, gc settles the operations killed processes left open (DESIGN §7). It never
touches what an open operation plans to use, never deletes a branch with commits of its own, and
deletes a snapshot ref only when its work is verifiably elsewhere: its session was deleted (the
user's explicit choice), or the operation that superseded it checked that every byte was put
back, or the live worktree holds the same files on a history containing the snapshot's base.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ChatMLError
from ..gitops.repo import GitRepo
from ..models import GcReport, SessionRecord, SummaryState, Workspace
from ..storage.operations import Operation
from ..storage.store import Store
from .operations import Operations, describe
from .records import Records
from .settings import Settings
from .snapshots import SNAPSHOT_NS, held_elsewhere, session_of
from .workspaces import Workspaces
from .worktrees import read_head


def _is_under(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return True


def _planned(ops: list[Operation]) -> set[str]:
    """Every path, branch and ref an open operation names."""
    keys = ("path", "branch", "old_branch", "ref", "keep", "snapshot_ref")
    return {str(op.plan[key]) for op in ops for key in keys if op.plan.get(key)}


class Collector:
    """Reports, and unless a dry run cleans, what no session accounts for."""

    def __init__(
        self,
        store: Store,
        records: Records,
        workspaces: Workspaces,
        settings: Settings,
        operations: Operations,
    ) -> None:
        self.store = store
        self.records = records
        self.workspaces = workspaces
        self.settings = settings
        self.operations = operations

    def gc(self, dry_run: bool = True) -> GcReport:
        """Find orphan worktrees and branches, missing worktrees and stale snapshot refs; clean
        them unless ``dry_run``.
        """
        report = GcReport(dry_run=dry_run)
        owners = self.records.owners  # others' sessions and workspaces are theirs to clean
        for outcome in self.operations.settle_all():
            report.notes.append(outcome.message)
        pending = self.store.open_operations()
        for op in pending:
            report.notes.append(f"session {op.session_name}: {describe(op)}")
        busy = {op.session_id for op in pending}
        planned = _planned(pending)
        known = {s.id: s for s in self.store.sessions(include_archived=True)}
        redundant = {
            str(ref)
            for op in self.store.operations()
            if not op.is_open
            for ref in op.plan.get("redundant", [])
        }
        for ws in self.workspaces.here():  # another machine's worktrees are its own gc's
            try:
                repo = self.workspaces.repo(ws)
            except ChatMLError as exc:
                report.notes.append(f"skipped workspace {ws.name}: {exc}")
                report.actions.append(f"skipped workspace {ws.name}: {exc}")
                continue
            records = [rec for rec in known.values() if rec.workspace_id == ws.id]
            mine = records if owners is None else owners.writable(records)
            # The repository's leftovers are its owner's to collect, others' sessions theirs.
            own_repo = owners is None or ws.owner in (owners.user, "")
            if own_repo:
                self._worktrees(report, repo, ws, records, planned)
            self._missing(report, repo, [rec for rec in mine if rec.id not in busy])
            if own_repo:
                self._branches(report, repo, ws, records, planned)
                self._snapshots(report, repo, ws, known, planned, redundant)
        return report

    def _worktrees(
        self, report: GcReport, repo: GitRepo, ws: Workspace, records: list[SessionRecord], planned: set[str]
    ) -> None:
        # git records real paths; a record may name the same place through a symlink.
        paths = {rec.worktree_path.resolve() for rec in records}
        paths |= {Path(p).resolve() for p in planned if p.startswith("/")}
        base = self.settings.workspaces_dir / ws.name
        for entry in repo.worktrees()[1:]:
            if entry.path.resolve() in paths:
                continue
            if entry.prunable or not entry.path.exists():
                report.half_made.append(str(entry.path))
                if not report.dry_run:
                    with repo.lock():
                        repo.run("worktree", "prune")
                    report.actions.append(f"pruned git's record of {entry.path}")
                continue
            if _is_under(entry.path, base):
                report.orphan_worktrees.append(entry.path)
                if not report.dry_run:
                    report.actions.append(self._collect_orphan(repo, entry.path))

    def _missing(self, report: GcReport, repo: GitRepo, records: list[SessionRecord]) -> None:
        for rec in records:
            if rec.archived:
                continue
            rec = self.records.reconcile(rec)
            if read_head(rec.worktree_path) is not None:
                continue
            report.missing_worktrees.append(rec.name)
            if not report.dry_run:
                with repo.lock():
                    repo.run("worktree", "prune")
                self.store.update_session(
                    rec.id, archived=1, health="ok", archive_summary_state=SummaryState.COMPLETED.value,
                    archive_summary="Worktree was deleted by hand; the branch is kept. Unarchive to recreate it.",
                )  # fmt: skip
                report.actions.append(f"archived {rec.name} (worktree gone, branch {rec.branch} kept)")

    def _branches(
        self, report: GcReport, repo: GitRepo, ws: Workspace, records: list[SessionRecord], planned: set[str]
    ) -> None:
        """Branches with the session prefix that no session uses: deleted when they hold nothing
        that is not on another branch, a remote or a tag; kept, and said so, otherwise.
        """
        prefix = self.settings.prefix_for(ws)
        if not prefix:  # without a prefix, a session's branch looks like any of the user's
            return
        used = {rec.branch for rec in records} | planned
        used |= {entry.branch for entry in repo.worktrees() if entry.branch}
        for ref in sorted(repo.refs(f"refs/heads/{prefix}/")):
            branch = ref.removeprefix("refs/heads/")
            if branch in used:
                continue
            unique = repo.unique_commits(branch)
            if unique:
                report.notes.append(
                    f"kept branch {branch} of no session: {unique} commit(s) on no other branch"
                    f" (merge or push them, or `git branch -D {branch}`)"
                )
                continue
            report.orphan_branches.append(branch)
            if not report.dry_run:
                with repo.lock():
                    if repo.branch_exists(branch) and repo.unique_commits(branch) == 0:
                        repo.delete_branch(branch)
                        report.actions.append(f"deleted branch {branch} (no session, every commit elsewhere)")

    def _snapshots(
        self,
        report: GcReport,
        repo: GitRepo,
        ws: Workspace,
        known: dict[str, SessionRecord],
        planned: set[str],
        redundant: set[str],
    ) -> None:
        referenced = {rec.snapshot_ref for rec in known.values() if rec.snapshot_ref}
        for ref, sha in repo.refs(SNAPSHOT_NS).items():
            if ref in referenced or ref in planned:
                continue
            rec = known.get(session_of(ref))
            if rec is not None and rec.workspace_id != ws.id:
                continue
            if rec is None or ref in redundant or held_elsewhere(repo, ws.path, rec, sha):
                report.stale_snapshot_refs.append(ref)
                if not report.dry_run:
                    with repo.lock():
                        repo.delete_ref(ref)
                    report.actions.append(f"deleted {ref}")
            else:
                report.notes.append(
                    f"kept {ref}: work of session {rec.name} that is in no worktree or branch"
                    f" (see it with `git show --stat {sha[:12]}`; `git update-ref -d {ref}` drops it)"
                )

    def _collect_orphan(self, repo: GitRepo, path: Path) -> str:
        with repo.lock():
            snapshot = repo.snapshot(path)
            note = ""
            if snapshot:
                ref = f"refs/chatml/orphans/{path.name}-{int(time.time())}"
                repo.create_ref(ref, snapshot)
                note = f", its changes kept in {ref}"
            repo.remove_worktree(path)
        return f"removed orphan worktree {path}{note} (its branch is kept)"
