"""What the REST handlers do, as blocking functions over the public API (run off the event loop).

Each method takes and returns plain JSON-ready values; the handlers only parse requests, call one
of these in the executor and write the answer. Bad input raises :class:`InvalidArgumentError`
(400), so the base handler's one translation covers validation too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.manager import ChatML
from ..core.session import Session
from ..errors import InvalidArgumentError, WorkspaceNotFoundError
from ..models import Priority
from . import feed
from .attention import attention
from .serialize import event_json, session_json, workspace_json

CREATE_FIELDS = (
    "workspace",
    "name",
    "prompt",
    "agent",
    "permission_mode",
    "priority",
    "base",
    "model",
    "from_pr",
)
PATCH_FIELDS = ("priority", "task_status", "pinned", "name")


def check_fields(body: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    """Refuse unknown keys, naming them and the allowed ones."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidArgumentError(
            f"unknown field(s) {', '.join(unknown)} for {what}: use {', '.join(allowed)}"
        )


def text_field(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    """A string field (None when absent); blank counts as absent."""
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidArgumentError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{key} must be a string, not {type(value).__name__}")
    return value


def bool_field(body: dict[str, Any], key: str) -> bool | None:
    """A JSON boolean field (None when absent)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{key} must be true or false, not {value!r}")
    return value


class Service:
    """The server's ChatML manager and what the routes do with it."""

    def __init__(self, cm: ChatML, root: Path | None, far_behind: int) -> None:
        self.cm = cm
        self.root = root
        self.far_behind = far_behind

    # -- reads ----------------------------------------------------------------------------------

    def session(self, key: str) -> Session:
        """A session by id, name or id prefix (404/409 from the error tree)."""
        return self.cm.session(key)

    def session_json(self, session_id: str) -> dict[str, Any]:
        """One session as JSON, with its live agent state and pending approvals."""
        rec = self.cm.reconcile(self.cm.record(session_id))
        names = {ws.id: ws.name for ws in self.cm.workspaces()}
        return self._json(rec.id, names.get(rec.workspace_id, "?"))

    def _json(self, session_id: str, workspace: str) -> dict[str, Any]:
        handle = Session(self.cm, session_id)
        rec = handle.record
        state = self.cm.agent_state(rec.id)
        # An unanswered request means the agent waits: read the log only then.
        pending = handle.pending_approvals() if state == "waiting" else []
        return session_json(rec, workspace, state, pending, self.root)

    def sessions(self, include_archived: bool = True) -> list[dict[str, Any]]:
        """Every session as JSON, pinned first, then by priority, then most recently updated."""
        names = {ws.id: ws.name for ws in self.cm.workspaces()}
        found = [
            self._json(s.id, names.get(s.record.workspace_id, "?"))
            for s in self.cm.sessions(include_archived)
        ]
        rank = {p.value: p.rank for p in Priority}
        return sorted(found, key=lambda s: (not s["pinned"], rank[s["priority"]], -float(s["updated_at"])))

    def attention(self, sessions: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The ranked attention queue over every session."""
        return attention(self.sessions() if sessions is None else sessions, self.far_behind)

    def workspaces(self) -> list[dict[str, Any]]:
        """Registered workspaces."""
        return [workspace_json(ws, self.root) for ws in self.cm.workspaces()]

    def events(self, key: str, after: int, limit: int) -> dict[str, Any]:
        """A session's events after ``after``, one page at a time."""
        session = self.session(key)
        page = feed.session_events(self.cm, session.id, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return {
            "session": session.id,
            "events": [event_json(e, session.id) for e in page],
            "last_seq": page[-1].seq if page else after,
            "more": more,
        }

    # -- writes ---------------------------------------------------------------------------------

    def resolve_workspace(self, key: str) -> str | Path:
        """A workspace name or id as given; a path relative to the server's root made absolute."""
        try:
            return self.cm.workspace(key).id
        except WorkspaceNotFoundError:
            pass
        path = Path(key).expanduser()
        if not path.is_absolute() and self.root is not None:
            path = self.root / path
        if not path.exists():
            known = ", ".join(ws.name for ws in self.cm.workspaces()) or "none yet"
            raise WorkspaceNotFoundError(
                f"no workspace or repository {key!r}: give a workspace name ({known}) or the path of a git"
                " repository (relative to the server's root or absolute)"
            )
        return path

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a session from a request body (see :data:`CREATE_FIELDS`)."""
        check_fields(body, CREATE_FIELDS, "a new session")
        workspace = text_field(body, "workspace", required=True)
        assert workspace is not None
        from_pr = body.get("from_pr")
        if from_pr is not None and (isinstance(from_pr, bool) or not isinstance(from_pr, int) or from_pr < 1):
            raise InvalidArgumentError(f"from_pr must be a pull request number, not {from_pr!r}")
        handle = self.cm.new_session(
            self.resolve_workspace(workspace),
            name=text_field(body, "name"), prompt=text_field(body, "prompt"), base=text_field(body, "base"),
            priority=text_field(body, "priority"), from_pr=from_pr, agent=text_field(body, "agent"),
            model=text_field(body, "model"), permission_mode=text_field(body, "permission_mode"),
        )  # fmt: skip
        return self.session_json(handle.id)

    def patch(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change priority, task status, pin or name."""
        check_fields(body, PATCH_FIELDS, "a session update")
        if not body:
            raise InvalidArgumentError(f"nothing to change: give one of {', '.join(PATCH_FIELDS)}")
        session = self.session(key)
        session.update(
            priority=text_field(body, "priority"), task_status=text_field(body, "task_status"),
            pinned=bool_field(body, "pinned"), name=text_field(body, "name"),
        )  # fmt: skip
        return self.session_json(session.id)

    def delete(self, key: str, force: bool) -> dict[str, Any]:
        """Delete a session (409 when work would be lost and not ``force``)."""
        session = self.session(key)
        session_id, name = session.id, session.name
        return {"deleted": session_id, "name": name, "snapshot_ref": session.delete(force=force)}

    def action(self, key: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """One of :data:`ACTIONS` on a session."""
        session = self.session(key)
        if action == "archive":
            check_fields(body, ("force",), action)
            session.archive(force=bool(bool_field(body, "force")))
        elif action == "unarchive":
            check_fields(body, (), action)
            session.unarchive()
        elif action == "sync":
            check_fields(body, ("fetch",), action)
            fetch = bool_field(body, "fetch")
            session.sync(fetch=True if fetch is None else fetch)
        elif action == "send":
            check_fields(body, ("text",), action)
            text = body.get("text")
            if not isinstance(text, str):
                raise InvalidArgumentError("text is required: the message for the agent")
            session.send(text)
        elif action in ("approve", "deny"):
            check_fields(body, ("request_id", "reason") if action == "deny" else ("request_id",), action)
            request = text_field(body, "request_id")
            if action == "approve":
                answered = session.approve(request)
            else:
                answered = session.deny(request, reason=text_field(body, "reason"))
            return {
                "request_id": answered,
                "approved": action == "approve",
                "session": self.session_json(session.id),
            }
        elif action in ("stop", "interrupt"):
            check_fields(body, (), action)
            session.stop() if action == "stop" else session.interrupt()
        else:
            raise AssertionError(action)
        return {"session": self.session_json(session.id)}


ACTIONS = ("archive", "unarchive", "sync", "send", "approve", "deny", "stop", "interrupt")
