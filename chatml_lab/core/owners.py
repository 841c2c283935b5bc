"""Owners (issue 13): every workspace and session has one; others read a session but do not change it.

The owner of a session is the user who created it (:attr:`Config.user <chatml_lab.config.Config.user>`:
``CHATML_USER``, else ``JUPYTERHUB_USER``, else the OS user). Its owner may share it with named
people, who may then change it as the owner does (send, approve, archive, push...); everyone else
sees it read-only. A row without owner (made before migration 8) is claimed by the first process
that opens the store.

This module is the check in Python, made at the few places every change of a session passes
(:meth:`Operations.settle <chatml_lab.core.operations.Operations.settle>`, :meth:`Records.live
<chatml_lab.core.records.Records.live>`, the agent controls). On PostgreSQL the database makes the same
check itself with row-level security (:mod:`chatml_lab.storage.rls`), whatever the Python says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import InvalidArgumentError, NotOwnerError, SessionNotFoundError, command
from ..models import SessionRecord, Workspace
from ..storage.store import Store

#: A person's name: what PostgreSQL accepts as a role name without quoting trouble, and a login name.
PERSON = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$")


def check_person(person: str) -> str:
    """``person`` stripped, or :class:`InvalidArgumentError` when it cannot be a user's name."""
    name = person.strip()
    if not PERSON.match(name):
        raise InvalidArgumentError(
            f"{person!r} is not a user name: give the name the person runs chatml as"
            " (their CHATML_USER, JupyterHub or login name: letters, digits, _ . @ -)"
        )
    return name


class Owners:
    """Who may change which session, for the acting :attr:`user`; sharing."""

    def __init__(self, store: Store, user: str) -> None:
        self.store = store
        self.user = user

    # -- who may write --------------------------------------------------------------------------

    def may_write(self, rec: SessionRecord, shared: set[str] | None = None) -> bool:
        """True when :attr:`user` owns ``rec`` or it is shared with them.

        ``shared`` (ids shared with the user, from :meth:`shared_ids`) saves a query per record.
        """
        if rec.owner in (self.user, ""):
            return True
        if shared is not None:
            return rec.id in shared
        return self.store.is_shared(rec.id, self.user)

    def shared_ids(self) -> set[str]:
        """Ids of the sessions others shared with :attr:`user` (one query)."""
        return self.store.shared_with(self.user)

    def writable(self, records: Iterable[SessionRecord]) -> list[SessionRecord]:
        """The records :attr:`user` may change, in order (at most one query)."""
        records = list(records)
        shared = self.shared_ids() if any(r.owner not in (self.user, "") for r in records) else set()
        return [r for r in records if self.may_write(r, shared)]

    def refusal(self, rec: SessionRecord) -> NotOwnerError:
        """The one-line error for a change of ``rec`` that :attr:`user` may not make."""
        share = command(f"share {rec.name} {self.user}", f'cm.session("{rec.name}").share("{self.user}")')
        return NotOwnerError(
            f"session {rec.name!r} belongs to {rec.owner}: you ({self.user}) may read it but not change it;"
            f" ask {rec.owner} to share it with you ({share})"
        )

    def check(self, session: str | SessionRecord) -> SessionRecord | None:
        """Raise :class:`NotOwnerError` unless :attr:`user` may change the session; return its record
        (None when it does not exist: the caller says so in its own words).
        """
        rec = self.store.session(session) if isinstance(session, str) else session
        if rec is not None and not self.may_write(rec):
            raise self.refusal(rec)
        return rec

    def check_workspace(self, ws: Workspace, action: str) -> None:
        """Raise :class:`NotOwnerError` unless :attr:`user` owns the workspace (``action`` words it)."""
        if ws.owner not in (self.user, ""):
            raise NotOwnerError(
                f"workspace {ws.name!r} belongs to {ws.owner}: only they can {action}"
                f" (you are {self.user}; sessions you create in it are yours)"
            )

    # -- sharing --------------------------------------------------------------------------------

    def _own(self, session_id: str, action: str) -> SessionRecord:
        rec = self.store.session(session_id)
        if rec is None:
            raise SessionNotFoundError(f"session {session_id} no longer exists")
        if rec.owner not in (self.user, ""):
            raise NotOwnerError(
                f"only {rec.owner}, who owns session {rec.name!r}, can {action} it (you are {self.user})"
            )
        return rec

    def share(self, session_id: str, person: str) -> bool:
        """Let ``person`` change the session as its owner does; False when they already could."""
        rec = self._own(session_id, "share")
        person = check_person(person)
        if person == (rec.owner or self.user):
            return False
        return self.store.add_share(rec.id, person)

    def unshare(self, session_id: str, person: str) -> bool:
        """Make the session read-only for ``person`` again; False when it was not shared with them."""
        rec = self._own(session_id, "unshare")
        return self.store.remove_share(rec.id, check_person(person))

    def shares(self, session_id: str) -> list[str]:
        """The people a session is shared with, by name."""
        return self.store.shares(session_id)
