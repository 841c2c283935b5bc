"""Garbage collection: orphan worktrees, worktrees deleted by hand, stale snapshot refs."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import GitError
from ..gitops.repo import GitRepo
from ..models import GcReport, SummaryState
from ..storage.store import Store
from .archiver import SNAPSHOT_NS
from .records import Records
from .settings import Settings
from .workspaces import Workspaces
from .worktrees import read_head


def _is_under(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return True


class Collector:
    """Reports, and unless a dry run cleans, what no session accounts for."""

    def __init__(self, store: Store, records: Records, workspaces: Workspaces, settings: Settings) -> None:
        self.store = store
        self.records = records
        self.workspaces = workspaces
        self.settings = settings

    def gc(self, dry_run: bool = True) -> GcReport:
        """Find orphan worktrees, missing worktrees and stale snapshot refs; clean them unless dry."""
        report = GcReport(dry_run=dry_run)
        known_ids = {s.id for s in self.store.sessions(include_archived=True)}
        for ws in self.workspaces.all():
            try:
                repo = GitRepo(ws.path)
            except GitError as exc:
                report.actions.append(f"skipped workspace {ws.name}: {exc}")
                continue
            records = self.store.sessions(include_archived=True, workspace_id=ws.id)
            # git records real paths; a record may name the same place through a symlink.
            paths = {rec.worktree_path.resolve() for rec in records}
            base = self.settings.workspaces_dir / ws.name
            for entry in repo.worktrees()[1:]:
                if entry.path.resolve() in paths:
                    continue
                if entry.prunable or not entry.path.exists():
                    report.half_made.append(str(entry.path))
                    if not dry_run:
                        repo.run("worktree", "prune")
                        report.actions.append(f"pruned git's record of {entry.path}")
                    continue
                if _is_under(entry.path, base):
                    report.orphan_worktrees.append(entry.path)
                    if not dry_run:
                        report.actions.append(self._collect_orphan(repo, entry.path))
            for rec in records:
                if rec.archived:
                    continue
                rec = self.records.reconcile(rec)
                if read_head(rec.worktree_path) is None:
                    report.missing_worktrees.append(rec.name)
                    if not dry_run:
                        with repo.lock():
                            repo.run("worktree", "prune")
                        self.store.update_session(
                            rec.id, archived=1, health="ok", archive_summary_state=SummaryState.COMPLETED.value,
                            archive_summary="Worktree was deleted by hand; the branch is kept. Unarchive to recreate it.",
                        )  # fmt: skip
                        report.actions.append(
                            f"archived {rec.name} (worktree gone, branch {rec.branch} kept)"
                        )
            for ref in repo.refs(SNAPSHOT_NS):
                parts = ref.removeprefix(SNAPSHOT_NS + "/").split("/")
                stale = parts[0] not in known_ids or parts[-1].startswith("restored-")
                if stale:
                    report.stale_snapshot_refs.append(ref)
                    if not dry_run:
                        repo.delete_ref(ref)
                        report.actions.append(f"deleted {ref}")
        return report

    def _collect_orphan(self, repo: GitRepo, path: Path) -> str:
        with repo.lock():
            snapshot = repo.snapshot(path)
            note = ""
            if snapshot:
                ref = f"refs/chatml/orphans/{path.name}-{int(time.time())}"
                repo.update_ref(ref, snapshot)
                note = f", its changes kept in {ref}"
            repo.remove_worktree(path)
        return f"removed orphan worktree {path}{note} (its branch is kept)"
