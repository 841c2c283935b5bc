"""The event schema: the one definition every writer and reader of the event log uses.

An event is an append-only record in a conversation's log: ``(seq, conversation_id, type, data,
created_at)``. ``seq`` is global and increasing, so a reader asks for "events after the last seq I
saw". ``data`` is a JSON object whose required keys depend on ``type`` (see :data:`REQUIRED`).
The JupyterLab extension mirrors this module in TypeScript; bump :data:`SCHEMA_VERSION` when a
required key changes.
"""

from __future__ import annotations

import enum
import json
from operator import itemgetter
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


_TYPES: dict[str, EventType] = {t.value: t for t in EventType}


class Event(tuple):  # type: ignore[type-arg]
    """One entry of a conversation's event log: ``seq``, ``conversation_id``, ``type``, ``data``,
    ``created_at``. Read-only.

    A log of 100,000 events is read often (a chat panel, a report, a runner's history), so an
    event is a tuple straight from the database row: building one runs no Python code per row,
    ``type`` is looked up on access and ``data`` is parsed from its stored JSON on first access
    (then kept). Only the events a reader looks into pay for ``json.loads``.
    """

    def __new__(
        cls,
        seq: int,
        conversation_id: str,
        type: EventType | str,
        data: dict[str, Any] | str,
        created_at: float,
    ) -> Event:
        """An event from its row's values (``data`` as stored JSON or as a dict)."""
        return tuple.__new__(cls, (seq, conversation_id, type, data, created_at))

    seq: int = property(itemgetter(0))  # type: ignore[assignment]
    conversation_id: str = property(itemgetter(1))  # type: ignore[assignment]
    created_at: float = property(itemgetter(4))  # type: ignore[assignment]

    @property
    def type(self) -> EventType:
        """The event's type."""
        return _TYPES[self[2]]

    @property
    def data(self) -> dict[str, Any]:
        """The event's payload (parsed from JSON on first access, then kept)."""
        raw = self[3]
        if isinstance(raw, dict):
            return raw
        kept = self.__dict__
        data: dict[str, Any] | None = kept.get("data")
        if data is None:
            data = kept["data"] = json.loads(raw)
        return data

    def as_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (``json.dumps(event)`` would write the row as a list)."""
        return {"seq": self.seq, "conversation_id": self.conversation_id, "type": self.type.value,
                "data": self.data, "created_at": self.created_at}  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.seq, self.conversation_id, self.type, self.data, self.created_at) == (
            other.seq, other.conversation_id, other.type, other.data, other.created_at,
        )  # fmt: skip

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # data is a dict: not hashable (as before)

    def __repr__(self) -> str:
        return (
            f"Event(seq={self.seq!r}, conversation_id={self.conversation_id!r}, type={self.type!r},"
            f" data={self.data!r}, created_at={self.created_at!r})"
        )

    def __getnewargs__(self) -> tuple[Any, ...]:  # type: ignore[override]
        return (self.seq, self.conversation_id, self.type.value, self.data, self.created_at)


def validate(event_type: str | EventType, data: dict[str, Any]) -> EventType:
    """Check that ``data`` has the keys ``event_type`` needs; return the parsed type."""
    kind = _TYPES.get(event_type)  # a plain look-up: the runner validates every streamed chunk
    if kind is None:
        raise InvalidArgumentError(
            f"unknown event type {event_type!r}: use one of {', '.join(t.value for t in EventType)}"
        )
    for key in REQUIRED[kind]:
        if key not in data:
            missing = [key for key in REQUIRED[kind] if key not in data]
            raise InvalidArgumentError(f"event {kind.value} is missing {', '.join(missing)}")
    return kind
