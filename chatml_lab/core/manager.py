"""The session manager: the one API every UI (CLI, magics, widgets, server) uses.

It owns policy (DESIGN §4): where worktrees go, how names are chosen, what may be thrown away.
Git work goes through :mod:`chatml_lab.gitops`, rows through :mod:`chatml_lab.storage`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import DEFAULT_BRANCH_PREFIX, Config, default_data_dir
from ..errors import (
    AmbiguousSessionError,
    ConfigError,
    GitError,
    InvalidArgumentError,
    InvalidNameError,
    NotARepositoryError,
    SessionArchivedError,
    SessionExistsError,
    SessionNotFoundError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
    WorkWouldBeLostError,
)
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import (
    GcReport,
    PermissionMode,
    Priority,
    PullRequestLink,
    PullRequestState,
    SessionRecord,
    TaskStatus,
    Workspace,
)
from ..storage.store import Store, new_id
from . import naming, scripts
from .archiver import Archiver
from .collector import Collector
from .creator import Creator
from .worktrees import disk_usage, read_head

if TYPE_CHECKING:
    import pandas

    from .session import Session

Progress = Callable[[str], None]

SETTING_KEYS = ("workspaces_dir", "branch_prefix", "archive_on_merge", "delete_branch_on_merge")
_BOOLEAN_SETTINGS = ("archive_on_merge", "delete_branch_on_merge")


def _quiet(_: str) -> None:
    """Default progress sink."""


class ChatML:
    """Workspaces and sessions: create, list, update, sync, archive, restore, delete, collect.

    ``ChatML()`` uses ``$CHATML_DATA_DIR`` or the platform data dir; pass ``data_dir`` to choose.
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
        self.archiver = Archiver(self)
        self.agents.reconcile()

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
        env = os.environ.get("CHATML_WORKSPACES_DIR")
        stored = self.store.setting("workspaces_dir")
        return Path(env or stored or self.data_dir / "workspaces").expanduser().absolute()

    @property
    def branch_prefix(self) -> str:
        """Global branch prefix (``""`` means none)."""
        stored = self.store.setting("branch_prefix")
        return DEFAULT_BRANCH_PREFIX if stored is None else stored

    def settings(self) -> dict[str, str]:
        """Effective settings and where the data lives."""
        return {
            "data_dir": str(self.data_dir),
            "workspaces_dir": str(self.workspaces_dir),
            "branch_prefix": self.branch_prefix or "(none)",
        }

    def set_setting(self, key: str, value: str | None) -> None:
        """Set ``workspaces_dir`` or ``branch_prefix`` (None restores the default)."""
        if key not in SETTING_KEYS:
            raise InvalidArgumentError(f"unknown setting {key!r}: use one of {', '.join(SETTING_KEYS)}")
        if value is not None and key == "workspaces_dir":
            path = Path(value).expanduser().resolve()
            self._check_writable(path)
            value = str(path)
        if value is not None and key == "branch_prefix":
            value = "" if value.strip().lower() in ("", "none") else value.strip().strip("/")
            if value and not naming.valid_prefix(value):
                raise InvalidArgumentError(f"branch prefix {value!r} is not valid in a git branch name")
        if value is not None and key in _BOOLEAN_SETTINGS:
            text = value.strip().lower()
            if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise InvalidArgumentError(f"setting {key} takes true or false, not {value!r}")
            value = "true" if text in ("true", "1", "yes", "on") else "false"
        self.store.set_setting(key, value)

    def _check_writable(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".chatml-probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"workspaces directory {path} is not writable ({exc.strerror or exc}):"
                " choose another with `chatml settings --workspaces-dir DIR`"
            ) from None

    # -- workspaces -----------------------------------------------------------------------------

    def add_workspace(self, path: Path | str, name: str | None = None) -> Workspace:
        """Register a git repository (non-bare, with a commit); the repository is not changed."""
        repo = GitRepo(path)
        with repo.lock():  # two processes registering one repository: one row, one winner
            return self._add_workspace_locked(repo, name)

    def _add_workspace_locked(self, repo: GitRepo, name: str | None) -> Workspace:
        existing = self.store.workspace(str(repo.root))
        if existing:
            raise WorkspaceExistsError(f"{repo.root} is already the workspace {existing.name!r}")
        wanted = naming.slugify(name or repo.root.name)
        if name and self.store.workspace(wanted):
            raise WorkspaceExistsError(f"a workspace is already named {wanted!r}: choose another name")
        unique, n = wanted, 2
        while self.store.workspace(unique):
            unique, n = f"{wanted}-{n}", n + 1
        remotes = repo.remotes()
        remote = "origin" if "origin" in remotes else (remotes[0] if remotes else None)
        ws = Workspace(
            id=new_id()[:12],
            name=unique,
            path=repo.root,
            default_branch=repo.default_branch(remote),
            remote=remote,
            branch_prefix=None,
            created_at=time.time(),
        )
        try:
            self.store.add_workspace(ws)
        except sqlite3.IntegrityError:
            raise WorkspaceExistsError(
                f"a workspace named {unique!r} or at {repo.root} was just added by another process: try again"
            ) from None
        return ws

    def workspaces(self) -> list[Workspace]:
        """Registered workspaces by name."""
        return self.store.workspaces()

    def workspace(self, key: str | Path) -> Workspace:
        """A workspace by id, name or path (a path inside the repository works too)."""
        found = self.store.workspace(str(key))
        if found:
            return found
        path = Path(key).expanduser()
        if path.exists():
            try:
                root = GitRepo(path).root
            except NotARepositoryError:
                root = path.resolve()
            found = self.store.workspace(str(root))
            if found:
                return found
        raise WorkspaceNotFoundError(
            f"no workspace {str(key)!r}: add it with `chatml workspace add PATH` (see `chatml workspace list`)"
        )

    def remove_workspace(self, key: str | Path, force: bool = False) -> None:
        """Forget a workspace. Its repository, worktrees and branches stay on disk."""
        ws = self.workspace(key)
        live = self.store.sessions(include_archived=True, workspace_id=ws.id)
        if live and not force:
            raise WorkWouldBeLostError(
                f"workspace {ws.name!r} still has {len(live)} session(s): delete or archive them first,"
                " or pass force (their worktrees and branches stay on disk)"
            )
        self.store.remove_workspace(ws.id)

    def _resolve_workspace(self, repo_or_workspace: Workspace | str | Path | None) -> Workspace:
        if isinstance(repo_or_workspace, Workspace):
            return repo_or_workspace
        key = repo_or_workspace if repo_or_workspace is not None else Path.cwd()
        try:
            return self.workspace(key)
        except WorkspaceNotFoundError:
            if Path(key).expanduser().exists():
                try:
                    return self.add_workspace(key)
                except WorkspaceExistsError:
                    # Another process registered it between our look-up and our insert.
                    return self.workspace(key)
            if isinstance(key, Path) or os.sep in str(key):  # a path, not a workspace name
                raise NotARepositoryError(
                    f"{Path(key).expanduser()} does not exist: give the path of a git repository"
                ) from None
            raise

    def _prefix(self, ws: Workspace) -> str:
        return self.branch_prefix if ws.branch_prefix is None else ws.branch_prefix

    def _upstream(self, repo: GitRepo, ws: Workspace) -> str:
        """``<remote>/<default>`` when it exists, else the local default branch."""
        if ws.remote and repo.resolve(f"refs/remotes/{ws.remote}/{ws.default_branch}"):
            return f"{ws.remote}/{ws.default_branch}"
        return ws.default_branch

    def _fetch(self, repo: GitRepo, ws: Workspace, force: bool = True) -> str | None:
        """Fetch the workspace's remote unless throttled; return a warning when it failed."""
        if not ws.remote:
            return None
        fresh = self.store.workspace(ws.id)
        last = fresh.last_fetch_at if fresh else None
        if not force and last and time.time() - last < self.config.fetch_throttle:
            return None
        self.progress(f"fetching {ws.remote}")
        error = repo.fetch(ws.remote, self.config.fetch_timeout)
        if error is None:
            self.store.update_workspace(ws.id, last_fetch_at=time.time())
        return error

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
        if isinstance(from_pr, str):
            from .ship import pr_number_from
            from .shipping import Shipping

            ws = self._resolve_workspace(repo_or_workspace)
            from_pr = pr_number_from(from_pr, Shipping.of(self).github_repo_name(ws))
            repo_or_workspace = ws
        session = Creator(self).create(
            repo_or_workspace, name=name, prompt=prompt, base=base, priority=priority, from_pr=from_pr,
            agent=agent, model=model, permission_mode=permission_mode, agent_options=agent_options,
        )  # fmt: skip
        if from_pr is not None:  # bind to the PR: status, title, where push goes (issue 9)
            from .shipping import Shipping

            Shipping.of(self).shipper.bind_from_pr(session.id)
        return session

    def run_scripts(
        self, kind: str, rec: SessionRecord, ws: Workspace, conversation: str, stop_at_failure: bool = True
    ) -> scripts.ScriptResult | None:
        """Run the repository's ``setup``/``archive`` scripts in the worktree, each recorded as a
        ``setup_output`` event; return the first that failed (None when all passed)."""
        env = scripts.script_env(rec.name, rec.worktree_path, ws.path, rec.port_base)
        failed = None
        for script in scripts.load_scripts(ws.path, kind):
            self.progress(f"running {kind} script {script.name}")
            result = scripts.run_script(script, rec.worktree_path, env, self.config.script_timeout)
            self.store.append_event(conversation, EventType.SETUP_OUTPUT, {
                "script": script.name, "command": script.command, "output": result.output,
                "exit_code": result.exit_code,
            })  # fmt: skip
            if not result.ok:
                failed = failed or result
                if stop_at_failure:
                    break
        return failed

    # -- sessions: find -------------------------------------------------------------------------

    def _handle(self, session_id: str) -> Session:
        from .session import Session

        return Session(self, session_id)

    def record(self, session_id: str) -> SessionRecord:
        """The stored record of a session (raises when it was deleted)."""
        rec = self.store.session(session_id)
        if rec is None:
            raise SessionNotFoundError(f"session {session_id} no longer exists")
        return rec

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
            names = sorted(f"{self._workspace_name(s.workspace_id)} (id {s.id[:8]})" for s in found)
            raise AmbiguousSessionError(
                f"{name_or_id!r} names sessions in workspaces {', '.join(names)}: pass the workspace or an id"
            )
        return self._handle(found[0].id)

    def sessions(self, include_archived: bool = False) -> list[Session]:
        """Sessions, oldest first (reconciled with git)."""
        return [self._handle(rec.id) for rec in self._reconciled(include_archived)]

    def _workspace_name(self, workspace_id: str) -> str:
        ws = self.store.workspace(workspace_id)
        return ws.name if ws else "?"

    def _reconciled(self, include_archived: bool) -> list[SessionRecord]:
        return [self.reconcile(rec) for rec in self.store.sessions(include_archived)]

    def reconcile(self, rec: SessionRecord) -> SessionRecord:
        """Compare a record with git and record what was changed by hand (no exception)."""
        if rec.archived:
            return rec
        health = "ok"
        updates: dict[str, Any] = {}
        head = read_head(rec.worktree_path)
        if head is None:
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
            self.store.update_session(rec.id, health=health, updated_at=rec.updated_at, **updates)
            if health != "ok":
                self.store.append_event(
                    self.agents.conversation(rec.id).id, EventType.NOTICE, {"message": health}
                )
            return self.record(rec.id)
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

    # -- sessions: operations (the Session handle delegates here) -------------------------------

    def live(self, session_id: str, action: str) -> tuple[SessionRecord, Workspace, GitRepo]:
        rec = self.reconcile(self.record(session_id))
        if rec.archived:
            raise SessionArchivedError(
                f"session {rec.name!r} is archived: `chatml unarchive {rec.name}` before you {action}"
            )
        ws = self.workspace(rec.workspace_id)
        return rec, ws, GitRepo(ws.path)

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
        fields: dict[str, Any] = {}
        if priority is not None:
            fields["priority"] = Priority.parse(priority).value
        if task_status is not None:
            fields["task_status"] = TaskStatus.parse(task_status).value
        if pinned is not None:
            fields["pinned"] = int(bool(pinned))
        if name is not None and naming.slugify(name) != rec.name:
            if rec.archived:
                raise SessionArchivedError(f"session {rec.name!r} is archived: unarchive it to rename it")
            fields.update(self._rename(rec, naming.slugify(name)))
        if fields:
            self.store.update_session(session_id, **fields)
        if task_status is not None:  # automatic moves (PR opened/merged) yield to the user's hand
            from ..storage.prs import PullRequestRows

            PullRequestRows(self.store).note_status_by_hand(session_id)
        return self.record(session_id)

    def _rename(self, rec: SessionRecord, new: str) -> dict[str, Any]:
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

    def sync(self, session_id: str, fetch: bool = True, background: bool = False) -> SessionRecord:
        """Fetch and store ahead/behind against ``origin/<default>``.

        A sync asked for by a person fetches now; ``background=True`` (pollers) fetches at most
        once per ``fetch_throttle`` seconds per workspace.
        """
        rec, ws, repo = self.live(session_id, "sync it")
        error = self._fetch(repo, ws, force=not background) if fetch else None
        if error:
            warning = (
                f"warning: fetch of {ws.remote} failed, drift of {rec.name} counted from local refs ({error})"
            )
            self.progress(warning)
            self.store.append_event(
                self.agents.conversation(rec.id).id, EventType.NOTICE, {"message": warning}
            )
        upstream = self._upstream(repo, ws)
        if not repo.branch_exists(rec.branch):
            raise GitError(f"branch {rec.branch!r} of session {rec.name!r} no longer exists")
        ahead, behind = repo.ahead_behind(upstream, rec.branch)
        self.store.update_session(rec.id, ahead=ahead, behind=behind, drift_checked_at=time.time(),
                                  updated_at=rec.updated_at)  # fmt: skip
        return self.record(rec.id)

    def sync_all(self, background: bool = False) -> list[SessionRecord]:
        """Sync every live session, one fetch per workspace (throttled when ``background``)."""
        done: list[SessionRecord] = []
        fetched: set[str] = set()
        for rec in self._reconciled(include_archived=False):
            if read_head(rec.worktree_path) is not None:
                first = rec.workspace_id not in fetched
                fetched.add(rec.workspace_id)
                done.append(self.sync(rec.id, fetch=first, background=background))
        return done

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
        return Collector(self).gc(dry_run=dry_run)

    # -- tables ---------------------------------------------------------------------------------

    def table(self, include_archived: bool = False) -> pandas.DataFrame:
        """The session table, pinned first, then by priority (urgent first), then most recent."""
        from .table import session_table

        return session_table(self, include_archived=include_archived)

    def rows(self, include_archived: bool = False) -> list[dict[str, Any]]:
        """The table's rows as plain dicts (what ``--json`` prints), already sorted."""
        names = {ws.id: ws.name for ws in self.workspaces()}
        rows: list[dict[str, Any]] = []
        for rec in self._reconciled(include_archived):
            rows.append({
                "name": rec.name, "workspace": names.get(rec.workspace_id, "?"),
                "priority": rec.priority.value, "task_status": rec.task_status.value,
                "pinned": rec.pinned, "pr_status": rec.pr_status.value, "branch": rec.branch,
                "ahead": rec.ahead, "behind": rec.behind, "agent_state": self.agent_state(rec.id),
                "cost_usd": rec.cost_usd, "updated_at": rec.updated_at, "archived": rec.archived,
                "health": rec.health, "id": rec.id, "drift_checked_at": rec.drift_checked_at,
                "pr_number": rec.pr_number, "pr_url": rec.pr_url,
            })  # fmt: skip
        from ..storage.prs import PullRequestRows

        prs = PullRequestRows(self.store).states([str(r["id"]) for r in rows])
        for row in rows:
            pr = prs[str(row["id"])]
            row.update(
                checks=pr.checks.value, pr_draft=pr.draft, pr_mergeable=pr.mergeable, pr_title=pr.title
            )
        rank = {p.value: p.rank for p in Priority}
        rows.sort(key=lambda r: (not r["pinned"], rank[str(r["priority"])], -float(r["updated_at"])))
        return rows

    def agent_state(self, session_id: str) -> str:
        """The task conversation's agent state (``crashed`` when its runner died)."""
        return self.agents.session_state(session_id).value

    # -- pull requests and integration (issue 9; the work is in ship.py, prs.py, ...) -----------

    def update_workspace(self, key: str | Path, github_repo: str | None = None) -> Workspace:
        """Change a workspace: ``github_repo="owner/name"`` (``""`` clears it: back to the remote URL)."""
        ws = self.workspace(key)
        if github_repo is not None:
            from .shipping import Shipping

            Shipping.of(self).access.set_repo(ws, github_repo)
        return self.workspace(ws.id)

    def github_repo(self, key: str | Path) -> str | None:
        """The workspace's GitHub ``owner/name`` (set, or from its remote URL), or None."""
        from .shipping import Shipping

        found = Shipping.of(self).access.repo_of(self.workspace(key))
        return found.full_name if found else None

    def push(self, session_id: str, force_with_lease: bool = False) -> str:
        """Push the session's branch with upstream set; return what happened (``new``, ...)."""
        from .shipping import Shipping

        return Shipping.of(self).shipper.push(session_id, force_with_lease=force_with_lease).outcome

    def create_pr(
        self, session_id: str, title: str | None = None, body: str | None = None, draft: bool = False,
        base: str | None = None,
    ) -> PullRequestLink:  # fmt: skip
        """Open (or link the open) pull request of the session; see :meth:`Session.create_pr`."""
        from .shipping import Shipping

        return Shipping.of(self).shipper.create_pr(session_id, title=title, body=body, draft=draft, base=base)

    def merge_pr(self, session_id: str, method: str = "squash", force: bool = False) -> str:
        """Merge the session's PR (``squash``, ``merge``, ``rebase``); return the merge commit."""
        from .shipping import Shipping

        return Shipping.of(self).shipper.merge_pr(session_id, method=method, force=force)

    def update_branch(self, session_id: str, method: str = "rebase") -> SessionRecord:
        """Rebase onto (or merge) ``origin/<default>``, keeping uncommitted work."""
        from .shipping import Shipping

        return Shipping.of(self).updater.update(session_id, method=method)

    def abort_update(self, session_id: str) -> SessionRecord:
        """Undo an update stopped on conflicts: branch tip and every uncommitted byte back."""
        from .shipping import Shipping

        return Shipping.of(self).updater.abort(session_id)

    def pr_state(self, session_id: str) -> PullRequestState:
        """What is known of the session's pull request (checks, draft, mergeable, title, ...)."""
        from ..storage.prs import PullRequestRows

        return PullRequestRows(self.store).state(session_id)

    def refresh_prs(self, workspace: str | None = None) -> list[Session]:
        """One pass of live PR status (one list request per repository); the sessions that changed."""
        from .shipping import Shipping

        return Shipping.of(self).tracker.refresh(workspace)

    def pr_poll_interval(self) -> float:
        """Seconds a background poller waits between :meth:`refresh_prs` passes."""
        from .shipping import Shipping

        return Shipping.of(self).tracker.poll_interval()

    def conflict_rows(
        self, workspace: str | None = None, include_uncommitted: bool = True, fetch: bool = True
    ) -> list[dict[str, Any]]:
        """The conflict forecast as plain rows, in the suggested merge order."""
        from .forecast import conflict_rows

        return conflict_rows(self, workspace, include_uncommitted=include_uncommitted, fetch=fetch)

    def conflicts(
        self, workspace: str | None = None, include_uncommitted: bool = True, fetch: bool = True
    ) -> pandas.DataFrame:
        """For each live session: clean with ``origin/<default>`` (fetched first)? conflicting
        sessions and files; ``order`` is the suggested merge order. Computed in memory with
        ``git merge-tree``; uncommitted work counts unless ``include_uncommitted=False``."""
        import pandas

        from .forecast import COLUMNS

        rows = self.conflict_rows(workspace, include_uncommitted=include_uncommitted, fetch=fetch)
        return pandas.DataFrame(rows, columns=COLUMNS).set_index("order")
