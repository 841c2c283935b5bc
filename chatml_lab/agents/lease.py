"""Runner leases: which process serves a conversation, and whether it is still alive.

A lease row holds the runner's pid, a random token and a heartbeat. A client that starts a
runner first writes a *claim* (pid 0, its token) in the same transaction that checked for a live
lease, so two clients sending at once never start two runners; the runner then takes the claim
over with the token it was given. A lease is live when its process exists (and is a runner, not a
zombie or a recycled pid) and its heartbeat is fresh. The rows live in the store
(:mod:`chatml_lab.storage.leases`); this module owns the liveness policy.
"""

from __future__ import annotations

import os
import time

from ..storage.leases import Lease
from ..storage.store import Store

__all__ = [
    "CLAIM_GRACE",
    "HEARTBEAT_INTERVAL",
    "RUNNER_MODULE",
    "Lease",
    "acquire",
    "claim",
    "heartbeat",
    "is_live",
    "pid_is_runner",
    "read_lease",
    "release",
]

#: How often a runner refreshes its heartbeat.
HEARTBEAT_INTERVAL = 0.5
#: How long a client's claim stays valid while the runner starts (``import anthropic`` ~1 s).
CLAIM_GRACE = 30.0
#: The module a runner process runs (``python -m``). The core composes it, because auto-naming
#: renames through the core; the runner itself (:mod:`.runner`) never imports the core. Runner
#: processes are recognised by this name on their command line (or in their process title, for
#: runners forked by :mod:`chatml_lab.core.runner_host`).
RUNNER_MODULE = "chatml_lab.core.runner_main"


def pid_is_runner(pid: int) -> bool:
    """True when ``pid`` is a live (not zombie) chatml runner process on this machine."""
    if pid <= 0:
        return False
    import psutil  # here: listing sessions whose agents are idle never needs it

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # A runner forked by the runner host carries its command line as its process title: one
        # string with spaces, so compare words, not arguments.
        return any(RUNNER_MODULE in part.split() for part in process.cmdline())
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False
    except psutil.AccessDenied:
        # Another user's process: it cannot be told apart, and the stale heartbeat still ends it.
        return True


def read_lease(store: Store, conversation_id: str) -> Lease | None:
    """The lease row of a conversation, if any."""
    return store.lease(conversation_id)


def is_live(
    lease: Lease | None, stale_after: float, now: float | None = None, here: str | None = None
) -> bool:
    """True when the lease's runner is alive (or a fresh claim is still starting one).

    ``here`` is this machine's name: a lease another machine's runner holds is judged by its
    heartbeat alone, never by a pid of this machine (issue 13).
    """
    if lease is None:
        return False
    now = time.time() if now is None else now
    if lease.pid == 0:
        return now - lease.heartbeat_at < CLAIM_GRACE
    if here is not None and lease.machine is not None and lease.machine != here:
        return now - lease.heartbeat_at < stale_after
    return pid_is_runner(lease.pid) and now - lease.heartbeat_at < stale_after


def claim(store: Store, conversation_id: str, token: str, stale_after: float) -> bool:
    """Claim the conversation for a runner about to start; False when a live runner has it."""
    return store.take_lease(conversation_id, token, 0, lambda current: not is_live(current, stale_after))


def acquire(store: Store, conversation_id: str, token: str, stale_after: float) -> bool:
    """Take the lease for this process: our own claim, or a dead lease. False when taken."""

    def may_take(current: Lease | None) -> bool:
        return current is None or current.token == token or not is_live(current, stale_after)

    return store.take_lease(conversation_id, token, os.getpid(), may_take)


def heartbeat(store: Store, conversation_id: str, token: str) -> bool:
    """Refresh our heartbeat; False when the lease is no longer ours."""
    return store.heartbeat_lease(conversation_id, token)


def release(store: Store, conversation_id: str, token: str) -> None:
    """Drop our lease (no-op when someone else holds it)."""
    store.release_lease(conversation_id, token)
