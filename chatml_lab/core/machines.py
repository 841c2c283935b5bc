"""Machines sharing one store (issue 13): who they are, whether they are reachable, how to wake one.

Each machine that opens the store registers itself (:func:`register`); its runner host
(:mod:`.host_duties`) writes a heartbeat every :attr:`~chatml_lab.config.Config.machine_heartbeat`
seconds. A machine whose heartbeat is older than
:attr:`~chatml_lab.config.Config.machine_stale_after` (or whose host left) is *unreachable*: its
sessions show the agent state ``unreachable`` elsewhere (never ``running``, and the stored state is
left alone), and what other machines ask of it is refused at once with
:class:`~chatml_lab.errors.MachineUnreachableError`.

Wake-ups: a machine's host waits on the channel :data:`CHANNEL`; an inbox item or a request for
machine ``m`` is followed by ``notify(CHANNEL, m)``. On PostgreSQL that is NOTIFY; on SQLite it is
a no-op and the host polls every :attr:`~chatml_lab.config.Config.host_poll_interval` seconds.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from ..config import Config
from ..errors import MachineUnreachableError, StoreUnwritableError
from ..storage.machines import Machine
from ..storage.store import Store

#: The notification channel every runner host listens on (payload: the machine to wake).
CHANNEL = "chatml_machines"
#: Seconds between two registrations of one machine by its clients (``seen_at``).
SEEN_EVERY = 60.0


def version() -> str:
    """This package's version (shown per machine)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as found

    try:
        return found("chatml_lab")
    except PackageNotFoundError:
        return "unknown"


def register(store: Store, config: Config) -> None:
    """Make ``store`` write this machine's name, record the machine, and give rows written before
    machines existed to it (one read when nothing needs writing).
    """
    store.machine = config.machine
    if store.read_only is not None:
        return
    try:
        row = store.machine_row(config.machine)
        if row is None or time.time() - row.seen_at > SEEN_EVERY:
            store.register_machine(config.machine, socket.gethostname(), version())
        if store.unowned_rows():
            store.adopt_unowned(config.machine)
    except StoreUnwritableError:
        pass


def wake(store: Store, machine: str) -> None:
    """Tell ``machine``'s runner host it has work (NOTIFY on PostgreSQL; on SQLite it polls)."""
    store.notify(CHANNEL, machine)


@dataclass(frozen=True)
class Reach:
    """Whether one machine answers, and why not."""

    machine: str
    reachable: bool
    why: str


def reach(row: Machine | None, name: str, stale_after: float, now: float | None = None) -> Reach:
    """Judge one machine by its host's heartbeat."""
    if row is None:
        return Reach(name, False, "it never opened this store")
    if row.heartbeat_at is None:
        return Reach(name, False, "no runner host runs there")
    age = (time.time() if now is None else now) - row.heartbeat_at
    if age >= stale_after:
        return Reach(name, False, f"its runner host's last heartbeat was {age:.0f} s ago")
    return Reach(name, True, "")


class Machines:
    """This machine's view of the others: one query answers for all of them."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    @property
    def here(self) -> str:
        """This machine's name."""
        return self.config.machine

    def elsewhere(self, machine: str | None) -> bool:
        """True when ``machine`` (a session's or workspace's) is another machine than this one."""
        return machine is not None and machine != self.config.machine

    def reachable(self) -> dict[str, bool]:
        """Every known machine's reachability (this one always counts as reachable)."""
        now = time.time()
        found = {
            row.name: reach(row, row.name, self.config.machine_stale_after, now).reachable
            for row in self.store.machines()
        }
        found[self.config.machine] = True
        return found

    def check(self, machine: str, doing: str) -> None:
        """Raise :class:`MachineUnreachableError` naming ``machine`` unless its host heartbeats."""
        found = reach(self.store.machine_row(machine), machine, self.config.machine_stale_after)
        if not found.reachable:
            raise MachineUnreachableError(
                f"machine {machine!r} is unreachable ({found.why}), so it cannot {doing}:"
                f" start `chatml host` on {machine!r}, then try again"
            )
