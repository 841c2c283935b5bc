"""Operations that survive a kill (DESIGN §7): the journal, and finishing what a dead process began.

Every multi-step change to a session (create, rename, archive, unarchive, delete) is an operation:
:meth:`Operations.begin` writes its row (what it will do, which refs will hold the work) before the
first side effect, :meth:`Operations.step` records each step reached, and the flow closes the row
in the transaction that writes the final state (:meth:`Operations.finish`). Each step is safe to
repeat.

An operation whose process died (or that failed half-way in this one) is *settled* by a handler
its flow registered: rolled back while nothing irreversible happened, else rolled forward. That
happens at :class:`~chatml_lab.core.manager.ChatML` start, by the next command on the session
(:meth:`Operations.settle`) and by ``gc``, always under the repository's lock and after checking
that the operation's process is really gone (pid and start time), so a live operation is never
finished twice.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ChatMLError, OperationInProgressError, StorageError
from ..gitops.repo import GitRepo
from ..models import SessionChanges
from ..storage.operations import Operation
from ..storage.store import Store
from .owners import Owners
from .workspaces import Workspaces

#: Finishes or undoes an unfinished operation (called under the repository's lock).
Handler = Callable[[Operation, GitRepo], "Outcome"]

DONE = "done"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
BUSY = "busy"

# Operations running in this process right now (a thread of ours may be in the middle of one).
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()
_STARTED: dict[int, float] = {}  # by pid: a forked child is another process


def _process_started() -> float:
    import psutil  # here: commands that find no open operation (``chatml list``) never need it

    pid = os.getpid()
    if pid not in _STARTED:
        _STARTED[pid] = psutil.Process(pid).create_time()
    return _STARTED[pid]


def owner_alive(op: Operation, here: str | None = None) -> bool:
    """True while the process that runs ``op`` is alive and still at it.

    ``here`` is this machine's name: another machine's operation counts as alive, since only its
    own machine can tell (its runner host settles it there after a crash; issue 13).
    """
    if here is not None and op.machine is not None and op.machine != here:
        return op.pid > 0
    if op.pid <= 0:
        return False
    if op.pid == os.getpid() and abs(op.pid_started - _process_started()) < 1.0:
        with _ACTIVE_LOCK:
            return op.id in _ACTIVE
    import psutil

    try:
        process = psutil.Process(op.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(process.create_time() - op.pid_started) < 1.0  # not a recycled pid
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def new_operation_id() -> str:
    """A unique, time-ordered id that is also valid in a ref name."""
    return f"{int(time.time())}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Outcome:
    """What settling an operation did: ``done``, ``rolled_back``, ``failed`` (left open) or ``busy``."""

    operation: Operation
    result: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def describe(op: Operation, here: str | None = None) -> str:
    """The health shown for a session while ``op`` is open (``here``: this machine's name)."""
    if here is not None and op.machine is not None and op.machine != here:
        return f"{op.kind} in progress on machine {op.machine!r} (step {op.step})"
    if owner_alive(op):
        return f"{op.kind} in progress (pid {op.pid}, step {op.step})"
    why = f": {op.note}" if op.note else ""
    return f"interrupted {op.kind} at step {op.step}{why}; the next command on the session finishes it"


class Operations:
    """Begin, step and finish operations; settle the ones a dead process left open."""

    def __init__(
        self,
        store: Store,
        workspaces: Workspaces,
        progress: Callable[[str], None],
        owners: Owners | None = None,
    ) -> None:
        self.store = store
        #: Who may change which session (None: everyone, as before owners existed).
        self.owners = owners
        self.workspaces = workspaces
        self.progress = progress
        self.handlers: dict[str, Handler] = {}
        self._settling = threading.local()

    def handle(self, kind: str, handler: Handler) -> None:
        """Register the handler that settles unfinished operations of ``kind``."""
        self.handlers[kind] = handler

    # -- running an operation -------------------------------------------------------------------

    def begin(
        self, kind: str, session_id: str, workspace_id: str, session_name: str, plan: dict[str, Any]
    ) -> Operation:
        """Write the operation's row (before its first side effect) and mark it running here."""
        now = time.time()
        op = Operation(
            id=new_operation_id(), kind=kind, session_id=session_id, workspace_id=workspace_id,
            session_name=session_name, step="planned", state="open", pid=os.getpid(),
            pid_started=_process_started(), started_at=now, updated_at=now, plan=plan,
        )  # fmt: skip
        with _ACTIVE_LOCK:
            _ACTIVE.add(op.id)
        try:
            self.store.begin_operation(op)
        except BaseException:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(op.id)
            raise
        return op

    def step(self, op: Operation, step: str, **data: Any) -> Operation:
        """Record that ``op`` reached ``step`` (with facts a later step or a recovery needs)."""
        self.store.step_operation(op.id, step, data)
        return replace(op, step=step, plan={**op.plan, **data})

    def finish(
        self,
        op: Operation,
        result: str = DONE,
        changes: SessionChanges | None = None,
        delete_session: bool = False,
        **data: Any,
    ) -> None:
        """Close ``op`` in the transaction that writes the session's final state."""
        if getattr(self._settling, "active", False):
            data["settled"] = True  # finished or undone for a process that did not get to
        self.store.finish_operation(
            op.id, result, session_id=op.session_id if (changes or delete_session) else None,
            changes=changes, delete_session=delete_session, data=data,
        )  # fmt: skip

    @contextmanager
    def running(self, op: Operation, repo: GitRepo) -> Iterator[None]:
        """Run ``op``'s steps; when one raises, settle the operation here (undo or finish it)
        before the error goes up, or leave it to the next process when even that fails.
        """
        try:
            yield
        except BaseException as exc:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(op.id)
            self._after_failure(op, repo, exc)
            raise
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(op.id)

    def _after_failure(self, op: Operation, repo: GitRepo, exc: BaseException) -> None:
        try:
            current = self.store.operation(op.id)
            if current is None or not current.is_open:
                return
            outcome = self._call(current, repo)
            if outcome.result == FAILED:
                self.store.abandon_operation(op.id, outcome.message)
        except (ChatMLError, OSError):
            # The store or git is failing too (a full disk): the next command settles it.
            pass

    # -- settling what dead processes left ------------------------------------------------------

    def settle(self, session_id: str, refuse_live: bool = True) -> list[Outcome]:
        """Finish or undo the session's operations whose process died; refuse while a live one runs
        (unless not ``refuse_live``: a change that cannot collide with it, a priority say).

        Called by every command that changes the session, before it looks at the session: so this
        is also where a user who may not change the session (someone else's, not shared with them)
        is refused, with :class:`~chatml_lab.errors.NotOwnerError`.
        """
        if self.owners is not None:
            self.owners.check(session_id)
        outcomes = []
        for op in self.store.open_operations(session_id):
            if owner_alive(op, self.store.machine):
                if not refuse_live:
                    continue
                raise OperationInProgressError(
                    f"session {op.session_name!r} is being changed by another process ({op.kind},"
                    f" pid {op.pid}): wait for it to finish, then try again"
                )
            outcomes.append(self._settle(op))
        return outcomes

    def settle_all(self) -> list[Outcome]:
        """Settle every open operation whose process died (at start-up and by ``gc``), of the
        sessions this user may change (an operation whose session row is gone: anyone's).
        """
        found = [op for op in self.store.open_operations() if not owner_alive(op, self.store.machine)]
        if self.owners is not None and found:
            records = {rec.id: rec for rec in self.store.sessions(include_archived=True)}
            mine = {rec.id for rec in self.owners.writable(records.values())}
            found = [op for op in found if op.session_id in mine or op.session_id not in records]
        return [self._settle(op) for op in found]

    def _settle(self, op: Operation) -> Outcome:
        ws = self.store.workspace(op.workspace_id)
        if ws is None:
            self.store.finish_operation(op.id, FAILED, data={"why": "its workspace was removed"})
            return Outcome(
                op,
                FAILED,
                f"dropped the interrupted {op.kind} of {op.session_name}: its workspace was removed",
            )
        try:
            repo = self.workspaces.repo(ws)
        except ChatMLError as exc:
            return self._failed(op, str(exc))
        with repo.lock():
            current = self.store.operation(op.id)
            if current is None or not current.is_open:
                return Outcome(
                    op, DONE, f"the {op.kind} of {op.session_name} was finished by another process"
                )
            if owner_alive(current, self.store.machine):
                return Outcome(
                    current, BUSY, f"the {op.kind} of {op.session_name} is running in pid {op.pid}"
                )
            outcome = self._call(current, repo)
        if outcome.result == FAILED:
            return self._failed(current, outcome.message)
        self.progress(f"note: {outcome.message}")
        return outcome

    def _call(self, op: Operation, repo: GitRepo) -> Outcome:
        handler = self.handlers.get(op.kind)
        if handler is None:
            return Outcome(op, FAILED, f"no handler for an operation of kind {op.kind!r}")
        self._settling.active = True
        try:
            return handler(op, repo)
        except ChatMLError as exc:
            return Outcome(op, FAILED, str(exc))
        except OSError as exc:
            return Outcome(op, FAILED, f"{exc.strerror or exc}")
        finally:
            self._settling.active = False

    def _failed(self, op: Operation, why: str) -> Outcome:
        note = f"could not finish the interrupted {op.kind} of {op.session_name}: {why}"
        with contextlib.suppress(StorageError):
            self.store.note_operation(op.id, why)
        self.progress(f"warning: {note}")
        return Outcome(op, FAILED, note)

    def last_done(self, session_id: str, kind: str, settled: bool = False) -> Operation | None:
        """The session's last operation when it is a finished ``kind`` (with ``settled``: one that
        was cut short and then finished for its dead process). A retry of that command finds its
        work done, and can say so instead of failing.
        """
        ops = self.store.operations(session_id=session_id)
        last = ops[-1] if ops else None
        if last is None or last.kind != kind or last.state != DONE:
            return None
        return last if last.plan.get("settled") or not settled else None

    def last_done_named(self, name: str, kind: str, settled: bool = False) -> Operation | None:
        """Like :meth:`last_done`, for a session that was named ``name`` and is gone or renamed
        (no session has that name now): a retry by name finds nothing else to act on.
        """
        if self.store.sessions_named(name):
            return None
        done = [op for op in self.store.operations(kind=kind, state=DONE) if op.session_name == name]
        if not done or (settled and not done[-1].plan.get("settled")):
            return None
        return done[-1]
