"""Several conversations per session, review conversations and their findings (issue 10).

A session has one ``task`` conversation and any number of ``review`` and ``chat`` ones, each with
its own agent state, runner and transcript. A review (:func:`start_review`) is a conversation
whose options make it read-only (plan mode), use the review model, carry the prompt of its kind
(:mod:`chatml_lab.core.review_prompts`) and get the review tools; its findings are rows, listed by
:func:`finding_rows` and handed to the task conversation by :func:`fix_findings`.

Plain functions over ``(manager, session_id)``; :class:`~chatml_lab.core.session.Session` wraps them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents import lease
from ..errors import (
    AgentTimeoutError,
    AgentUnavailableError,
    InvalidArgumentError,
    SessionArchivedError,
    SessionError,
)
from ..events import Event
from ..models import Conversation, ConversationKind, Finding, FindingStatus, PermissionMode, Scorecard
from ..storage.findings import finding_number
from . import review_prompts

if TYPE_CHECKING:
    from .manager import ChatML

#: A small, fast model: ChatML reviews with Haiku by default.
DEFAULT_REVIEW_MODEL = "claude-haiku-4-5"
REVIEW_MODEL_SETTING = "review_model"
#: Backends whose agent loop serves the review tools.
REVIEW_AGENTS = ("anthropic", "scripted")
FINDING_COLUMNS = ["id", "file", "line", "severity", "title", "body", "status", "conversation", "created_at"]

ConversationKey = Conversation | str | None


def default_review_script() -> Path:
    """The scripted review shipped for the demo, tests and Binder."""
    return Path(str(files("chatml_lab.agents") / "scripts" / "review.json"))


def review_model(cm: ChatML) -> str:
    """The model reviews use: the ``review_model`` setting, else :data:`DEFAULT_REVIEW_MODEL`."""
    return cm.store.setting(REVIEW_MODEL_SETTING) or DEFAULT_REVIEW_MODEL


def set_review_model(cm: ChatML, model: str | None) -> None:
    """Choose the review model (None restores the default)."""
    if model is not None and not model.strip():
        raise InvalidArgumentError("the review model is empty: name a model, e.g. claude-haiku-4-5")
    cm.store.set_setting(REVIEW_MODEL_SETTING, model.strip() if model else None)


# -- conversations --------------------------------------------------------------------------------


def conversations(cm: ChatML, session_id: str) -> list[Conversation]:
    """The session's conversations, oldest first (the task conversation first)."""
    cm.record(session_id)
    return cm.store.conversations(session_id)


def conversation(cm: ChatML, session_id: str, key: ConversationKey = None) -> Conversation:
    """The conversation named by ``key``.

    ``key`` is None for the task one, a Conversation, an id (or a 4+ character prefix), a title
    (``Review #1: Quick review``), or a kind (``review`` means the newest review).
    """
    if key is None:
        return cm.agents.conversation(session_id, ConversationKind.TASK)
    convs = conversations(cm, session_id)
    wanted = key.id if isinstance(key, Conversation) else str(key).strip()
    lowered = wanted.lower()
    tests: list[Callable[[Conversation], bool]] = [
        lambda c: c.id == wanted,
        lambda c: len(wanted) >= 4 and c.id.startswith(wanted),
        lambda c: c.title.lower() == lowered,
        lambda c: c.title.lower().split(":")[0] == lowered,
    ]
    for test in tests:
        found = [c for c in convs if test(c)]
        if len(found) == 1:
            return found[0]
    if lowered == ConversationKind.TASK.value:
        return cm.agents.conversation(session_id, ConversationKind.TASK)
    of_kind = [c for c in convs if c.kind.value == lowered]
    if of_kind:
        return of_kind[-1]
    known = "; ".join(f"{c.title} ({c.id[:8]})" for c in convs)
    raise SessionError(f"no conversation {wanted!r} in this session: use one of {known}")


def new_conversation(
    cm: ChatML,
    session_id: str,
    kind: ConversationKind | str = ConversationKind.CHAT,
    title: str | None = None,
    options: dict[str, Any] | None = None,
) -> Conversation:
    """Add a ``review`` or ``chat`` conversation (titled ``Review #N``/``Chat #N`` by default)."""
    chosen = ConversationKind.parse(kind)
    if chosen is ConversationKind.TASK:
        raise InvalidArgumentError("a session has one task conversation: add a 'chat' or 'review' one")
    cm.owners.check(session_id)
    rec = cm.record(session_id)
    if rec.archived:
        raise SessionArchivedError(f"session {rec.name!r} is archived: unarchive it first")
    number = 1 + sum(c.kind is chosen for c in cm.store.conversations(session_id))
    conv_id = cm.store.add_conversation(
        session_id, chosen, title or f"{chosen.value.title()} #{number}", options=options
    )
    found = cm.store.conversation(conv_id)
    assert found is not None
    return found


def send(cm: ChatML, session_id: str, text: str, key: ConversationKey = None) -> Conversation:
    """Queue ``text`` for a conversation (default: the task one); returns the conversation."""
    if key is None:
        cm.agents.send(session_id, text)
        return cm.agents.conversation(session_id, ConversationKind.TASK)
    conv = conversation(cm, session_id, key)
    cm.agents.send(session_id, text, conv.kind, conversation_id=conv.id)
    return conv


def events(cm: ChatML, session_id: str, after: int = 0, key: ConversationKey = None) -> list[Event]:
    """Events with ``seq > after`` of one conversation, or of all of them when ``key`` is None."""
    if key is None:
        return cm.store.events([c.id for c in cm.store.conversations(session_id)], after=after)
    return cm.store.events([conversation(cm, session_id, key).id], after=after)


# -- reviews --------------------------------------------------------------------------------------


def _review_agent(cm: ChatML, backend: str | None) -> str:
    """The backend a review runs on: the session's when its loop has the review tools."""
    from ..agents.context import resolve_agent

    agent = resolve_agent(backend)
    if agent in REVIEW_AGENTS:
        return agent
    try:
        return resolve_agent("anthropic")
    except AgentUnavailableError:
        raise AgentUnavailableError(
            f"reviews run on the built-in agent loop (the review tools live there), not on {agent!r}:"
            " set ANTHROPIC_API_KEY so the review can use agent 'anthropic'"
        ) from None


def start_review(
    cm: ChatML,
    session_id: str,
    kind: str = "quick",
    instructions: str | None = None,
    model: str | None = None,
) -> Conversation:
    """Start a review conversation of ``kind`` and return it (the agent works in the background)."""
    chosen = review_prompts.kind(kind)
    rec = cm.record(session_id)
    if rec.archived:
        raise SessionArchivedError(f"session {rec.name!r} is archived: unarchive it before a review")
    agent = _review_agent(cm, rec.agent_backend)
    agent_options: dict[str, Any] = {"review_kind": chosen.name}
    if agent == "scripted":
        script = rec.agent_options.get("review_script") or default_review_script()
        agent_options["script"] = str(script)
    options: dict[str, Any] = {
        "permission_mode": PermissionMode.PLAN.value,
        "model": model or review_model(cm),
        "instructions": review_prompts.review_prompt(chosen.name, instructions),
        "agent_options": agent_options,
        "review_kind": chosen.name,
    }
    if agent != rec.agent_backend:
        options["agent"] = agent
    number = 1 + sum(c.kind is ConversationKind.REVIEW for c in cm.store.conversations(session_id))
    conv = new_conversation(
        cm, session_id, ConversationKind.REVIEW, f"Review #{number}: {chosen.label}", options
    )
    text = f"Review: {chosen.label}" + (f"\n\n{instructions.strip()}" if instructions else "")
    try:
        cm.agents.send(session_id, text, ConversationKind.REVIEW, conversation_id=conv.id)
    except BaseException:
        cm.store.delete_conversation(conv.id)  # nothing half-made
        raise
    return conv


# -- findings -------------------------------------------------------------------------------------


def finding_rows(
    cm: ChatML, session_id: str, status: FindingStatus | str | None = None
) -> list[dict[str, Any]]:
    """The session's findings as plain dicts (columns :data:`FINDING_COLUMNS`), by id."""
    wanted = FindingStatus.parse(status) if status is not None else None
    titles = {c.id: c.title for c in cm.store.conversations(session_id)}
    return [
        {
            "id": f.id, "file": f.file_path, "line": f.line_number, "severity": f.severity.value,
            "title": f.title, "body": f.content, "status": f.status.value,
            "conversation": titles.get(f.conversation_id or "", ""),
            "created_at": datetime.fromtimestamp(f.created_at, UTC),
        }
        for f in cm.store.findings(session_id, status=wanted)
    ]  # fmt: skip


def _chosen(cm: ChatML, session_id: str, ids: Iterable[str | int] | None) -> list[Finding]:
    open_ = cm.store.findings(session_id, status=FindingStatus.OPEN)
    if ids is None:
        return open_
    numbers = []
    for raw in [ids] if isinstance(ids, str | int) else ids:
        number = finding_number(raw)
        if number is None or cm.store.finding(session_id, number) is None:
            raise InvalidArgumentError(f"no finding {raw!r} in this session: see session.findings()")
        numbers.append(number)
    chosen = [f for f in open_ if finding_number(f.id) in numbers]
    closed = sorted({f"F{n}" for n in numbers} - {f.id for f in chosen})
    if closed:
        raise InvalidArgumentError(f"{', '.join(closed)} already resolved: reopen with resolve(id, 'open')")
    return chosen


def fix_message(found: list[Finding]) -> str:
    """The message that hands findings to the task conversation."""
    lines = [
        f"Please fix {'this review finding' if len(found) == 1 else f'these {len(found)} review findings'}."
        " After each one, call resolve_review_comment with its id and resolution 'fixed', or"
        " 'ignored' with a note saying why it should stay as it is.",
    ]
    for f in found:
        place = f.file_path + (f":{f.line_number}" if f.line_number else "")
        lines += ["", f"### {f.id} [{f.severity.value}] {place}: {f.title}", f.content.strip()]
    return "\n".join(lines)


def fix_findings(cm: ChatML, session_id: str, ids: Iterable[str | int] | str | None = None) -> str:
    """Send the open findings (or those of ``ids``) to the task conversation as one message."""
    cm.owners.check(session_id)
    found = _chosen(cm, session_id, ids)  # type: ignore[arg-type]
    if not found:
        raise InvalidArgumentError("no open findings to fix: start one with session.review()")
    message = fix_message(found)
    cm.agents.send(session_id, message)
    return message


def resolve(
    cm: ChatML,
    session_id: str,
    finding_id: str | int,
    resolution: FindingStatus | str,
    note: str | None = None,
) -> Finding:
    """Mark a finding ``fixed``/``ignored`` by hand (or ``open`` again)."""
    status = FindingStatus.parse(resolution)
    cm.owners.check(session_id)
    if cm.store.finding(session_id, finding_id) is None:
        raise InvalidArgumentError(f"no finding {finding_id!r} in this session: see session.findings()")
    found = cm.store.resolve_finding(session_id, finding_id, status, note, resolved_by="user")
    assert found is not None
    return found


def scorecards(cm: ChatML, session_id: str) -> list[Scorecard]:
    """The session's review scorecards, oldest first."""
    return cm.store.scorecards(session_id)


def wait_conversation(cm: ChatML, session_id: str, key: ConversationKey, timeout: float | None = None) -> str:
    """Block until one conversation's agent is idle (or waits, stopped, crashed); return its state."""
    conv = conversation(cm, session_id, key)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        state = cm.agents.state(conv.id)
        served = lease.is_live(lease.read_lease(cm.store, conv.id), cm.config.lease_stale_after)
        queued = bool(cm.store.pending_inbox(conv.id)) and served
        if state.value != "running" and not queued:
            return state.value
        if deadline is not None and time.monotonic() > deadline:
            raise AgentTimeoutError(f"conversation {conv.title!r} is still working after {timeout:g} s")
        time.sleep(0.05)
