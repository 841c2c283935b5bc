"""Session creation (DESIGN §4): fetch, a worktree on a new branch, included files, setup scripts.

Names are chosen and the worktree made under the repository's lock, so concurrent creations from
several processes never collide. The creation is a recorded operation (DESIGN §7): when it fails
or its process is killed before the session's row is written, :meth:`Creator.settle` removes the
worktree and the branch it made.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, InvalidArgumentError, InvalidNameError, SessionExistsError, option
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import PermissionMode, Priority, SessionRecord, Workspace
from ..storage.operations import Operation
from ..storage.store import Store, new_id
from . import naming, scripts
from .operations import ROLLED_BACK, Operations, Outcome
from .scripts import ScriptRunner
from .settings import Settings, check_writable
from .snapshots import fresh_work, snapshot_ref
from .workspaces import Workspaces
from .worktrees import copy_included, read_head

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
        operations: Operations,
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.workspaces = workspaces
        self.scripts = script_runner
        self.operations = operations
        self.progress = progress
        operations.handle("create", self.settle)

    def create(self, request: NewSession) -> SessionRecord:
        """Create a session (see :meth:`ChatML.new_session`); the caller sends the prompt."""
        plan = self._plan(request)
        repo = self.workspaces.repo(plan.ws)
        self.progress("creating worktree")
        with repo.lock():
            rec, task = self._create_locked(repo, plan, request)
        for warning in plan.warnings:
            self.store.append_event(task, EventType.NOTICE, {"message": warning})
        failed = self.scripts.run("setup", rec, plan.ws, task)
        if failed is not None:  # kept, not rolled back: the user needs the worktree to see why
            self.store.append_event(task, EventType.ERROR, {
                "message": f"setup script {failed.script.name!r} exited {failed.exit_code}; later scripts skipped"
            })  # fmt: skip
            self.store.update_session(rec.id, health=f"setup script {failed.script.name} failed")
        return rec

    def _plan(self, request: NewSession) -> _Plan:
        """Check everything that can be checked before anything is made, then fetch."""
        agent, options = parse_agent(request.agent, request.agent_options)
        if agent is not None or request.prompt:
            from ..agents.context import resolve_agent

            agent = resolve_agent(agent)
        ws = self.workspaces.resolve(request.workspace)
        repo = self.workspaces.repo(ws)
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
        if request.name is not None and wanted != request.name:
            warnings.append(f"name {request.name!r} became {wanted!r}")  # the UIs print it too
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
        now = time.time()
        rec = SessionRecord(
            id=new_id(), workspace_id=ws.id, name=name, branch=branch, worktree_path=path,
            base_ref=plan.base_ref, base_commit=plan.start, created_at=now, updated_at=now,
            priority=plan.priority, agent_backend=plan.agent, model=request.model,
            permission_mode=plan.mode, pr_number=request.from_pr, auto_named=wanted is not None,
            agent_options=plan.agent_options, owner=self.config.user,
        )  # fmt: skip
        op = self.operations.begin(
            "create", rec.id, ws.id, name, {"path": str(path), "branch": branch, "start": plan.start}
        )
        with self.operations.running(op, repo):
            repo.add_worktree(path, branch, plan.start)
            op = self.operations.step(op, "added")
            copy_included(repo, ws.path, path)
            return self.store.create_session(rec, self.config.port_start, self.config.port_block, op.id)

    def settle(self, op: Operation, repo: GitRepo) -> Outcome:
        """Undo a creation that did not finish: its worktree and branch go (nothing else was made).

        A branch that gained commits meanwhile, or a worktree with files of its own, is kept.
        """
        path, branch, start = Path(op.plan["path"]), op.plan["branch"], op.plan["start"]
        kept: list[str] = []
        if read_head(path) is not None:
            if fresh_work(repo, path):
                ref = snapshot_ref(op.session_id, "create")
                snapshot = repo.snapshot(path)
                if snapshot:
                    repo.create_ref(ref, snapshot)
                    kept.append(f"its files in {ref}")
            repo.remove_worktree(path)
        else:
            repo.run("worktree", "prune")
            if path.exists():  # a checkout cut short (the path was free when the creation began)
                shutil.rmtree(path)
        tip = repo.resolve(f"refs/heads/{branch}")
        if tip == start:
            repo.delete_branch(branch)
        elif tip is not None:
            kept.append(f"branch {branch} (it has commits of its own)")
        self.operations.finish(op, ROLLED_BACK)
        note = f"; kept {', '.join(kept)}" if kept else ""
        return Outcome(op, ROLLED_BACK, f"undid the unfinished creation of session {op.session_name}{note}")


def parse_agent(
    agent: str | None, options: dict[str, Any] | None = None
) -> tuple[str | None, dict[str, Any]]:
    """``scripted:PATH`` → ``("scripted", {"script": PATH})`` (the script checked now, not at the
    first message); any other agent name is returned as it is.
    """
    found = dict(options or {})
    if agent is not None and agent.startswith("scripted:"):
        agent, script = "scripted", Path(agent.split(":", 1)[1]).expanduser().resolve()
        try:
            json.loads(script.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidArgumentError(
                f"the agent script {script} cannot be read ({exc.strerror or exc}): give the path of a"
                f" script file, or {option('agent', 'scripted')} for the bundled demo script"
            ) from None
        except ValueError as exc:
            raise InvalidArgumentError(f"the agent script {script} is not valid JSON ({exc})") from None
        found["script"] = str(script)
    return agent, found
