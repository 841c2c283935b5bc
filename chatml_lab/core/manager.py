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
    ConfigError,
    GitError,
    NotOwnerError,
    OperationInProgressError,
    RowGoneError,
    SessionArchivedError,
    SessionNotFoundError,
    StoreUnwritableError,
    WorkspaceRepositoryMissingError,
    WorktreeMissingError,
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
from ..storage.location import open_store
from . import naming
from .archiver import Archiver
from .collector import Collector
from .creator import Creator, NewSession
from .machines import Machines, register
from .operations import Operations
from .owners import Owners
from .records import Records
from .remote import Remote, on_its_machine
from .renamer import Renamer
from .scripts import ScriptRunner
from .settings import Settings
from .ship_facade import ShipFacade
from .workspaces import Workspaces
from .worktrees import disk_usage, read_head

if TYPE_CHECKING:
    import pandas

    from .session import Session

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """Default progress sink."""


class ChatML(ShipFacade):
    """Workspaces and sessions: create, list, update, sync, archive, restore, delete, collect.

    ``ChatML()`` uses ``$CHATML_DATA_DIR`` or the platform data dir; pass ``data_dir`` to choose.
    The work is done by small collaborators that each get only what they use: settings,
    workspaces, records (reconciled with git), creator, archiver, collector and the agents.
    Push, pull requests, branch sync and the conflict forecast come from :class:`ShipFacade`.
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
        self.store = open_store(self.config, self.data_dir)
        register(self.store, self.config)  # before any write: rows carry this machine's name
        self.machines = Machines(self.store, self.config)
        self.remote = Remote(self)
        #: Who may change which session (:attr:`Config.user` acts); sharing.
        self.owners = Owners(self.store, self.config.user)
        self._check_role()
        from .agents import AgentControl

        self.agents = AgentControl(self)
        report = self._report  # collaborators keep this, so a UI may swap ``progress`` at any time
        self._settings = Settings(self.store, self.data_dir)
        self._workspaces = Workspaces(self.store, self.config, report)
        self.records = Records(self.store, self._workspaces, self.agents, self.owners)
        scripts = ScriptRunner(self.store, self.config.script_timeout, report)
        self.operations = Operations(self.store, self._workspaces, report, self.owners)
        self.creator = Creator(
            self.store, self.config, self._settings, self._workspaces, scripts, self.operations, report
        )
        self.archiver = Archiver(
            self.store, self.records, self._workspaces, self.agents, scripts, self.operations, report
        )
        self.renamer = Renamer(self.store, self._workspaces, self.operations)
        self.collector = Collector(
            self.store, self.records, self._workspaces, self._settings, self.operations
        )
        self._start_up()

    def _check_role(self) -> None:
        """On PostgreSQL the database checks owners by role (storage/rls.py): the user this process
        acts as must be the role it connects as, or every write would be refused one by one.
        """
        found = self.store.database_role()
        if found is None or found[1] or found[0] == self.config.user:
            return
        role, user = found[0], self.config.user
        self.store.close()
        raise ConfigError(
            f"you act as {user!r} but the database {self.store.location} is reached as role {role!r},"
            f" and only a role's own sessions are writable to it: set CHATML_USER={role}, or connect as"
            f" {user} (an administrator creates that role with `chatml db add-person {user}`)"
        )

    def _start_up(self) -> None:
        """Make stored state true before anything reads it: runners that died are shown as crashed,
        and operations a killed process left half-done are finished or undone (DESIGN §7). On a
        store that cannot be written (read-only, a full disk) both wait for a writable one.
        """
        if self.store.read_only is not None:
            return
        try:
            self.store.claim_ownerless(self.config.user)
            self.agents.reconcile()
            self.operations.settle_all()
        except StoreUnwritableError as exc:
            self.progress(f"warning: {exc}")

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
        """Set ``workspaces_dir``, ``branch_prefix``, ``archive_on_merge`` or ``delete_branch_on_merge``.

        None restores the default.
        """
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

    def update_workspace(
        self, key: str | Path, path: Path | str | None = None, github_repo: str | None = None
    ) -> Workspace:
        """Change a workspace; None leaves a field as it is.

        ``path`` re-points it at its repository after the repository moved (the sessions' worktrees
        are re-linked with ``git worktree repair``); ``github_repo="owner/name"`` names its GitHub
        repository (``""`` clears it: back to the remote URL).
        """
        self.owners.check_workspace(self.workspace(key), "change it")
        ws = self.workspace(key) if path is None else self._workspaces.set_path(key, path)
        if github_repo is not None:
            self.shipping.access.set_repo(ws, github_repo)
        return self.workspace(ws.id)

    def remove_workspace(self, key: str | Path, force: bool = False) -> None:
        """Forget a workspace. Its repository, worktrees and branches stay on disk."""
        ws = self.workspace(key)
        self.owners.check_workspace(ws, "remove it")
        others = sorted({rec.owner for rec in self.store.sessions(True, ws.id)} - {self.config.user, ""})
        if others:  # forgetting the workspace would delete their session rows with it
            raise NotOwnerError(
                f"workspace {ws.name!r} holds sessions of {', '.join(others)}: they delete or archive"
                " theirs before it can be removed"
            )
        self._workspaces.remove(key, force=force)

    # -- sessions: create -----------------------------------------------------------------------

    def new_session(
        self,
        repo_or_workspace: Workspace | str | Path | None = None,
        name: str | None = None,
        prompt: str | None = None,
        base: str | None = None,
        priority: Priority | str | None = None,
        from_pr: int | str | None = None,
        agent: str | None = None,
        model: str | None = None,
        permission_mode: PermissionMode | str | None = None,
        agent_options: dict[str, Any] | None = None,
    ) -> Session:
        """Create a session: fetch, worktree + branch from ``origin/<default>``, setup scripts.

        Every step is undone when a later one fails, so a failed call leaves no worktree,
        branch or row behind. A prompt starts the agent at once. ``from_pr`` is a PR number or
        URL: the session starts at the PR's head and is bound to the PR. ``agent`` names a backend
        (``anthropic``, ``claude-code``, ``scripted``; ``scripted:PATH`` gives the script).
        """
        ws = self._workspace_elsewhere(repo_or_workspace)
        if ws is not None:  # made where its repository is; that machine's host answers the prompt
            args = {"name": name, "base": base, "priority": priority, "from_pr": from_pr, "agent": agent,
                    "model": model, "permission_mode": permission_mode, "agent_options": agent_options}  # fmt: skip
            found = self.remote.call(str(ws.machine), "new_session", ws.id, f"create a session in workspace"
                                     f" {ws.name!r}", **{k: getattr(v, "value", v) for k, v in args.items()})  # fmt: skip
            return self._handle(str(found)).send(prompt) if prompt else self._handle(str(found))
        if isinstance(from_pr, str):
            repo_or_workspace, from_pr = self._pr_number(repo_or_workspace, from_pr)
        if prompt:
            self.agents.prewarm()  # the runner host imports the SDK while the worktree is made
        rec = self.creator.create(NewSession(
            workspace=repo_or_workspace, name=name, prompt=prompt, base=base, priority=priority,
            from_pr=from_pr, agent=agent, model=model, permission_mode=permission_mode,
            agent_options=agent_options,
        ))  # fmt: skip
        if from_pr is not None:  # bind to the PR: status, title, where push goes (issue 9)
            self.shipping.shipper.bind_from_pr(rec.id)
        session = self._handle(rec.id)
        if prompt:
            session.send(prompt)
        return session

    def _workspace_elsewhere(self, key: Workspace | str | Path | None) -> Workspace | None:
        """The registered workspace ``key`` names when its repository is on another machine."""
        ws = key if isinstance(key, Workspace) else self.store.workspace(str(key)) if key else None
        return ws if ws is not None and self.machines.elsewhere(ws.machine) else None

    def elsewhere(self, session_id: str) -> str | None:
        """The session's machine when another machine than this one holds its worktree."""
        rec = self.store.session(session_id)
        return rec.machine if rec is not None and self.machines.elsewhere(rec.machine) else None

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

    @on_its_machine("rename", when=lambda args: args["name"] is not None)  # the worktree moves
    def update(
        self,
        session_id: str,
        priority: Priority | str | None = None,
        task_status: TaskStatus | str | None = None,
        pinned: bool | None = None,
        name: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        permission_mode: PermissionMode | str | None = None,
        agent_options: dict[str, Any] | None = None,
    ) -> SessionRecord:
        """Change priority, task status, pin, name (the branch follows while it is unpushed), or the
        agent: its backend (``scripted:PATH`` gives a script), model and permission mode, used from
        the agent's next start.
        """
        self.operations.settle(session_id, refuse_live=name is not None)
        rec = self.record(session_id)
        changes: SessionChanges = {}
        if priority is not None:
            changes["priority"] = Priority.parse(priority).value
        if task_status is not None:
            changes["task_status"] = TaskStatus.parse(task_status).value
        if pinned is not None:
            changes["pinned"] = bool(pinned)
        if agent is not None or agent_options is not None:
            changes.update(self._agent_changes(rec, agent, agent_options))
        if model is not None:
            changes["model"] = model or None
        if permission_mode is not None:
            changes["permission_mode"] = PermissionMode.parse(permission_mode).value
        if name is not None and naming.slugify(name) != rec.name:
            if rec.archived:
                raise SessionArchivedError(f"session {rec.name!r} is archived: unarchive it to rename it")
            self.renamer.rename(rec, naming.slugify(name), changes)
        elif changes:
            self.store.update_session(session_id, **changes)
        if task_status is not None:  # automatic moves (PR opened/merged) yield to the user's hand
            self.store.note_status_by_hand(session_id)
        return self.record(session_id)

    def _agent_changes(
        self, rec: SessionRecord, agent: str | None, options: dict[str, Any] | None
    ) -> SessionChanges:
        """The columns that give the session another agent (checked: it must be able to run here)."""
        from ..agents.context import resolve_agent
        from .creator import parse_agent

        name, found = parse_agent(agent, {**rec.agent_options, **(options or {})})
        changes: SessionChanges = {"agent_options": found}
        if agent is not None:
            if "script" in rec.agent_options and not (agent or "").startswith("scripted:"):
                found.pop("script", None)  # a script belongs to the scripted agent that was given it
            changes["agent_backend"] = resolve_agent(name)
        return changes

    @on_its_machine("sync")
    def sync(self, session_id: str, fetch: bool = True, background: bool = False) -> SessionRecord:
        """Fetch and store ahead/behind against ``origin/<default>``.

        A sync asked for by a person fetches now; ``background=True`` (pollers) fetches at most
        once per ``fetch_throttle`` seconds per workspace.
        """
        self.operations.settle(session_id)
        rec = self.record(session_id)
        try:
            return self._sync(session_id, fetch, background)
        except RowGoneError:
            raise SessionNotFoundError(
                f"session {rec.name!r} was deleted by another process while it was synced"
            ) from None

    def _sync(self, session_id: str, fetch: bool, background: bool) -> SessionRecord:
        rec, ws, repo = self.records.live(session_id, "sync it")
        error = self._workspaces.fetch(repo, ws, force=not background) if fetch else None
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

    def sync_all(self, background: bool = False) -> list[SessionRecord]:
        """Sync every live session: per workspace one fetch, then every count in one pass.

        The fetch is throttled when ``background``. The counts run in-process
        (:meth:`GitRepo.drift`) and land in one transaction, so a hundred sessions cost one fetch and
        no git process per session. A session that cannot be counted (its repository or worktree is
        missing, another process is part-way through changing it) is reported and skipped; others'
        sessions are their owners' to sync.
        """
        live: dict[str, list[SessionRecord]] = {}
        for rec in self.owners.writable(self.records.reconciled(include_archived=False)):
            if self.machines.elsewhere(rec.machine):
                continue  # its machine counts its drift
            try:
                self.operations.settle(rec.id)
                self._workspaces.repo(self.workspace(rec.workspace_id))
                if read_head(rec.worktree_path) is None:
                    raise WorktreeMissingError(rec.health)
            except (WorkspaceRepositoryMissingError, WorktreeMissingError, SessionNotFoundError,
                    OperationInProgressError) as exc:  # fmt: skip
                self.progress(f"warning: skipped {rec.name}: {exc}")
                continue
            live.setdefault(rec.workspace_id, []).append(rec)
        synced: set[str] = set()
        for workspace_id, recs in live.items():
            ws = self._workspaces.get(workspace_id)
            repo = GitRepo(ws.path)
            error = self._workspaces.fetch(repo, ws, force=not background)
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

    @on_its_machine("archive")
    def archive(self, session_id: str, force: bool = False) -> SessionRecord:
        """Snapshot uncommitted work into a private ref, remove the worktree, keep branch and record."""
        return self.archiver.archive(session_id, force=force)

    @on_its_machine("unarchive")
    def unarchive(self, session_id: str) -> SessionRecord:
        """Recreate the worktree at the same path on the kept branch and restore the snapshot."""
        return self.archiver.unarchive(session_id)

    def at_risk(self, rec: SessionRecord, repo: GitRepo) -> list[str]:
        """What deleting the session would lose: uncommitted files, unique commits, a snapshot."""
        return self.archiver.at_risk(rec, repo)

    @on_its_machine("delete", "plain")
    def delete(self, session_id: str, force: bool = False) -> str | None:
        """Delete worktree, branch and record; refuse when work would be lost unless ``force``.

        With ``force`` the work is kept under ``refs/chatml/snapshots/<id>/deleted`` until
        :meth:`gc` removes it. Returns that ref (or None when nothing needed keeping).
        """
        return self.archiver.delete(session_id, force=force)

    @on_its_machine("measure", "plain", writes=False)
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

        A constant number of queries whatever the number of sessions: workspaces, open operations,
        sessions, every task conversation's state with its lease, the PR states, and the sessions
        shared with this user when others' are listed (git is read from the worktrees' files).
        ``writable`` says whether this user may change the session (its owner, or shared with them).
        """
        from .table import session_rows

        return session_rows(self, include_archived)

    def agent_state(self, session_id: str) -> str:
        """The task conversation's agent state (``crashed`` when its runner died)."""
        return self.agents.session_state(session_id).value
