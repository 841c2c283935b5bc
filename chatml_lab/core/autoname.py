"""Auto-naming: the first task message names a session that was created with a generated name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ChatMLError
from ..events import EventType
from . import naming

if TYPE_CHECKING:
    from .manager import ChatML


def auto_name(manager: ChatML, session_id: str, text: str, emit: Any) -> str | None:
    """Name the session from ``text`` once; return the new name, or None when nothing changed.

    With an API key the title comes from a small model; without one from the message's first
    words. A model failure leaves ``auto_named`` unset so the next message tries again.
    """
    from ..agents.helpers import api_configured, suggest_title

    rec = manager.record(session_id)
    if rec.auto_named or rec.archived:
        return None
    title, source = suggest_title(text)
    if source != "model" and api_configured():
        return None  # the model failed: retry on the next message rather than settle for less
    slug = naming.name_from_text(title)
    if slug is None:
        manager.store.update_session(session_id, auto_named=1)
        return None
    taken = {s.name for s in manager.store.sessions(True, rec.workspace_id) if s.id != rec.id}
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    emit(EventType.NAME_SUGGESTION, {"name": candidate, "title": title, "source": source})
    try:
        manager.update(session_id, name=candidate)
    except ChatMLError as exc:
        emit(EventType.NOTICE, {"message": f"could not rename the session to {candidate!r}: {exc}"})
        return None
    manager.store.update_session(session_id, auto_named=1)
    return candidate
