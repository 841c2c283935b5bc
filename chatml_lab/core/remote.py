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
import functools
import inspect
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar, cast

from .. import errors
from ..errors import ChatMLError, MachineUnreachableError, RemoteOperationError, RemoteTimeoutError
from ..models import PullRequestLink, SessionRecord
from ..storage.machines import FAILED, Request
from .machines import reach, wake

if TYPE_CHECKING:
    from .manager import ChatML

#: Seconds between two looks at a request's row while its machine works on it.
WAIT_TICK = 0.05


#: What another machine may ask: methods of :class:`~.manager.ChatML` taking the session id first
#: (``new_session`` takes the workspace id). Each is also routed there by :func:`on_its_machine`.
ACTIONS = frozenset({
    "sync", "archive", "unarchive", "delete", "update", "push", "create_pr", "merge_pr", "update_branch",
    "abort_update", "disk_usage", "new_session",
})  # fmt: skip

#: How a routed method's answer is read back: the record (from the shared store), the answer as is,
#: or a pull-request link.
Result = Literal["record", "plain", "link"]

P = ParamSpec("P")
R = TypeVar("R")


def _encode(found: Any) -> Any:
    """A method's return value as JSON: a record or a session as its id, a dataclass as a dict."""
    if isinstance(found, SessionRecord) or type(found).__name__ == "Session":
        return found.id
    if dataclasses.is_dataclass(found) and not isinstance(found, type):
        return dataclasses.asdict(found)
    return found


def on_its_machine(
    what: str,
    result: Result = "record",
    when: Callable[[dict[str, Any]], bool] | None = None,
    writes: bool = True,
) -> Callable[[Callable[Concatenate[Any, str, P], R]], Callable[Concatenate[Any, str, P], R]]:
    """Run the decorated manager method on the session's machine when that is another machine.

    ``what`` words the refusal ("archive" → "... cannot archive session 'x'"); ``when`` (given the
    call's arguments) limits the routing to calls that need the worktree (a rename, not a new
    priority). Arguments travel as JSON (an enum as its value). A call that ``writes`` is refused
    here, before it travels, unless this user may change the session: the other machine acts as
    its own user.
    """

    def wrap(method: Callable[Concatenate[Any, str, P], R]) -> Callable[Concatenate[Any, str, P], R]:
        signature = inspect.signature(method)

        def routed(self: Any, session_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
            there = self.elsewhere(session_id)
            bound = signature.bind(self, session_id, *args, **kwargs)
            bound.apply_defaults()
            given = {k: getattr(v, "value", v) for k, v in list(bound.arguments.items())[2:]}
            if there is None or (when is not None and not when(given)):
                return method(self, session_id, *args, **kwargs)
            if writes:
                self.owners.check(session_id)
            doing = f"{what} session {self.record(session_id).name!r}"
            found = self.remote.call(there, method.__name__, session_id, doing, **given)
            if result == "record":
                return cast(R, self.record(session_id))
            if result == "link":
                return cast(R, PullRequestLink(**found))
            return cast(R, found)

        functools.update_wrapper(routed, method)
        return routed

    return wrap


def execute(cm: ChatML, request: Request) -> None:
    """Run ``request`` with ``cm`` (this machine's manager) and record its answer.

    A :class:`~chatml_lab.errors.ChatMLError` travels back as its class and message (the message
    unspelled, so the asker's UI spells its options); anything else as a
    :class:`~chatml_lab.errors.RemoteOperationError`.
    """
    try:
        if request.action not in ACTIONS:
            raise RemoteOperationError(f"{request.action!r} is not an operation machines ask of each other")
        result = _encode(getattr(cm, request.action)(request.session_id or "", **request.args))
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
