"""The event schema: the one definition every writer and reader of the event log uses.

An event is an append-only record in a conversation's log: ``(seq, conversation_id, type, data,
created_at)``. ``seq`` is global and increasing, so a reader asks for "events after the last seq I
saw". ``data`` is a JSON object whose required keys depend on ``type`` (see :data:`REQUIRED`).
The JupyterLab extension mirrors this module in TypeScript; bump :data:`SCHEMA_VERSION` when a
required key changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgumentError

SCHEMA_VERSION = 1


class EventType(enum.StrEnum):
    """Every kind of event a conversation log can hold."""

    USER_MESSAGE = "user_message"
    ASSISTANT_DELTA = "assistant_delta"
    ASSISTANT_TEXT = "assistant_text"
    THINKING = "thinking"
    TOOL_START = "tool_start"
    TOOL_END = "tool_end"
    APPROVAL_REQUEST = "approval_request"
    APPROVAL_RESPONSE = "approval_response"
    RESULT = "result"
    ERROR = "error"
    STATE = "state"
    SETUP_OUTPUT = "setup_output"
    NAME_SUGGESTION = "name_suggestion"
    ARCHIVE_SUMMARY = "archive_summary"
    NOTICE = "notice"
    PR_UPDATE = "pr_update"


#: Keys each event type must carry in ``data``.
REQUIRED: dict[EventType, tuple[str, ...]] = {
    EventType.USER_MESSAGE: ("text",),
    EventType.ASSISTANT_DELTA: ("text",),
    EventType.ASSISTANT_TEXT: ("text",),
    EventType.THINKING: ("text",),
    EventType.TOOL_START: ("id", "tool", "input"),
    EventType.TOOL_END: ("id", "ok", "output"),
    EventType.APPROVAL_REQUEST: ("id", "tool", "input"),
    EventType.APPROVAL_RESPONSE: ("id", "approved"),
    EventType.RESULT: ("usage", "cost_usd", "duration_ms"),
    EventType.ERROR: ("message",),
    EventType.STATE: ("agent_state",),
    EventType.SETUP_OUTPUT: ("script", "output", "exit_code"),
    EventType.NAME_SUGGESTION: ("name",),
    EventType.ARCHIVE_SUMMARY: ("summary", "source"),
    EventType.NOTICE: ("message",),
    EventType.PR_UPDATE: ("pr_status", "pr_number", "pr_url", "checks", "changes"),
}


@dataclass(frozen=True)
class Event:
    """One entry of a conversation's event log."""

    seq: int
    conversation_id: str
    type: EventType
    data: dict[str, Any]
    created_at: float


def validate(event_type: str | EventType, data: dict[str, Any]) -> EventType:
    """Check that ``data`` has the keys ``event_type`` needs; return the parsed type."""
    try:
        kind = EventType(event_type)
    except ValueError:
        raise InvalidArgumentError(
            f"unknown event type {event_type!r}: use one of {', '.join(t.value for t in EventType)}"
        ) from None
    missing = [key for key in REQUIRED[kind] if key not in data]
    if missing:
        raise InvalidArgumentError(f"event {kind.value} is missing {', '.join(missing)}")
    return kind
