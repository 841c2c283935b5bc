"""The event log as the server reads it: every conversation at once, in ``seq`` order.

The push channel polls the database once for all sessions (the database is the bus, DESIGN §3),
so it needs a read across conversations that :class:`~chatml_lab.core.session.Session` does not
offer. The store's two named reads it uses live here, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.manager import ChatML
from ..events import Event

#: At most this many events per read: a long backlog is sent in pages, never in one message.
PAGE = 500


def conversation_map(cm: ChatML, session_ids: Iterable[str]) -> dict[str, str]:
    """Conversation id -> session id for the given sessions."""
    return {conv.id: sid for sid in session_ids for conv in cm.store.conversations(sid)}


def events(cm: ChatML, conversation_ids: Iterable[str], after: int, limit: int = PAGE) -> list[Event]:
    """Events of the given conversations with ``seq > after``, oldest first, at most ``limit``."""
    return cm.store.events(sorted(conversation_ids), after=after, limit=limit)


def session_events(cm: ChatML, session_id: str, after: int, limit: int = PAGE) -> list[Event]:
    """One session's events (all its conversations) with ``seq > after``, at most ``limit``."""
    cm.record(session_id)  # raises SessionNotFoundError for an unknown id
    return events(cm, conversation_map(cm, [session_id]), after, limit)
