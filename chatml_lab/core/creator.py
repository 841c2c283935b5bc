"""Session creation (DESIGN §4): fetch, a worktree on a new branch, included files, setup scripts.

Names are chosen and the worktree made under the repository's lock, so concurrent creations from
several processes never collide; every step is undone when a later one fails.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InvalidArgumentError, InvalidNameError, SessionExistsError
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import ConversationKind, PermissionMode, Priority, SessionRecord, Workspace
from ..storage.store import new_id
from . import naming, scripts
from .worktrees import copy_included

if TYPE_CHECKING:
    from .manager import ChatML
    from .session import Session

MAX_NAME_ATTEMPTS = 12


def join_branch(prefix: str, name: str) -> str:
    """``<prefix>/<name>``, or ``<name>`` without a prefix."""
    return f"{prefix}/{name}" if prefix else name


class Creator:
    """Makes new sessions for one manager."""

    def __init__(self, cm: ChatML) -> None:
        self.cm = cm

    def create(
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
        """Create a session (see :meth:`ChatML.new_session`)."""
        if agent is not None and agent.startswith("scripted:"):
            agent, script = "scripted", agent.split(":", 1)[1]
            agent_options = {**(agent_options or {}), "script": str(Path(script).expanduser().resolve())}
        if agent is not None or prompt:
            from ..agents.context import resolve_agent

            agent = resolve_agent(agent)
        ws = self.cm._resolve_workspace(repo_or_workspace)
        repo = GitRepo(ws.path)
        prio = Priority.parse(priority) if priority is not None else Priority.NONE
        mode = (
            PermissionMode.parse(permission_mode) if permission_mode is not None else PermissionMode.DEFAULT
        )
        if from_pr is not None and base is not None:
            raise InvalidArgumentError("give either --from-pr or --base, not both")
        wanted = naming.slugify(name) if name is not None else None
        if wanted is None and from_pr is not None:
            wanted = f"pr-{from_pr}"
        prefix = self.cm._prefix(ws)
        if prefix and not naming.valid_prefix(prefix):  # stored by hand or by an older version
            raise ConfigError(
                f"branch prefix {prefix!r} is not valid in a git branch name:"
                " change it with `chatml settings --branch-prefix`"
            )
        if wanted is not None and not repo.valid_branch_name(join_branch(prefix, wanted)):
            raise InvalidNameError(
                f"git refuses {join_branch(prefix, wanted)!r} as a branch name: choose another"
            )
        base_dir = self.cm.workspaces_dir / ws.name
        # Probe the base dir, not <base>/<workspace>: a call that fails later must leave no directory.
        self.cm._check_writable(self.cm.workspaces_dir)
        scripts.load_scripts(ws.path, "setup")  # a broken .chatml/config.json fails before anything is made
        warnings: list[str] = []
        if from_pr is not None:
            if not ws.remote:
                raise InvalidArgumentError(f"workspace {ws.name!r} has no remote to fetch pull requests from")
            if from_pr <= 0:
                raise InvalidArgumentError(f"pull request number must be positive, not {from_pr}")
            self.cm.progress(f"fetching pull request #{from_pr}")
            start = repo.fetch_pull_request(ws.remote, from_pr, self.cm.config.fetch_timeout)
            base_ref = f"pull/{from_pr}/head"
        else:
            fetch_error = self.cm._fetch(repo, ws)
            if fetch_error:
                warnings.append(f"fetch failed, using local refs ({fetch_error})")
            base_ref = base or self.cm._upstream(repo, ws)
            start = repo.require(base_ref)
        self.cm.progress("creating worktree")
        with repo.lock():
            rec = self._create_locked(
                repo, ws, base_dir, prefix, wanted, base_ref, start, prio, mode, agent, model, from_pr,
                agent_options or {},
            )  # fmt: skip
        try:
            task = self.cm.agents.conversation(rec.id).id
            for warning in warnings:
                self.cm.store.append_event(task, EventType.NOTICE, {"message": warning})
            copy_included(repo, ws.path, rec.worktree_path)
        except BaseException:
            self._rollback_create(repo, rec)
            raise
        failed = self.cm.run_scripts("setup", rec, ws, task)
        if failed is not None:  # kept, not rolled back: the user needs the worktree to see why
            self.cm.store.append_event(task, EventType.ERROR, {
                "message": f"setup script {failed.script.name!r} exited {failed.exit_code}; later scripts skipped"
            })  # fmt: skip
            self.cm.store.update_session(rec.id, health=f"setup script {failed.script.name} failed")
        session = self.cm._handle(rec.id)
        if prompt:
            session.send(prompt)
        return session

    def _create_locked(
        self,
        repo: GitRepo,
        ws: Workspace,
        base_dir: Path,
        prefix: str,
        wanted: str | None,
        base_ref: str,
        start: str,
        prio: Priority,
        mode: PermissionMode,
        agent: str | None,
        model: str | None,
        from_pr: int | None,
        agent_options: dict[str, Any],
    ) -> SessionRecord:
        taken = {s.name for s in self.cm.store.sessions(include_archived=True, workspace_id=ws.id)}
        for attempt in range(MAX_NAME_ATTEMPTS):
            name = wanted or naming.generated_name(attempt)
            branch = join_branch(prefix, name)
            path = base_dir / name
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
        repo.add_worktree(path, branch, start)
        now = time.time()
        rec = SessionRecord(
            id=new_id(), workspace_id=ws.id, name=name, branch=branch, worktree_path=path,
            base_ref=base_ref, base_commit=start, created_at=now, updated_at=now, priority=prio,
            agent_backend=agent, model=model, permission_mode=mode, pr_number=from_pr,
            auto_named=wanted is not None, agent_options=agent_options,
        )  # fmt: skip
        try:
            with self.cm.store.transaction() as conn:
                port = self.cm.store.free_port_base(
                    conn, self.cm.config.port_start, self.cm.config.port_block
                )
                rec = replace(rec, port_base=port)
                self.cm.store.insert_session(conn, rec)
                self.cm.store.insert_conversation(conn, rec.id, ConversationKind.TASK, "Task")
        except BaseException:
            self._undo_git(repo, path, branch)
            raise
        return rec

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
        self.cm.store.delete_session(rec.id)
        self._undo_git(repo, rec.worktree_path, rec.branch)
