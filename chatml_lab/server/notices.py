"""What deserves a JupyterLab notification: derived from new events and from session-list changes.

Pure functions, so what notifies (and what does not) is tested without a browser. The hub sends
each notice to every connected sidebar, which shows it with Lab's notification manager.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..events import Event, EventType
from .attention import describe_request


def _notice(kind: str, level: str, session: dict[str, Any], message: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "level": level,
        "session": session["id"],
        "name": session["name"],
        "message": message,
    }


def event_notices(pairs: Iterable[tuple[dict[str, Any], Event]]) -> list[dict[str, Any]]:
    """Notices for new events: an approval request, a finished turn, a crashed runner."""
    out = []
    for session, event in pairs:
        name = session["name"]
        if event.type is EventType.APPROVAL_REQUEST:
            wants = describe_request(str(event.data["tool"]), event.data.get("input"))
            out.append(_notice("approval", "warning", session, f"{name} waits for your approval: {wants}"))
        elif event.type is EventType.RESULT:
            failed = bool(event.data.get("is_error"))
            level, verb = (
                ("error", "ended its turn with an error") if failed else ("info", "finished its turn")
            )
            out.append(_notice("turn_end", level, session, f"{name} {verb}"))
        elif event.type is EventType.STATE and event.data.get("agent_state") == "crashed":
            out.append(
                _notice("crashed", "error", session, f"the agent of {name} crashed: send a message to resume")
            )
    return out


def list_notices(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Notices for record changes between two session lists: a PR merged, checks started failing."""
    out = []
    for session_id, new in after.items():
        old = before.get(session_id)
        if old is None:
            continue
        pr = f"PR #{new['pr_number']}" if new.get("pr_number") else "the PR"
        if new.get("pr_status") == "merged" and old.get("pr_status") != "merged":
            out.append(_notice("pr_merged", "success", new, f"{pr} of {new['name']} was merged"))
        if new.get("checks") == "failure" and old.get("checks") != "failure":
            out.append(_notice("checks_failed", "error", new, f"checks are failing on {pr} of {new['name']}"))
    return out
