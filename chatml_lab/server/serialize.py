"""Records and events as the JSON the REST API and the push channel send.

The shapes here are the wire contract with the labextension (``labextension/src/api.ts``): change a
key on both sides at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..events import Event
from ..models import SessionRecord, Workspace

#: Fields a later issue adds to the record (PR checks, merge forecast). They are sent when the
#: record has them, so the sidebar and the attention queue use them the day they land.
OPTIONAL_FIELDS = ("checks", "pr_title", "pr_draft", "mergeable", "conflicts")


def relative_to_root(path: Path, root: Path | None) -> str | None:
    """``path`` relative to the server's root (POSIX form), or None when it lies outside it."""
    if root is None:
        return None
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else ""


def session_json(
    rec: SessionRecord,
    workspace: str,
    agent_state: str,
    pending: list[Event],
    root: Path | None,
) -> dict[str, Any]:
    """One session as JSON: the record, its agent state and its unanswered approval requests."""
    data: dict[str, Any] = {
        "id": rec.id,
        "name": rec.name,
        "workspace": workspace,
        "workspace_id": rec.workspace_id,
        "owner": rec.owner,
        "branch": rec.branch,
        "worktree_path": str(rec.worktree_path),
        "worktree_relative": relative_to_root(rec.worktree_path, root),
        "base_ref": rec.base_ref,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "priority": rec.priority.value,
        "task_status": rec.task_status.value,
        "pinned": rec.pinned,
        "archived": rec.archived,
        "archive_summary": rec.archive_summary,
        "pr_status": rec.pr_status.value,
        "pr_number": rec.pr_number,
        "pr_url": rec.pr_url,
        "auto_named": rec.auto_named,
        "agent_backend": rec.agent_backend,
        "model": rec.model,
        "permission_mode": rec.permission_mode.value,
        "cost_usd": rec.cost_usd,
        "ahead": rec.ahead,
        "behind": rec.behind,
        "drift_checked_at": rec.drift_checked_at,
        "health": rec.health,
        "agent_state": agent_state,
        "machine": rec.machine,
        "pending_approvals": [
            {"id": e.data["id"], "tool": e.data["tool"], "input": e.data["input"], "seq": e.seq}
            for e in pending
        ],
    }
    for name in OPTIONAL_FIELDS:
        if hasattr(rec, name):
            value = getattr(rec, name)
            data[name] = getattr(value, "value", value)
    return data


def event_json(event: Event, session_id: str | None = None) -> dict[str, Any]:
    """One event as JSON (``session`` is added when the caller knows it)."""
    data: dict[str, Any] = {
        "seq": event.seq,
        "conversation_id": event.conversation_id,
        "type": event.type.value,
        "data": event.data,
        "created_at": event.created_at,
    }
    if session_id is not None:
        data["session"] = session_id
    return data


def workspace_json(ws: Workspace, root: Path | None) -> dict[str, Any]:
    """One workspace as JSON."""
    return {
        "id": ws.id,
        "name": ws.name,
        "path": str(ws.path),
        "relative": relative_to_root(ws.path, root),
        "default_branch": ws.default_branch,
        "remote": ws.remote,
        "branch_prefix": ws.branch_prefix,
        "created_at": ws.created_at,
        "last_fetch_at": ws.last_fetch_at,
    }
