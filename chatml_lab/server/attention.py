"""The attention queue: which sessions need a person now, ranked, with the reason for each.

ChatML's Mission Control groups sessions by agent state. This goes further: it ranks across kinds
(an agent blocked on an approval before a crashed runner, before failing checks, a conflict with
the default branch, a broken worktree, a branch far behind, a merged PR left open), then by
priority, pin and how long the session has waited, and says in one line why each is there and what
to do. Pure functions over the session JSON of :mod:`.serialize`, so tests need no server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import Priority

#: Kinds in rank order: a session blocked on a person first.
KINDS = ("approval", "crashed", "unreachable", "checks_failed", "conflict", "health", "behind", "merged")
#: Task statuses whose drift and conflicts no longer matter.
CLOSED_STATUSES = ("done", "cancelled")
DEFAULT_FAR_BEHIND = 20


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_request(tool: str, tool_input: Any) -> str:
    """``Write fizzbuzz.py`` / ``Bash git commit -m …``: what an approval request wants to do."""
    if isinstance(tool_input, dict):
        for key in ("file_path", "command", "pattern", "path", "url"):
            if tool_input.get(key):
                return f"{tool} {_short(tool_input[key])}"
    return tool


def _conflict_files(session: dict[str, Any]) -> list[str] | None:
    """The files a session conflicts on, [] for "conflicts, files unknown", None for no conflict."""
    conflicts = session.get("conflicts")
    if isinstance(conflicts, list | tuple) and conflicts:
        return [str(c) for c in conflicts]
    if session.get("mergeable") in ("conflicting", "dirty", False):
        return []
    return None


def reasons(session: dict[str, Any], far_behind: int = DEFAULT_FAR_BEHIND) -> list[tuple[str, str]]:
    """Every ``(kind, reason)`` that puts one session in the queue, most urgent first."""
    if session.get("archived"):
        return []
    found: list[tuple[str, str]] = []
    pending = session.get("pending_approvals") or []
    if pending:
        wants = ", ".join(describe_request(str(p["tool"]), p.get("input")) for p in pending[:3])
        more = f" (+{len(pending) - 3} more)" if len(pending) > 3 else ""
        found.append(("approval", f"waiting for approval: {wants}{more}"))
    elif session.get("agent_state") == "waiting":
        found.append(("approval", "the agent is waiting for an answer"))
    if session.get("agent_state") == "crashed":
        found.append(("crashed", "the agent's runner died mid-turn: send a message to resume"))
    if session.get("agent_state") == "unreachable":  # issue 13
        machine = session.get("machine") or "its machine"
        found.append(("unreachable", f"machine {machine} does not answer: start `chatml host` there"))
    number = session.get("pr_number")
    pr = f"PR #{number}" if number else "the PR"
    if session.get("checks") == "failure":
        found.append(("checks_failed", f"checks failing on {pr}"))
    is_open = session.get("task_status") not in CLOSED_STATUSES and session.get("pr_status") != "merged"
    base = session.get("base_ref") or "the default branch"
    files = _conflict_files(session) if is_open else None
    if files is not None:
        listed = f": {', '.join(files[:3])}" + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
        found.append(("conflict", f"conflicts with {base}{listed if files else ''}"))
    health = session.get("health") or "ok"
    if health != "ok":
        found.append(("health", health))
    behind = session.get("behind") or 0
    if is_open and behind >= far_behind:
        found.append(
            ("behind", f"{behind} commits behind {base}: update the branch before it drifts further")
        )
    if session.get("pr_status") == "merged" and not session.get("archived"):
        found.append(("merged", f"{pr} is merged: archive the session to reclaim its worktree"))
    return found


def attention(
    sessions: Iterable[dict[str, Any]], far_behind: int = DEFAULT_FAR_BEHIND
) -> list[dict[str, Any]]:
    """The ranked queue: one item per session that needs a person, its top reason first.

    Order: kind (:data:`KINDS`), then priority (urgent first), pinned, the most behind (for drift),
    and the longest waiting (oldest ``updated_at``).
    """
    rank = {p.value: p.rank for p in Priority}
    keyed: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for session in sessions:
        found = reasons(session, far_behind)
        if not found:
            continue
        kind, reason = found[0]
        priority = str(session.get("priority", "none"))
        pinned = bool(session.get("pinned"))
        key = (
            KINDS.index(kind),
            rank.get(priority, len(rank)),
            not pinned,
            -(session.get("behind") or 0) if kind == "behind" else 0,
            float(session.get("updated_at") or 0),
        )
        keyed.append((key, {
            "session": session["id"], "name": session["name"], "workspace": session.get("workspace"),
            "kind": kind, "reason": reason, "also": [text for _kind, text in found[1:]],
            "priority": priority, "pinned": pinned, "agent_state": session.get("agent_state"),
        }))  # fmt: skip
    keyed.sort(key=lambda pair: pair[0])
    items = [item for _key, item in keyed]
    for position, item in enumerate(items, start=1):
        item["rank"] = position
    return items
