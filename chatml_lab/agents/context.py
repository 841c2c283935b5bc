"""Building a backend's :class:`AgentContext` from the database, and choosing the default agent."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import AgentError, AgentUnavailableError, option
from ..events import EventType
from ..models import PermissionMode, Workspace
from ..storage.store import Store
from .backend import AgentContext, Ask, Backend, backend_class
from .sandbox import SandboxPolicy

DEFAULT_ORDER = ("anthropic", "claude-code")


def claude_code_logged_in() -> bool:
    """True when Claude Code has credentials: a token in the environment or a credentials file."""
    if os.environ.get("CLAUDE_CODE_OAUTH_TOKEN") or os.environ.get("ANTHROPIC_API_KEY"):
        return True
    config = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    return (config / ".credentials.json").is_file()


def default_agent() -> str:
    """``anthropic`` with a key, else ``claude-code`` when installed and logged in, else an error."""
    for name in DEFAULT_ORDER:
        try:
            reason = backend_class(name).unavailable_reason()
        except AgentUnavailableError as exc:
            reason = str(exc)
        if reason is None and (name != "claude-code" or claude_code_logged_in()):
            return name
    raise AgentUnavailableError(
        "no agent is configured: set ANTHROPIC_API_KEY for `anthropic`, install `chatml-lab[claude-code]`"
        f" and log in for `claude-code`, or use {option('agent', 'scripted')} for the offline demo agent"
    )


def resolve_agent(name: str | None) -> str:
    """Check that ``name`` (or the default) can run here; return the backend name."""
    chosen = name or default_agent()
    reason = backend_class(chosen).unavailable_reason()
    if reason is not None:
        raise AgentUnavailableError(f"agent {chosen!r} cannot run: {reason}")
    return chosen


def git_common_dir(worktree: Path) -> Path:
    """The repository's shared git dir (where a worktree's objects and refs live).

    Read from the worktree's ``.git`` file and its git dir's ``commondir`` (what git itself
    reads), so a runner's first answer does not wait for a git process; git answers otherwise.
    """
    try:
        pointer = (worktree / ".git").read_text(encoding="utf-8").strip()
        if pointer.startswith("gitdir:"):
            gitdir = Path(pointer.removeprefix("gitdir:").strip())
            gitdir = gitdir if gitdir.is_absolute() else (worktree / gitdir)
            common = (gitdir / "commondir").read_text(encoding="utf-8").strip()
            found = Path(common) if Path(common).is_absolute() else gitdir / common
            if (found / "objects").is_dir():
                return found.resolve()
    except OSError:
        pass
    out = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
        cwd=worktree,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise AgentError(f"{worktree} is not a git worktree any more: {out.stderr.strip()}")
    return Path(out.stdout.strip())


def _upstream(workspace: Workspace | None) -> str | None:
    """``origin/<default>`` (the local default branch where there is no remote)."""
    if workspace is None:
        return None
    return f"{workspace.remote}/{workspace.default_branch}" if workspace.remote else workspace.default_branch


def build_context(
    store: Store,
    conversation_id: str,
    emit: Any,
    ask: Ask,
    cancelled: threading.Event,
    config: Config | None = None,
) -> tuple[AgentContext, type[Backend]]:
    """The context and backend class for a conversation, read from the store and ``config``."""
    conversation = store.conversation(conversation_id)
    if conversation is None:
        raise AgentError(f"conversation {conversation_id} does not exist")
    session = store.session(conversation.session_id)
    if session is None:
        raise AgentError(f"session of conversation {conversation_id} does not exist")
    workspace = store.workspace(session.workspace_id)
    if session.archived:
        raise AgentError(f"session {session.name!r} is archived: unarchive it to talk to its agent")
    # A conversation may carry its own agent options (a review: plan mode, the review model).
    own = store.conversation_options(conversation_id)
    name = own.get("agent") or session.agent_backend or default_agent()
    cls = backend_class(name)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise AgentUnavailableError(f"agent {name!r} cannot run: {reason}")
    env = {
        **os.environ,
        "CHATML_SESSION_NAME": session.name,
        "CHATML_ROOT_PATH": str(workspace.path if workspace else ""),
        "CHATML_WORKSPACE_PATH": str(session.worktree_path),
        "CHATML_PORT": str(session.port_base),
    }

    def save_state(state: dict[str, Any]) -> None:
        from .runner import redact_data

        store.save_backend_state(conversation_id, redact_data(state))

    ctx = AgentContext(
        conversation_id=conversation_id,
        session_name=session.name,
        branch=session.branch,
        worktree=session.worktree_path,
        git_common_dir=git_common_dir(session.worktree_path),
        permission_mode=PermissionMode.parse(own.get("permission_mode") or session.permission_mode),
        model=own.get("model") or session.model,
        options={**session.agent_options, **own.get("agent_options", {})},
        env=env,
        emit=emit,
        ask=ask,
        cancelled=cancelled,
        state=store.backend_state(conversation_id),
        save_state=save_state,
        history=store.events([conversation_id]),
        sandbox=SandboxPolicy.from_config(config or Config()),
        conversation_kind=conversation.kind.value,
        session_id=session.id,
        store=store,
        upstream=_upstream(workspace),
        base_commit=session.base_commit,
        instructions=str(own.get("instructions") or ""),
    )
    if not session.agent_backend and not own.get("agent"):
        store.update_session(session.id, agent_backend=name)
        emit(EventType.NOTICE, {"message": f"using agent {name!r}"})
    return ctx, cls
