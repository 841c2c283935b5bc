"""The client side of the agent process model: inbox writes, runner start-up, truthful state.

Clients never talk to a runner: they append to the inbox, start a runner when no live lease
holds the conversation, and read events. A conversation whose stored state says it is working
but whose runner is gone is marked ``crashed`` (once, with an ``error`` event), never shown as
``running``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..agents import lease
from ..errors import (
    AgentNotRunningError,
    AgentTimeoutError,
    ApprovalNotFoundError,
    SessionArchivedError,
    SessionError,
    StoreUnwritableError,
    command,
)
from ..events import Event, EventType
from ..models import AgentState, Conversation, ConversationKind, SessionRecord
from .machines import wake

if TYPE_CHECKING:
    from ..config import Config
    from ..storage.store import Store
    from .manager import ChatML

WORKING = (AgentState.RUNNING.value, AgentState.WAITING.value)


class _Children:
    """Runners this process started, by the token of their claim.

    Polled so that none stays a zombie, and so that one that died before taking its lease is
    reported instead of waited for. Several threads reap at once (a widget poller, the kernel, a
    server handler), so every read-and-remove happens under one lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: dict[str, tuple[Path, str, subprocess.Popen[bytes]]] = {}

    def add(self, token: str, data_dir: Path, conversation_id: str, child: subprocess.Popen[bytes]) -> None:
        """Remember a runner started with claim ``token``."""
        with self._lock:
            self._children[token] = (data_dir, conversation_id, child)

    def finished(self, data_dir: Path) -> list[tuple[str, str, int]]:
        """Remove and return the exited runners of ``data_dir``: ``(token, conversation, code)``."""
        done = []
        with self._lock:
            for token, (where, conversation_id, child) in list(self._children.items()):
                code = child.poll() if where == data_dir else None
                if code is not None:
                    del self._children[token]
                    done.append((token, conversation_id, code))
        return done

    def take_all(self) -> list[subprocess.Popen[bytes]]:
        """Forget every runner and return their processes (for a caller that ends them)."""
        with self._lock:
            children = [child for _, _, child in self._children.values()]
            self._children.clear()
        return children

    def __len__(self) -> int:
        with self._lock:
            return len(self._children)


_STARTED = _Children()


def runner_command(argv: list[str]) -> list[str]:
    """The command line of a runner with ``argv`` (a runner forked by the host takes it as its title)."""
    return [sys.executable, "-m", lease.RUNNER_MODULE, *argv]


def runner_argv(config: Config, data_dir: Path, conversation_id: str, token: str) -> list[str]:
    """The arguments of the runner that serves ``conversation_id`` under claim ``token``."""
    return [
        conversation_id, "--data-dir", str(data_dir), "--token", token,
        "--idle-timeout", str(config.runner_idle_timeout),
        "--approval-timeout", str(config.approval_timeout),
        "--stale-after", str(config.lease_stale_after),
        "--config", config.to_json(),  # the rest (sandbox settings) reaches the backend this way
    ]  # fmt: skip


def mark_failed_start(store: Store, log: Path, conversation_id: str, token: str, code: int) -> None:
    """Record that the runner started under claim ``token`` exited before it could take the lease."""
    store.mark_crashed(conversation_id, token)
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    last = lines[-1] if lines else "no output"
    store.append_event(
        conversation_id,
        EventType.ERROR,
        {"message": f"the agent's runner exited at start-up (code {code}): {last} (log: {log})"},
    )
    store.append_event(conversation_id, EventType.STATE, {"agent_state": AgentState.CRASHED.value})


class AgentControl:
    """Send, wait, interrupt, stop and approve for the sessions of one manager."""

    def __init__(self, manager: ChatML) -> None:
        self.manager = manager
        self.store = manager.store

    # -- conversations --------------------------------------------------------------------------

    def conversation(self, session_id: str, kind: ConversationKind = ConversationKind.TASK) -> Conversation:
        """The session's first conversation of ``kind`` (created for ``review``/``chat`` on demand)."""
        for conv in self.store.conversations(session_id):
            if conv.kind is kind:
                return conv
        conv_id = self.store.add_conversation(session_id, kind, kind.value.title())
        found = self.store.conversation(conv_id)
        assert found is not None
        return found

    def _conversation_ids(self, session_id: str) -> list[str]:
        return [c.id for c in self.store.conversations(session_id)]

    # -- truth about runners --------------------------------------------------------------------

    def state(self, conversation_id: str) -> AgentState:
        """The conversation's agent state, with dead runners reported as ``crashed``.

        Another machine's conversation is shown, never changed here: ``unreachable`` while its
        machine does not heartbeat, ``crashed`` (for display; its machine records it) when its
        runner's lease went stale.
        """
        self._reap()
        conv = self.store.conversation(conversation_id)
        if conv is None:
            return AgentState.IDLE
        there = self._machine_of(conv.session_id)
        if there is not None:
            reachable = self.manager.machines.reachable().get(there, False)
            return self._shown(conv.agent_state, lease.read_lease(self.store, conversation_id), reachable)
        if conv.agent_state.value in WORKING:
            current = lease.read_lease(self.store, conversation_id)
            if not self._live(current):
                self._mark_crashed(conversation_id, current)
                return AgentState.CRASHED
        return conv.agent_state

    def _machine_of(self, session: str | SessionRecord | None) -> str | None:
        """The session's machine when it is another one than this (None: it is this one's)."""
        rec = self.store.session(session) if isinstance(session, str) else session
        return rec.machine if rec is not None and self.manager.machines.elsewhere(rec.machine) else None

    def _shown(self, stored: AgentState, current: lease.Lease | None, reachable: bool) -> AgentState:
        """What another machine's conversation shows here (nothing is written)."""
        if not reachable:
            return AgentState.UNREACHABLE
        if stored.value in WORKING and not self._live(current):
            return AgentState.CRASHED
        return stored

    def _live(self, current: lease.Lease | None) -> bool:
        config = self.manager.config
        return lease.is_live(current, config.lease_stale_after, here=config.machine)

    def _mark_crashed(self, conversation_id: str, dead: lease.Lease | None) -> None:
        if not self._may_write(conversation_id):  # someone else's: shown crashed, stored by its owner
            return
        try:
            changed = self.store.mark_crashed(
                conversation_id, dead.token if dead is not None else None, only_from=WORKING
            )
        except StoreUnwritableError:  # a reading command on a read-only store: shown, not stored
            return
        if changed:
            pid = f" (pid {dead.pid})" if dead and dead.pid else ""
            self.store.append_event(
                conversation_id,
                EventType.ERROR,
                {"message": f"the agent's runner{pid} died mid-turn; send a message to resume"},
            )
            self.store.append_event(
                conversation_id, EventType.STATE, {"agent_state": AgentState.CRASHED.value}
            )

    def _may_write(self, conversation_id: str) -> bool:
        conv = self.store.conversation(conversation_id)
        rec = self.store.session(conv.session_id) if conv is not None else None
        return rec is None or self.manager.owners.may_write(rec)

    def _reap(self) -> None:
        """Collect finished runners; one that exited still holding its claim failed to start."""
        for token, conversation_id, code in _STARTED.finished(self.manager.data_dir):
            current = lease.read_lease(self.store, conversation_id)
            if current is not None and current.pid == 0 and current.token == token:
                self._mark_failed_start(conversation_id, token, code)

    def _mark_failed_start(self, conversation_id: str, token: str, code: int) -> None:
        mark_failed_start(self.store, self.log_path(conversation_id), conversation_id, token, code)

    def reconcile(self) -> int:
        """Mark every conversation whose runner died as crashed; return how many."""
        working = self.store.conversations_in_state(AgentState.RUNNING, AgentState.WAITING)
        return sum(self.state(conv.id) is AgentState.CRASHED for conv in working)

    # -- runner start-up ------------------------------------------------------------------------

    def ensure_runner(self, conversation_id: str) -> bool:
        """Start a runner unless a live one holds the conversation; True when one was started.

        The runner is forked by the per-user runner host (:mod:`.runner_host`, started here when
        none runs) so it answers without importing the SDK first; when no host can be had it is
        started as a process of its own.
        """
        import secrets

        self._reap()
        config = self.manager.config
        token = secrets.token_hex(8)
        if not lease.claim(self.store, conversation_id, token, config.lease_stale_after):
            return False
        conv = self.store.conversation(conversation_id)
        rec = self.manager.record(conv.session_id) if conv else None
        log_dir = self.manager.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{conversation_id}.log"
        cwd = rec.worktree_path if rec and rec.worktree_path.is_dir() else self.manager.data_dir
        env = {**os.environ, "CHATML_DATA_DIR": str(self.manager.data_dir)}
        argv = runner_argv(config, self.manager.data_dir, conversation_id, token)
        if self._host_enabled():
            from . import runner_host

            pid, host = runner_host.spawn(self.manager.data_dir, argv, cwd, env, log_path, self._host_idle(),
                                          config.database_url, config.to_json())  # fmt: skip
            if host is not None:
                _STARTED.add(f"host-{host.pid}", self.manager.data_dir, "", host)
            if pid is not None:
                return True
            # No host: the runner starts on its own, under a fresh claim, so that a host that
            # answers late cannot start a second runner with the first claim's token.
            old, token = token, secrets.token_hex(8)
            argv[argv.index("--token") + 1] = token
            if not self.store.take_lease(
                conversation_id, token, 0, lambda cur: cur is None or cur.token == old
            ):
                return False
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                runner_command(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: a kernel restart or Ctrl-C leaves it running
            )  # fmt: skip
        _STARTED.add(token, self.manager.data_dir, conversation_id, child)
        return True

    def _host_enabled(self) -> bool:
        return self.manager.config.runner_host and os.name == "posix"

    def _host_idle(self) -> float:
        config = self.manager.config
        return config.runner_idle_timeout if config.host_idle_timeout is None else config.host_idle_timeout

    def prewarm(self) -> None:
        """Start the runner host now, when a message is about to follow (``new_session`` with a
        prompt): its imports then overlap with the caller's work instead of delaying the answer.
        """
        if not self._host_enabled():
            return
        from . import runner_host

        if not runner_host.reachable(self.manager.data_dir):
            config = self.manager.config
            host = runner_host.start_host(self.manager.data_dir, self._host_idle(), config.database_url,
                                          config.to_json())  # fmt: skip
            _STARTED.add(f"host-{host.pid}", self.manager.data_dir, "", host)

    # -- client operations ----------------------------------------------------------------------

    def send(
        self,
        session_id: str,
        text: str,
        kind: ConversationKind = ConversationKind.TASK,
        conversation_id: str | None = None,
    ) -> None:
        """Queue a message for one of the session's agents and make sure a runner serves it.

        The conversation is ``conversation_id``, else the first of ``kind``. Returns at once.
        """
        from ..agents.context import resolve_agent

        self.manager.operations.settle(session_id)
        rec = self.manager.record(session_id)
        if rec.archived:
            raise SessionArchivedError(f"session {rec.name!r} is archived: unarchive it before you send")
        if not text.strip():
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError("the message is empty: write what the agent should do")
        elsewhere = self.manager.machines.elsewhere(rec.machine)
        if elsewhere:  # the agent is chosen and started on the session's machine, not here
            assert rec.machine is not None
            self.manager.machines.check(rec.machine, f"answer a message to {rec.name!r}")
        own = self.store.conversation_options(conversation_id) if conversation_id else {}
        if not elsewhere and own.get("agent"):
            resolve_agent(str(own["agent"]))  # a conversation with its own agent leaves the session's
        elif not elsewhere:
            agent = resolve_agent(rec.agent_backend)
            if agent != rec.agent_backend:
                self.store.update_session(session_id, agent_backend=agent)
        found = self.store.conversation(conversation_id) if conversation_id else None
        if conversation_id and (found is None or found.session_id != session_id):
            raise SessionError(f"conversation {conversation_id} is not one of {rec.name!r}'s")
        conv = found or self.conversation(session_id, kind)
        from ..agents.runner import redact

        if elsewhere:  # its machine's runner host starts the runner there (issue 13)
            assert rec.machine is not None
            self.store.push_inbox(conv.id, "message", {"text": redact(text)})
            wake(self.store, rec.machine)
            return
        self.state(conv.id)  # a crashed runner is recorded before the resume
        self.store.push_inbox(conv.id, "message", {"text": redact(text)})
        self.ensure_runner(conv.id)

    def _control(self, session_id: str, kind: str, data: dict[str, object] | None = None) -> None:
        rec = self.manager.owners.check(session_id)  # one read of the row serves both checks
        there = self._machine_of(rec)
        if there is not None and rec is not None:
            self.manager.machines.check(there, f"{kind} the agent of {rec.name!r}")
        for conv in self.store.conversations(session_id):
            if lease.read_lease(self.store, conv.id) is not None or conv.agent_state.value in WORKING:
                self.store.push_inbox(conv.id, kind, dict(data or {}))
        if there is not None:
            wake(self.store, there)

    def interrupt(self, session_id: str) -> None:
        """Stop the current turn; the conversation stays usable."""
        self._control(session_id, "interrupt")

    def stop(self, session_id: str) -> None:
        """Stop the current turn and let the runner exit."""
        self._control(session_id, "stop")

    def pending_approvals(self, session_id: str) -> list[Event]:
        """Approval requests nobody has answered yet (an indexed query: the log is not read)."""
        return self.store.pending_approvals(self._conversation_ids(session_id))

    def answer(
        self, session_id: str, request_id: str | None, approved: bool, reason: str | None = None
    ) -> str:
        """Approve or deny a pending request (the only one when ``request_id`` is None)."""
        rec = self.manager.owners.check(session_id)
        pending = self.pending_approvals(session_id)
        if request_id is not None:
            pending = [e for e in pending if e.data["id"] == request_id]
        if not pending:
            what = f"request {request_id!r}" if request_id else "request"
            raise ApprovalNotFoundError(f"no pending approval {what} for this session")
        if len(pending) > 1 and request_id is None:
            ids = ", ".join(str(e.data["id"]) for e in pending)
            raise ApprovalNotFoundError(f"several approvals are pending ({ids}): name one")
        event = pending[0]
        there = self._machine_of(rec)
        if there is not None:
            self.manager.machines.check(there, f"pass on the answer to request {event.data['id']}")
        state = self.state(event.conversation_id)  # a runner that died is recorded as crashed here
        if not self._served(event.conversation_id):
            # The request lived in the dead runner's turn: a new runner starts from the stored
            # history and would never see the answer. Say so instead of reporting success.
            rec = self.manager.record(session_id)
            resume = command(f'send {rec.name} "go on"', 'session.send("go on")')
            raise AgentNotRunningError(
                f"the agent of {rec.name!r} is {state.value}: the runner that asked request"
                f" {event.data['id']} is gone, so nobody would act on the answer; send a message"
                f" to resume the conversation ({resume})"
            )
        data = {"id": event.data["id"], "approved": approved}
        if reason:
            data["reason"] = reason
        self.store.push_inbox(event.conversation_id, "approval", data)
        if there is not None:
            wake(self.store, there)
        return str(event.data["id"])

    def wait(self, session_id: str, timeout: float | None = None, poll: float = 0.05) -> AgentState:
        """Block until the agent is done with every queued message (or waits for an approval)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Another machine's host starts its runner when it next looks: a message queued for it is
        # work still to come, unless that machine cannot take it (it crashed, it is unreachable).
        elsewhere = self._machine_of(session_id) is not None
        while True:
            states = []
            busy = False
            for conv in self.store.conversations(session_id):
                state = self.state(conv.id)
                states.append(state)
                # Anything still in the inbox (a message, an answer, an interrupt) is work the
                # runner has not picked up yet.
                queued = bool(self.store.pending_inbox(conv.id))
                coming = elsewhere and state not in (AgentState.CRASHED, AgentState.UNREACHABLE)
                if state is AgentState.RUNNING or (queued and (coming or self._served(conv.id))):
                    busy = True
            if not busy:
                for wanted in (AgentState.WAITING, AgentState.CRASHED, AgentState.STOPPED, AgentState.UNREACHABLE):  # fmt: skip
                    if wanted in states:
                        return wanted
                return AgentState.IDLE
            if deadline is not None and time.monotonic() > deadline:
                rec = self.manager.record(session_id)
                raise AgentTimeoutError(f"session {rec.name!r} is still working after {timeout:g} s")
            time.sleep(poll)

    def quiesce(self, session_id: str, force: bool, action: str, timeout: float = 15.0) -> None:
        """Make sure no runner works in the session's worktree before it is removed.

        A working agent makes ``action`` refuse unless ``force``; with ``force`` the runners are
        asked to stop, then terminated.
        """
        live = []
        for conv in self.store.conversations(session_id):
            found = lease.read_lease(self.store, conv.id)
            if self._live(found):
                live.append((conv, found))
        if not live:
            return
        if not force and any(self.state(conv.id).value in WORKING for conv, _ in live):
            rec = self.manager.record(session_id)
            raise SessionError(
                f"the agent of {rec.name!r} is working: `chatml stop {rec.name}` first, or {action} with force"
            )
        for conv, _ in live:
            self.store.push_inbox(conv.id, "stop", {})
        deadline = time.monotonic() + timeout
        for conv, found in live:
            while lease.read_lease(self.store, conv.id) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            if found is not None and found.pid > 0 and lease.pid_is_runner(found.pid):
                os.kill(found.pid, signal.SIGTERM)
        self._reap()

    def _served(self, conversation_id: str) -> bool:
        """True when a live runner (or a claim starting one) holds the conversation."""
        return self._live(lease.read_lease(self.store, conversation_id))

    def session_states(
        self, session_ids: list[str], machines: dict[str, str | None] | None = None
    ) -> dict[str, AgentState]:
        """The task conversation's state of many sessions, in one query (what the table shows).

        Only conversations that say they are working have their runner checked; one whose runner
        died is marked ``crashed`` here, as :meth:`state` would. ``machines`` gives each session's
        machine: another machine's sessions are shown as :meth:`state` shows them, never changed.
        """
        self._reap()
        known = self.store.task_states()
        machines = machines or {}
        remote = [s for s in session_ids if self.manager.machines.elsewhere(machines.get(s))]
        reachable = self.manager.machines.reachable() if remote else {}
        states: dict[str, AgentState] = {}
        for session_id in session_ids:
            found = known.get(session_id)
            if found is None:  # no task conversation yet: made on demand, as session_state does
                states[session_id] = self.session_state(session_id)
                continue
            conversation_id, state, current = found
            there = machines.get(session_id)
            if self.manager.machines.elsewhere(there):
                states[session_id] = self._shown(state, current, reachable.get(str(there), False))
                continue
            if state.value in WORKING and not self._live(current):
                self._mark_crashed(conversation_id, current)
                state = AgentState.CRASHED
            states[session_id] = state
        return states

    def session_state(self, session_id: str) -> AgentState:
        """The task conversation's state (what the table shows)."""
        return self.state(self.conversation(session_id).id)

    def log_path(self, conversation_id: str) -> Path:
        """Where a conversation's runner writes its stderr."""
        return self.manager.data_dir / "logs" / f"{conversation_id}.log"
