"""The session manager: the one API every UI (CLI, magics, widgets, server) uses.

It owns policy (DESIGN §4): where worktrees go, how names are chosen, what may be thrown away.
Git work goes through :mod:`chatml_lab.gitops`, rows through :mod:`chatml_lab.storage`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, default_data_dir
from ..errors import (
    AmbiguousSessionError,
    GitError,
    InvalidNameError,
    SessionArchivedError,
    SessionExistsError,
    SessionNotFoundError,
)
from ..gitops.repo import GitRepo
from ..models import (
    GcReport,
    PermissionMode,
    Priority,
    SessionChanges,
    SessionRecord,
    TaskStatus,
    Workspace,
)
from ..storage.store import Store
from . import naming
from .archiver import Archiver
from .collector import Collector
from .creator import Creator, NewSession
from .records import Records
from .scripts import ScriptRunner
from .settings import Settings
from .workspaces import Workspaces
from .worktrees import disk_usage, read_head

if TYPE_CHECKING:
    import pandas

    from .session import Session

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """Default progress sink."""


class ChatML:
    """Workspaces and sessions: create, list, update, sync, archive, restore, delete, collect.

    ``ChatML()`` uses ``$CHATML_DATA_DIR`` or the platform data dir; pass ``data_dir`` to choose.
    The work is done by small collaborators that each get only what they use: settings,
    workspaces, records (reconciled with git), creator, archiver, collector and the agents.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        config: Config | None = None,
        progress: Progress | None = None,
    ) -> None:
        # Absolute: git runs in the repository, and a relative path would land inside it.
        self.data_dir = (Path(data_dir).expanduser() if data_dir else default_data_dir()).absolute()
        self.config = config or Config()
        self.progress: Progress = progress or _quiet
        self.store = Store(self.data_dir / "state" / "chatml.db")
        from .agents import AgentControl

        self.agents = AgentControl(self)
        report = self._report  # collaborators keep this, so a UI may swap ``progress`` at any time
        self._settings = Settings(self.store, self.data_dir)
        self._workspaces = Workspaces(self.store, self.config, report)
        self.records = Records(self.store, self._workspaces, self.agents)
        scripts = ScriptRunner(self.store, self.config.script_timeout, report)
        self.creator = Creator(self.store, self.config, self._settings, self._workspaces, scripts, report)
        self.archiver = Archiver(self.store, self.records, self._workspaces, self.agents, scripts, report)
        self.collector = Collector(self.store, self.records, self._workspaces, self._settings)
        self.agents.reconcile()

    def _report(self, step: str) -> None:
        self.progress(step)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> ChatML:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings -------------------------------------------------------------------------------

    @property
    def workspaces_dir(self) -> Path:
        """Base directory of worktrees: ``$CHATML_WORKSPACES_DIR``, the setting, or ``<data>/workspaces``."""
        return self._settings.workspaces_dir

    @property
    def branch_prefix(self) -> str:
        """Global branch prefix (``""`` means none)."""
        return self._settings.branch_prefix

    def settings(self) -> dict[str, str]:
        """Effective settings and where the data lives."""
        return self._settings.effective()

    def set_setting(self, key: str, value: str | None) -> None:
        """Set ``workspaces_dir`` or ``branch_prefix`` (None restores the default)."""
        self._settings.set(key, value)

    # -- workspaces -----------------------------------------------------------------------------

    def add_workspace(self, path: Path | str, name: str | None = None) -> Workspace:
        """Register a git repository (non-bare, with a commit); the repository is not changed."""
        return self._workspaces.add(path, name)

    def workspaces(self) -> list[Workspace]:
        """Registered workspaces by name."""
        return self._workspaces.all()

    def workspace(self, key: str | Path) -> Workspace:
        """A workspace by id, name or path (a path inside the repository works too)."""
        return self._workspaces.get(key)

    def remove_workspace(self, key: str | Path, force: bool = False) -> None:
        """Forget a workspace. Its repository, worktrees and branches stay on disk."""
        self._workspaces.remove(key, force=force)

    # -- sessions: create -----------------------------------------------------------------------

    def new_session(
        self,
        repo_or_workspace: Workspace | str | Path | None = None,
        name: str | None = None,
        prompt: str | None = None,
        base: str | None = None,
        priority: Priority | str | None = None,
        from_pr: int | None = None,
        agent: str | None = None,
        model: str | None = None,
        permission_mode: PermissionMode | str | None = None,
        agent_options: dict[str, Any] | None = None,
    ) -> Session:
        """Create a session: fetch, worktree + branch from ``origin/<default>``, setup scripts.

        Every step is undone when a later one fails, so a failed call leaves no worktree,
        branch or row behind. A prompt starts the agent at once. ``agent`` names a backend
        (``anthropic``, ``claude-code``, ``scripted``; ``scripted:PATH`` gives the script).
        """
        if prompt:
            self.agents.prewarm()  # the runner host imports the SDK while the worktree is made
        rec = self.creator.create(NewSession(
            workspace=repo_or_workspace, name=name, prompt=prompt, base=base, priority=priority,
            from_pr=from_pr, agent=agent, model=model, permission_mode=permission_mode,
            agent_options=agent_options,
        ))  # fmt: skip
        session = self._handle(rec.id)
        if prompt:
            session.send(prompt)
        return session

    # -- sessions: find -------------------------------------------------------------------------

    def _handle(self, session_id: str) -> Session:
        from .session import Session

        return Session(self, session_id)

    def record(self, session_id: str) -> SessionRecord:
        """The stored record of a session (raises when it was deleted)."""
        return self.records.get(session_id)

    def session(self, name_or_id: str, workspace: str | None = None) -> Session:
        """A session by name, id or id prefix (8+ characters)."""
        found = self.store.sessions_named(name_or_id)
        if workspace is not None:
            ws = self.workspace(workspace)
            found = [s for s in found if s.workspace_id == ws.id]
        if not found:
            raise SessionNotFoundError(
                f"no session named {name_or_id!r}: see `chatml list --all` for the names"
            )
        if len(found) > 1:
            names = sorted(f"{self._workspaces.name_of(s.workspace_id)} (id {s.id[:8]})" for s in found)
            raise AmbiguousSessionError(
                f"{name_or_id!r} names sessions in workspaces {', '.join(names)}: pass the workspace or an id"
            )
        return self._handle(found[0].id)

    def sessions(self, include_archived: bool = False) -> list[Session]:
        """Sessions, oldest first (reconciled with git)."""
        return [self._handle(rec.id) for rec in self.records.reconciled(include_archived)]

    def reconcile(self, rec: SessionRecord) -> SessionRecord:
        """Compare a record with git and record what was changed by hand (no exception)."""
        return self.records.reconcile(rec)

    # -- sessions: operations (the Session handle delegates here) -------------------------------

    def live(self, session_id: str, action: str) -> tuple[SessionRecord, Workspace, GitRepo]:
        """A reconciled, unarchived record with its workspace and repository (see :class:`Records`)."""
        return self.records.live(session_id, action)

    def update(
        self,
        session_id: str,
        priority: Priority | str | None = None,
        task_status: TaskStatus | str | None = None,
        pinned: bool | None = None,
        name: str | None = None,
    ) -> SessionRecord:
        """Change priority, task status, pin, or name (the branch follows while it is unpushed)."""
        rec = self.record(session_id)
        changes: SessionChanges = {}
        if priority is not None:
            changes["priority"] = Priority.parse(priority).value
        if task_status is not None:
            changes["task_status"] = TaskStatus.parse(task_status).value
        if pinned is not None:
            changes["pinned"] = bool(pinned)
        if name is not None and naming.slugify(name) != rec.name:
            if rec.archived:
                raise SessionArchivedError(f"session {rec.name!r} is archived: unarchive it to rename it")
            changes.update(self._rename(rec, naming.slugify(name)))
        if changes:
            self.store.update_session(session_id, **changes)
        return self.record(session_id)

    def _rename(self, rec: SessionRecord, new: str) -> SessionChanges:
        ws = self.workspace(rec.workspace_id)
        repo = GitRepo(ws.path)
        if any(s.name == new for s in self.store.sessions(True, ws.id)):
            raise SessionExistsError(f"session name {new!r} is taken in workspace {ws.name!r}")
        pushed = bool(ws.remote and repo.resolve(f"refs/remotes/{ws.remote}/{rec.branch}"))
        if pushed:
            return {"name": new}
        prefix = rec.branch.rsplit("/", 1)[0] + "/" if "/" in rec.branch else ""
        branch = prefix + new
        if not repo.valid_branch_name(branch):
            raise InvalidNameError(f"git refuses {branch!r} as a branch name: choose another")
        with repo.lock():
            if repo.branch_exists(branch):
                raise SessionExistsError(f"branch {branch!r} already exists: choose another name")
            repo.rename_branch(rec.branch, branch)
        return {"name": new, "branch": branch}

    def sync(self, session_id: str, fetch: bool = True) -> SessionRecord:
        """Fetch (throttled) and store ahead/behind against ``origin/<default>``."""
        rec, ws, repo = self.records.live(session_id, "sync it")
        error = self._workspaces.fetch(repo, ws, force=False) if fetch else None
        if error:
            warning = (
                f"warning: fetch of {ws.remote} failed, drift of {rec.name} counted from local refs ({error})"
            )
            self.progress(warning)
            self.records.notice(rec.id, warning)
        upstream = self._workspaces.upstream(repo, ws)
        if not repo.branch_exists(rec.branch):
            raise GitError(f"branch {rec.branch!r} of session {rec.name!r} no longer exists")
        ahead, behind = repo.ahead_behind(upstream, rec.branch)
        self.store.update_session(rec.id, ahead=ahead, behind=behind, drift_checked_at=time.time(),
                                  updated_at=rec.updated_at)  # fmt: skip
        return self.record(rec.id)

    def sync_all(self) -> list[SessionRecord]:
        """Sync every live session: per workspace one throttled fetch, then every count in one pass.

        The counts run in-process (:meth:`GitRepo.drift`) and land in one transaction, so a
        hundred sessions cost one fetch and no git process per session.
        """
        live: dict[str, list[SessionRecord]] = {}
        for rec in self.records.reconciled(include_archived=False):
            if read_head(rec.worktree_path) is not None:
                live.setdefault(rec.workspace_id, []).append(rec)
        synced: set[str] = set()
        for workspace_id, recs in live.items():
            ws = self._workspaces.get(workspace_id)
            repo = GitRepo(ws.path)
            error = self._workspaces.fetch(repo, ws, force=False)
            if error:
                self.progress(f"warning: fetch of {ws.remote} failed, drift in {ws.name} counted from local refs"
                              f" ({error})")  # fmt: skip
                for rec in recs:
                    self.records.notice(rec.id, f"warning: fetch of {ws.remote} failed, drift of {rec.name}"
                                        f" counted from local refs ({error})")  # fmt: skip
            counts = repo.drift(self._workspaces.upstream(repo, ws), [rec.branch for rec in recs])
            found: list[tuple[str, int, int]] = []
            for rec in recs:
                count = counts[rec.branch]
                if count is None:
                    self.progress(f"warning: branch {rec.branch!r} of session {rec.name!r} no longer exists")
                    continue
                found.append((rec.id, *count))
            self.store.set_drift(found, time.time())
            synced.update(rec_id for rec_id, _, _ in found)
        return [rec for rec in self.store.sessions() if rec.id in synced]

    def archive(self, session_id: str, force: bool = False) -> SessionRecord:
        """Snapshot uncommitted work into a private ref, remove the worktree, keep branch and record."""
        return self.archiver.archive(session_id, force=force)

    def unarchive(self, session_id: str) -> SessionRecord:
        """Recreate the worktree at the same path on the kept branch and restore the snapshot."""
        return self.archiver.unarchive(session_id)

    def at_risk(self, rec: SessionRecord, repo: GitRepo) -> list[str]:
        """What deleting the session would lose: uncommitted files, unique commits, a snapshot."""
        return self.archiver.at_risk(rec, repo)

    def delete(self, session_id: str, force: bool = False) -> str | None:
        """Delete worktree, branch and record; refuse when work would be lost unless ``force``.

        With ``force`` the work is kept under ``refs/chatml/snapshots/<id>/deleted`` until
        :meth:`gc` removes it. Returns that ref (or None when nothing needed keeping).
        """
        return self.archiver.delete(session_id, force=force)

    def disk_usage(self, session_id: str) -> int:
        """Bytes the session's worktree takes on disk (0 when archived)."""
        return disk_usage(self.record(session_id).worktree_path)

    # -- garbage collection ---------------------------------------------------------------------

    def gc(self, dry_run: bool = True) -> GcReport:
        """Find orphan worktrees, missing worktrees and stale snapshot refs; clean them unless dry."""
        return self.collector.gc(dry_run=dry_run)

    # -- tables ---------------------------------------------------------------------------------

    def table(self, include_archived: bool = False) -> pandas.DataFrame:
        """The session table, pinned first, then by priority (urgent first), then most recent."""
        from .table import session_table

        return session_table(self, include_archived=include_archived)

    def rows(self, include_archived: bool = False) -> list[dict[str, Any]]:
        """The table's rows as plain dicts (what ``--json`` prints), already sorted.

        A constant number of queries whatever the number of sessions: workspaces, sessions and
        every task conversation's state with its lease (git is read from the worktrees' files).
        """
        names = {ws.id: ws.name for ws in self.workspaces()}
        records = self.records.reconciled(include_archived)
        states = self.agents.session_states([rec.id for rec in records])
        rows: list[dict[str, Any]] = []
        for rec in records:
            rows.append({
                "name": rec.name, "workspace": names.get(rec.workspace_id, "?"),
                "priority": rec.priority.value, "task_status": rec.task_status.value,
                "pinned": rec.pinned, "pr_status": rec.pr_status.value, "branch": rec.branch,
                "ahead": rec.ahead, "behind": rec.behind, "agent_state": states[rec.id].value,
                "cost_usd": rec.cost_usd, "updated_at": rec.updated_at, "archived": rec.archived,
                "health": rec.health, "id": rec.id,
            })  # fmt: skip
        rank = {p.value: p.rank for p in Priority}
        rows.sort(key=lambda r: (not r["pinned"], rank[str(r["priority"])], -float(r["updated_at"])))
        return rows

    def agent_state(self, session_id: str) -> str:
        """The task conversation's agent state (``crashed`` when its runner died)."""
        return self.agents.session_state(session_id).value
