"""What a runner host does for its machine besides forking runners on request (issue 13).

The runner host (:mod:`.runner_host`) is the per-machine process that serves the sessions whose
worktrees live on its machine. Besides the runners its own clients ask for, it:

- **heartbeats** the machine's row every :attr:`~chatml_lab.config.Config.machine_heartbeat`
  seconds (and clears it when it leaves), so that other machines can tell it is reachable;
- **serves the inbox other machines write**: a message queued from another machine for one of its
  conversations with no live runner gets a runner here, forked as for any client;
- **runs the operations other machines ask for** (:mod:`.remote`): each in a worker forked from the
  host, which opens this machine's :class:`~chatml_lab.core.manager.ChatML`, calls the same API and
  writes the answer;
- **reconciles its own sessions** at start and whenever a working conversation's runner died:
  a worker opening the manager marks dead runners ``crashed`` and settles open operations, as
  after a restart (other machines never do it: they cannot see this machine's processes).

Wake-ups: on PostgreSQL the host LISTENs on :data:`~.machines.CHANNEL` and looks at once when
its machine is named; on SQLite it looks every :attr:`~chatml_lab.config.Config.host_poll_interval`
seconds (0.5 s by default). The host's loop is single-threaded and forks: every database
connection is closed before a fork (:meth:`Duties.release`) and opened again after.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agents import lease
from ..config import Config
from ..errors import ChatMLError
from ..models import AgentState
from ..storage.database import Listener
from ..storage.location import open_store
from ..storage.machines import PENDING, RUNNING
from ..storage.store import Store
from .machines import CHANNEL, register, version

#: Seconds between two looks for conversations of this machine whose runner died.
RECONCILE_EVERY = 5.0
#: Seconds between two looks on PostgreSQL when no NOTIFY came (a safety net: NOTIFY wakes it).
NOTIFY_FALLBACK = 5.0


@dataclass(frozen=True)
class RunnerJob:
    """Fork a runner: the request a client would have sent the host."""

    request: dict[str, Any]


@dataclass(frozen=True)
class WorkerJob:
    """Fork a worker that opens this machine's manager and runs ``request_id`` (None: only
    the manager's start-up, which reconciles the machine's sessions).
    """

    request_id: str | None


Job = RunnerJob | WorkerJob


class Duties:
    """The machine side of one runner host: heartbeat, inbox from elsewhere, requests, reconcile."""

    def __init__(self, data_dir: Path, config: Config) -> None:
        self.data_dir = data_dir
        self.config = config
        self.machine = config.machine
        self._store: Store | None = None
        self._listener: Listener | None = None
        self._next_beat = 0.0
        self._next_look = 0.0
        self._next_reconcile = 0.0
        self._started = False
        self._shared = False
        #: conversation → the newest inbox item a runner start was tried for (tried once each).
        self._tried: dict[str, int] = {}
        #: worker pid → request id (None: a reconcile worker).
        self.workers: dict[int, str | None] = {}

    # -- the database, never open across a fork ------------------------------------------------

    def store(self) -> Store:
        """The open store (opened now when the last fork closed it)."""
        if self._store is None:
            self._store = open_store(self.config, self.data_dir)
            register(self._store, self.config)
            self._listener = self._store.listen([CHANNEL])
            self._next_look = 0.0  # a NOTIFY sent while nobody listened is not lost: look now
        return self._store

    def release(self) -> None:
        """Close every connection (before a fork: a connection must not cross one)."""
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.close()
            self._store = None

    # -- the loop's tick -------------------------------------------------------------------------

    def tick(self) -> list[Job]:
        """Heartbeat when due, look for work when woken or due; the jobs to fork."""
        try:
            return self._tick()
        except ChatMLError as exc:  # the database is away: say so, and try again next tick
            print(f"runner host: {exc}", flush=True)
            self.release()
            return []

    def _tick(self) -> list[Job]:
        now = time.monotonic()
        store = self.store()
        jobs: list[Job] = []
        if not self._started:
            self._started = True
            # Alone on its store, a machine's clients reconcile it as they open it (as before
            # issue 13); shared, nobody else may, so its host does it when it (re)starts.
            self._shared = len(store.machines()) > 1
            self._settle_requests(store)
            if self._shared:
                jobs.append(WorkerJob(None))
            self._next_reconcile = now + RECONCILE_EVERY
        if now >= self._next_beat:
            store.machine_heartbeat(self.machine, socket.gethostname(), os.getpid(), version())
            self._next_beat = now + self.config.machine_heartbeat
        # A payload names the machine to wake; "" is the listener's own wake-up after a reconnect.
        woken = self._listener is not None and bool({self.machine, ""} & set(self._listener.wait(0)))
        if woken or now >= self._next_look:
            polls = store.engine == "sqlite"  # NOTIFY is a no-op there: polling is the wake-up
            self._next_look = now + (self.config.host_poll_interval if polls else NOTIFY_FALLBACK)
            jobs += self._runners(store)
            jobs += self._requests(store)
        if now >= self._next_reconcile and None not in self.workers.values():
            self._next_reconcile = now + RECONCILE_EVERY
            self._shared = self._shared or len(store.machines()) > 1
            if self._shared and self._dead_runners(store):
                jobs.append(WorkerJob(None))
        return jobs

    def _runners(self, store: Store) -> list[Job]:
        """A runner for each conversation that another machine wrote to and no live runner serves."""
        jobs: list[Job] = []
        for conversation_id, newest in store.inbox_from_elsewhere(self.machine).items():
            if self._tried.get(conversation_id, 0) >= newest:
                continue  # one start per message: a runner that cannot start is not retried in a loop
            token = secrets.token_hex(8)
            if not lease.claim(store, conversation_id, token, self.config.lease_stale_after):
                # A live runner has it (or a client here is starting one). Looked at again next
                # time: a runner leaving idle may have released the lease without seeing it.
                continue
            self._tried[conversation_id] = newest
            from .agents import runner_argv

            conv = store.conversation(conversation_id)
            rec = store.session(conv.session_id) if conv else None
            cwd = rec.worktree_path if rec and rec.worktree_path.is_dir() else self.data_dir
            logs = self.data_dir / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            jobs.append(RunnerJob({
                "argv": runner_argv(self.config, self.data_dir, conversation_id, token),
                "cwd": str(cwd), "env": {**os.environ, "CHATML_DATA_DIR": str(self.data_dir)},
                "log": str(logs / f"{conversation_id}.log"),
            }))  # fmt: skip
        return jobs

    def _requests(self, store: Store) -> list[Job]:
        jobs: list[Job] = []
        for request in store.requests(self.machine, PENDING):
            if store.take_request(request.id, os.getpid()):
                jobs.append(WorkerJob(request.id))
        return jobs

    def _settle_requests(self, store: Store) -> None:
        """Requests a previous host of this machine took and nobody answers: their process died.

        A worker outlives a killed host (it has a session of its own): one still running answers
        by itself.
        """
        for request in store.requests(self.machine, RUNNING):
            if request.pid is None or not _alive(request.pid):
                store.finish_request(
                    request.id, error_kind="RemoteOperationError",
                    error=f"the runner host of machine {self.machine!r} stopped while it ran {request.action};"
                    " its operation was settled when the host came back: look at the session, then retry",
                )  # fmt: skip

    def _dead_runners(self, store: Store) -> bool:
        """True when a conversation of this machine says it works but its runner is gone."""
        for conv in store.conversations_in_state(AgentState.RUNNING, AgentState.WAITING):
            rec = store.session(conv.session_id)
            if rec is None or (rec.machine or self.machine) != self.machine:
                continue
            found = store.lease(conv.id)
            if not lease.is_live(found, self.config.lease_stale_after, here=self.machine):
                return True
        return False

    # -- workers ---------------------------------------------------------------------------------

    def run_worker(self, request_id: str | None) -> int:
        """In a forked worker: open this machine's manager (its start-up reconciles) and run the request."""
        from .manager import ChatML
        from .remote import execute

        with ChatML(self.data_dir, self.config) as cm:
            if request_id is None:
                return 0
            cm.store.request_worker(request_id, os.getpid())
            request = cm.store.request(request_id)
            if request is not None:
                execute(cm, request)
        return 0

    def worker_exited(self, pid: int, code: int) -> None:
        """A worker ended: a request it never answered is answered with its failure."""
        request_id = self.workers.pop(pid, None)
        if request_id is None:
            return
        with contextlib.suppress(ChatMLError):
            store = self.store()
            found = store.request(request_id)
            if found is not None and not found.finished:
                store.finish_request(
                    request_id, error_kind="RemoteOperationError",
                    error=f"the worker that ran {found.action} on machine {self.machine!r} exited"
                    f" with code {code} before answering (see its runner host's log)",
                )  # fmt: skip

    def leave(self) -> None:
        """The host leaves: the machine is unreachable until another host heartbeats."""
        with contextlib.suppress(ChatMLError):
            self.store().machine_host_stopped(self.machine, os.getpid())
        self.release()


def _alive(pid: int) -> bool:
    """True when ``pid`` is a live process of this machine (not a zombie)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def fork_child(duties: Duties, child: Callable[[], int]) -> int:
    """Fork; the child runs ``child`` and exits with its code (1 and a traceback when it raises).

    No database connection crosses the fork (``duties.release()``), and nothing buffered is
    written twice; the child never returns into the host's loop.
    """
    duties.release()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = child()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    return pid


def fork_worker(duties: Duties, request_id: str | None, detach: Callable[[], None]) -> int:
    """Fork a worker for ``request_id``; ``detach`` (in the child) closes what the host holds."""

    def work() -> int:
        detach()
        return duties.run_worker(request_id)

    pid = fork_child(duties, work)
    duties.workers[pid] = request_id
    return pid
