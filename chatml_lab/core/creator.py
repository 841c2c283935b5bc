"""Session creation (DESIGN §4): fetch, a worktree on a new branch, included files, setup scripts.

Names are chosen and the worktree made under the repository's lock, so concurrent creations from
several processes never collide; every step is undone when a later one fails.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, InvalidArgumentError, InvalidNameError, SessionExistsError
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import PermissionMode, Priority, SessionRecord, Workspace
from ..storage.store import Store, new_id
from . import naming, scripts
from .scripts import ScriptRunner
from .settings import Settings, check_writable
from .workspaces import Workspaces
from .worktrees import copy_included

MAX_NAME_ATTEMPTS = 12


def join_branch(prefix: str, name: str) -> str:
    """``<prefix>/<name>``, or ``<name>`` without a prefix."""
    return f"{prefix}/{name}" if prefix else name


@dataclass(frozen=True)
class NewSession:
    """What :meth:`ChatML.new_session` was asked to make (see it for each field's meaning)."""

    workspace: Workspace | str | Path | None = None
    name: str | None = None
    prompt: str | None = None
    base: str | None = None
    priority: Priority | str | None = None
    from_pr: int | None = None
    agent: str | None = None
    model: str | None = None
    permission_mode: PermissionMode | str | None = None
    agent_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Plan:
    """A request checked and resolved against its workspace; nothing is made yet."""

    ws: Workspace
    base_dir: Path
    prefix: str
    wanted: str | None
    base_ref: str
    start: str
    priority: Priority
    mode: PermissionMode
    agent: str | None
    agent_options: dict[str, Any]
    warnings: tuple[str, ...]


class Creator:
    """Makes new sessions: worktree, branch, row and task conversation, or none of them."""

    def __init__(
        self,
        store: Store,
        config: Config,
        settings: Settings,
        workspaces: Workspaces,
        script_runner: ScriptRunner,
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.workspaces = workspaces
        self.scripts = script_runner
        self.progress = progress

    def create(self, request: NewSession) -> SessionRecord:
        """Create a session (see :meth:`ChatML.new_session`); the caller sends the prompt."""
        plan = self._plan(request)
        repo = GitRepo(plan.ws.path)
        self.progress("creating worktree")
        with repo.lock():
            rec, task = self._create_locked(repo, plan, request)
        try:
            for warning in plan.warnings:
                self.store.append_event(task, EventType.NOTICE, {"message": warning})
            copy_included(repo, plan.ws.path, rec.worktree_path)
        except BaseException:
            self._rollback_create(repo, rec)
            raise
        failed = self.scripts.run("setup", rec, plan.ws, task)
        if failed is not None:  # kept, not rolled back: the user needs the worktree to see why
            self.store.append_event(task, EventType.ERROR, {
                "message": f"setup script {failed.script.name!r} exited {failed.exit_code}; later scripts skipped"
            })  # fmt: skip
            self.store.update_session(rec.id, health=f"setup script {failed.script.name} failed")
        return rec

    def _plan(self, request: NewSession) -> _Plan:
        """Check everything that can be checked before anything is made, then fetch."""
        agent, options = request.agent, dict(request.agent_options or {})
        if agent is not None and agent.startswith("scripted:"):
            agent, script = "scripted", agent.split(":", 1)[1]
            options["script"] = str(Path(script).expanduser().resolve())
        if agent is not None or request.prompt:
            from ..agents.context import resolve_agent

            agent = resolve_agent(agent)
        ws = self.workspaces.resolve(request.workspace)
        repo = GitRepo(ws.path)
        prio = Priority.parse(request.priority) if request.priority is not None else Priority.NONE
        mode = (
            PermissionMode.parse(request.permission_mode)
            if request.permission_mode is not None
            else PermissionMode.DEFAULT
        )
        from_pr, base = request.from_pr, request.base
        if from_pr is not None and base is not None:
            raise InvalidArgumentError("give either --from-pr or --base, not both")
        wanted = naming.slugify(request.name) if request.name is not None else None
        if wanted is None and from_pr is not None:
            wanted = f"pr-{from_pr}"
        prefix = self.settings.prefix_for(ws)
        if prefix and not naming.valid_prefix(prefix):  # stored by hand or by an older version
            raise ConfigError(
                f"branch prefix {prefix!r} is not valid in a git branch name:"
                " change it with `chatml settings --branch-prefix`"
            )
        if wanted is not None and not repo.valid_branch_name(join_branch(prefix, wanted)):
            raise InvalidNameError(
                f"git refuses {join_branch(prefix, wanted)!r} as a branch name: choose another"
            )
        workspaces_dir = self.settings.workspaces_dir
        # Probe the base dir, not <base>/<workspace>: a call that fails later must leave no directory.
        check_writable(workspaces_dir)
        scripts.load_scripts(ws.path, "setup")  # a broken .chatml/config.json fails before anything is made
        warnings: list[str] = []
        if from_pr is not None:
            if not ws.remote:
                raise InvalidArgumentError(f"workspace {ws.name!r} has no remote to fetch pull requests from")
            if from_pr <= 0:
                raise InvalidArgumentError(f"pull request number must be positive, not {from_pr}")
            self.progress(f"fetching pull request #{from_pr}")
            start = repo.fetch_pull_request(ws.remote, from_pr, self.config.fetch_timeout)
            base_ref = f"pull/{from_pr}/head"
        else:
            fetch_error = self.workspaces.fetch(repo, ws)
            if fetch_error:
                warnings.append(f"fetch failed, using local refs ({fetch_error})")
            base_ref = base or self.workspaces.upstream(repo, ws)
            start = repo.require(base_ref)
        return _Plan(
            ws=ws, base_dir=workspaces_dir / ws.name, prefix=prefix, wanted=wanted, base_ref=base_ref,
            start=start, priority=prio, mode=mode, agent=agent, agent_options=options,
            warnings=tuple(warnings),
        )  # fmt: skip

    def _create_locked(self, repo: GitRepo, plan: _Plan, request: NewSession) -> tuple[SessionRecord, str]:
        """Pick a free name, make worktree and branch, store row and task conversation."""
        ws, wanted = plan.ws, plan.wanted
        taken = {s.name for s in self.store.sessions(include_archived=True, workspace_id=ws.id)}
        for attempt in range(MAX_NAME_ATTEMPTS):
            name = wanted or naming.generated_name(attempt)
            branch = join_branch(plan.prefix, name)
            path = plan.base_dir / name
            clash = name in taken or repo.branch_exists(branch) or path.exists()
            if clash and wanted:
                raise SessionExistsError(
                    f"session name {name!r} is taken in workspace {ws.name!r}"
                    f" (session, branch {branch!r} or directory {path}): choose another name"
                )
            if not clash:
                break
        else:
            raise SessionExistsError(f"no free generated name after {MAX_NAME_ATTEMPTS} tries: give a name")
        repo.add_worktree(path, branch, plan.start)
        now = time.time()
        rec = SessionRecord(
            id=new_id(), workspace_id=ws.id, name=name, branch=branch, worktree_path=path,
            base_ref=plan.base_ref, base_commit=plan.start, created_at=now, updated_at=now,
            priority=plan.priority, agent_backend=plan.agent, model=request.model,
            permission_mode=plan.mode, pr_number=request.from_pr, auto_named=wanted is not None,
            agent_options=plan.agent_options,
        )  # fmt: skip
        try:
            return self.store.create_session(rec, self.config.port_start, self.config.port_block)
        except BaseException:
            self._undo_git(repo, path, branch)  # the lock is re-entrant: taking it again is safe
            raise

    def _undo_git(self, repo: GitRepo, path: Path, branch: str) -> None:
        with repo.lock():
            try:
                repo.remove_worktree(path)
            finally:
                if repo.branch_exists(branch):
                    repo.delete_branch(branch)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)

    def _rollback_create(self, repo: GitRepo, rec: SessionRecord) -> None:
        self.store.delete_session(rec.id)
        self._undo_git(repo, rec.worktree_path, rec.branch)
