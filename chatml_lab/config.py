"""Where data lives and the plain configuration the core runs with.

UIs configure themselves with traitlets and hand the core a :class:`Config` (DESIGN §6).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "ChatML"
DEFAULT_BRANCH_PREFIX = "chatml"


def default_data_dir() -> Path:
    """``$CHATML_DATA_DIR``, else the platform's user data dir for app "ChatML"."""
    env = os.environ.get("CHATML_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Config:
    """Knobs of the core. Every field has a working default."""

    #: Seconds a ``git fetch`` may take before it is abandoned (offline still works).
    fetch_timeout: float = 15.0
    #: Minimum seconds between two fetches of one workspace for drift.
    fetch_throttle: float = 60.0
    #: Seconds a setup or archive script may run.
    script_timeout: float = 300.0
    #: First port handed out; each session gets a block of :attr:`port_block` ports.
    port_start: int = 41000
    port_block: int = 10
    #: Seconds a runner may sit idle before it exits (agents issue).
    runner_idle_timeout: float = 120.0
    #: Seconds after which a runner lease without heartbeat counts as dead.
    lease_stale_after: float = 5.0
    #: Seconds an approval request waits before it is denied.
    approval_timeout: float = 600.0
    #: Fork runners from a per-user runner host that has the SDK imported (False: a fresh
    #: process per runner, as ``CHATML_RUNNER_HOST=0`` does).
    runner_host: bool = field(default_factory=lambda: os.environ.get("CHATML_RUNNER_HOST", "1") != "0")
    #: Seconds the runner host stays up with no runner left (None: :attr:`runner_idle_timeout`).
    host_idle_timeout: float | None = None
