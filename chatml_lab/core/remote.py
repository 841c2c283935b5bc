"""Git operations asked of the machine that holds a session's worktree (issue 13).

A session belongs to the machine whose disk holds its worktree; sync, archive, unarchive, delete,
rename, push, pull requests and branch updates need that disk. Asked for on another machine, they
become a *request* row for the session's machine (:meth:`Remote.call`): its runner host
(:mod:`.host_duties`) runs the same core API there, in a process of its own, and writes the result
or the error; the asker waits up to :attr:`~chatml_lab.config.Config.remote_timeout` seconds and
returns that result or raises that error. A machine whose host does not heartbeat is refused at
once with :class:`~chatml_lab.errors.MachineUnreachableError` naming it; one that stops
heartbeating while the asker waits likewise (its host settles the half-done operation when it is
back, through the operation journal, as after any crash).

Creating a session in a workspace whose repository lives on another machine runs there too.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import errors
from ..errors import ChatMLError, MachineUnreachableError, RemoteOperationError, RemoteTimeoutError
from ..models import PullRequestLink, SessionRecord
from ..storage.machines import FAILED, Request
from .machines import reach, wake

if TYPE_CHECKING:
    from .manager import ChatML

#: Seconds between two looks at a request's row while its machine works on it.
WAIT_TICK = 0.02


def _record(_cm: ChatML, found: Any) -> Any:
    return found.id if isinstance(found, SessionRecord) else None


def _same(_cm: ChatML, found: Any) -> Any:
    return found


def _link(_cm: ChatML, found: Any) -> Any:
    return dataclasses.asdict(found)


#: What each action calls on the session's machine, and how its result travels back as JSON.
ACTIONS: dict[str, tuple[Callable[[ChatML, str, dict[str, Any]], Any], Callable[[ChatML, Any], Any]]] = {
    "sync": (lambda cm, sid, a: cm.sync(sid, fetch=a["fetch"], background=a["background"]), _record),
    "archive": (lambda cm, sid, a: cm.archive(sid, force=a["force"]), _record),
    "unarchive": (lambda cm, sid, a: cm.unarchive(sid), _record),
    "delete": (lambda cm, sid, a: cm.delete(sid, force=a["force"]), _same),
    "update": (lambda cm, sid, a: cm.update(sid, **a), _record),
    "push": (lambda cm, sid, a: cm.push(sid, force_with_lease=a["force_with_lease"]), _same),
    "create_pr": (lambda cm, sid, a: cm.create_pr(sid, **a), _link),
    "merge_pr": (lambda cm, sid, a: cm.merge_pr(sid, method=a["method"], force=a["force"]), _same),
    "update_branch": (lambda cm, sid, a: cm.update_branch(sid, method=a["method"]), _record),
    "abort_update": (lambda cm, sid, a: cm.abort_update(sid), _record),
    "disk_usage": (lambda cm, sid, a: cm.disk_usage(sid), _same),
    "new_session": (lambda cm, sid, a: cm.new_session(sid, **a).id, _same),
}


def execute(cm: ChatML, request: Request) -> None:
    """Run ``request`` with ``cm`` (this machine's manager) and record its answer.

    A :class:`~chatml_lab.errors.ChatMLError` travels back as its class and message (the message
    unspelled, so the asker's UI spells its options); anything else as a
    :class:`~chatml_lab.errors.RemoteOperationError`.
    """
    try:
        call, encode = ACTIONS[request.action]
        result = encode(cm, call(cm, request.session_id or "", request.args))
    except ChatMLError as exc:
        cm.store.finish_request(request.id, error_kind=type(exc).__name__, error=Exception.__str__(exc))
    except Exception as exc:  # the asker gets one line, not a hang
        cm.store.finish_request(
            request.id, error_kind="RemoteOperationError", error=f"{type(exc).__name__}: {exc}"
        )
    else:
        cm.store.finish_request(request.id, result=result)


def _error(request: Request) -> ChatMLError:
    """The error the session's machine answered with, as the class it raised there."""
    message = f"{request.error} (on machine {request.machine!r})"
    cls = getattr(errors, request.error_kind or "", None)
    if isinstance(cls, type) and issubclass(cls, ChatMLError):
        try:
            return cls(message)
        except TypeError:  # a class with more arguments (UpdateConflictError's files)
            pass
    return RemoteOperationError(message)


class Remote:
    """Asks other machines to run operations on their sessions, and waits for the answer."""

    def __init__(self, manager: ChatML) -> None:
        self.manager = manager

    def call(self, machine: str, action: str, key: str, doing: str, **args: Any) -> Any:
        """Have ``machine`` run ``action`` on ``key`` (a session id, or a workspace id for
        ``new_session``) with ``args``; its JSON result, or the error it raised there.

        ``doing`` words the refusal when ``machine`` is unreachable.
        """
        store = self.manager.store
        machines = self.manager.machines
        machines.check(machine, doing)
        request_id = uuid.uuid4().hex
        store.add_request(request_id, machine, key, action, args)
        wake(store, machine)
        deadline = time.monotonic() + self.manager.config.remote_timeout
        next_check = time.monotonic() + self.manager.config.machine_heartbeat
        while True:
            found = store.request(request_id)
            if found is None:
                raise RemoteOperationError(f"the request to {doing} on machine {machine!r} vanished")
            if found.finished:
                if found.state == FAILED:
                    raise _error(found)
                return found.result
            now = time.monotonic()
            if now >= next_check:
                next_check = now + self.manager.config.machine_heartbeat
                here = reach(store.machine_row(machine), machine, self.manager.config.machine_stale_after)
                if not here.reachable:
                    self._give_up(request_id)
                    raise MachineUnreachableError(
                        f"machine {machine!r} became unreachable ({here.why}) while asked to {doing}:"
                        " its runner host finishes or undoes it when it is back; check then"
                    )
            if now >= deadline:
                self._give_up(request_id)
                raise RemoteTimeoutError(
                    f"machine {machine!r} did not {doing} within {self.manager.config.remote_timeout:g} s:"
                    " it may still finish; look again with `chatml list`"
                )
            time.sleep(WAIT_TICK)

    def _give_up(self, request_id: str) -> None:
        # A request its machine has not taken is withdrawn; one it runs is left to finish there.
        self.manager.store.drop_request(request_id)

    def record(self, machine: str, action: str, session_id: str, doing: str, **args: Any) -> SessionRecord:
        """:meth:`call` for an action that returns the session's record (read back from the store)."""
        self.call(machine, action, session_id, doing, **args)
        return self.manager.record(session_id)

    def link(self, machine: str, session_id: str, doing: str, **args: Any) -> PullRequestLink:
        """:meth:`call` for ``create_pr``."""
        return PullRequestLink(**self.call(machine, "create_pr", session_id, doing, **args))
