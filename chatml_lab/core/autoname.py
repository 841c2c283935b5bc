"""Auto-naming: the first task message names a session that was created with a generated name.

The runner asks for the title (:func:`chatml_lab.agents.helpers.session_title`: a small model
with a key, the message's first words without one) and hands it to :func:`apply_name`, which the
core gives the runner as its namer: renaming moves the branch, and that is the core's to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ChatMLError
from ..events import EventType
from . import naming

if TYPE_CHECKING:
    from .manager import ChatML


def apply_name(manager: ChatML, session_id: str, title: str, source: str, emit: Any) -> str | None:
    """Rename the session after ``title`` once; return the new name, or None when nothing changed.

    ``source`` says where the title came from (``"model"`` or ``"fallback"``). A title that makes
    no name settles the session as named; a failed rename is reported and retried next message.
    """
    rec = manager.record(session_id)
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
