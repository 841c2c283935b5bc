"""Runner leases: which process serves a conversation, and whether it is still alive.

A lease row holds the runner's pid, a random token and a heartbeat. A client that starts a
runner first writes a *claim* (pid 0, its token) in the same transaction that checked for a live
lease, so two clients sending at once never start two runners; the runner then takes the claim
over with the token it was given. A lease is live when its process exists (and is a runner, not a
zombie or a recycled pid) and its heartbeat is fresh.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..storage.store import Store

#: How often a runner refreshes its heartbeat.
HEARTBEAT_INTERVAL = 0.5
#: How long a client's claim stays valid while the runner starts (``import anthropic`` ~1 s).
CLAIM_GRACE = 30.0
RUNNER_MODULE = "chatml_lab.agents.runner"


@dataclass(frozen=True)
class Lease:
    """One row of the ``leases`` table."""

    conversation_id: str
    pid: int
    token: str
    started_at: float
    heartbeat_at: float


def pid_is_runner(pid: int) -> bool:
    """True when ``pid`` is a live (not zombie) chatml runner process on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # no procfs: the signal check is all we have
    try:
        status = (proc / "status").read_text()
        cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    if any(line.startswith("State:") and "Z" in line.split()[1:2] for line in status.splitlines()):
        return False
    return RUNNER_MODULE in cmdline


def _lease(row: sqlite3.Row | None) -> Lease | None:
    if row is None:
        return None
    return Lease(row["conversation_id"], row["pid"], row["token"], row["started_at"], row["heartbeat_at"])


def read_lease(conn: sqlite3.Connection | Store, conversation_id: str) -> Lease | None:
    """The lease row of a conversation, if any."""
    sql = "SELECT * FROM leases WHERE conversation_id = ?"
    if isinstance(conn, Store):
        rows = conn.query(sql, (conversation_id,))
        return _lease(rows[0] if rows else None)
    return _lease(conn.execute(sql, (conversation_id,)).fetchone())


def is_live(lease: Lease | None, stale_after: float, now: float | None = None) -> bool:
    """True when the lease's runner is alive (or a fresh claim is still starting one)."""
    if lease is None:
        return False
    now = time.time() if now is None else now
    if lease.pid == 0:
        return now - lease.heartbeat_at < CLAIM_GRACE
    return pid_is_runner(lease.pid) and now - lease.heartbeat_at < stale_after


def claim(store: Store, conversation_id: str, token: str, stale_after: float) -> bool:
    """Claim the conversation for a runner about to start; False when a live runner has it."""
    with store.transaction() as conn:
        if is_live(read_lease(conn, conversation_id), stale_after):
            return False
        now = time.time()
        conn.execute(
            "INSERT OR REPLACE INTO leases (conversation_id, pid, token, started_at, heartbeat_at)"
            " VALUES (?, 0, ?, ?, ?)",
            (conversation_id, token, now, now),
        )
        return True


def acquire(store: Store, conversation_id: str, token: str, stale_after: float) -> bool:
    """Take the lease for this process: our own claim, or a dead lease. False when taken."""
    with store.transaction() as conn:
        current = read_lease(conn, conversation_id)
        ours = current is not None and current.token == token
        if current is not None and not ours and is_live(current, stale_after):
            return False
        now = time.time()
        conn.execute(
            "INSERT OR REPLACE INTO leases (conversation_id, pid, token, started_at, heartbeat_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (conversation_id, os.getpid(), token, now, now),
        )
        return True


def heartbeat(store: Store, conversation_id: str, token: str) -> bool:
    """Refresh our heartbeat; False when the lease is no longer ours."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE leases SET heartbeat_at = ? WHERE conversation_id = ? AND token = ?",
            (time.time(), conversation_id, token),
        )
        return cursor.rowcount == 1


def release(store: Store, conversation_id: str, token: str) -> None:
    """Drop our lease (no-op when someone else holds it)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM leases WHERE conversation_id = ? AND token = ?", (conversation_id, token))
