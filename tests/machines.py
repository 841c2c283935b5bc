"""Two machines on one box (issue 13): two data dirs, two machine names, one shared database.

Each :class:`FakeMachine` is what one machine would have: its own data dir, a manager in this
process (its clients), and its runner host as a real process (``python -m
chatml_lab.core.runner_host``, what ``chatml host`` runs). The database is one SQLite file named by
a ``sqlite:////abs/path.db`` URL, or a PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from chatml_lab.config import Config
from chatml_lab.core import runner_host
from chatml_lab.core.manager import ChatML

from .agent_fixtures import wait_for

#: Fast figures for tests: a heartbeat every 0.3 s, unreachable after 1.5 s of silence.
HEARTBEAT = 0.3
STALE_AFTER = 1.5


def machine_config(name: str, url: str) -> Config:
    """The configuration of machine ``name`` on the shared database ``url``."""
    return Config(
        machine=name, database_url=url, runner_idle_timeout=5.0, lease_stale_after=2.0,
        approval_timeout=60.0, fetch_throttle=0, machine_heartbeat=HEARTBEAT,
        machine_stale_after=STALE_AFTER, host_poll_interval=0.5, remote_timeout=60.0,
    )  # fmt: skip


@dataclass
class FakeMachine:
    """One machine: its name, data dir, manager and (when started) runner host process."""

    name: str
    data_dir: Path
    config: Config
    cm: ChatML
    host: subprocess.Popen[bytes] | None = None
    hosts: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def make(cls, name: str, root: Path, url: str, **changes: object) -> FakeMachine:
        """A machine with a fresh data dir under ``root``."""
        data_dir = root / f"machine-{name}"
        data_dir.mkdir(parents=True)
        config = replace(machine_config(name, url), **changes)  # type: ignore[arg-type]
        return cls(name, data_dir, config, ChatML(data_dir=data_dir, config=config))

    def start_host(self, cli: bool = False) -> None:
        """Start this machine's runner host (never idle-exits): on demand as a client does, or
        with ``cli`` as a person does, ``chatml host`` (its settings then come from the environment).
        """
        if not cli:
            self.host = runner_host.start_host(
                self.data_dir, 0, self.config.database_url, self.config.to_json()
            )
        else:
            env = {
                **os.environ, "CHATML_DATA_DIR": str(self.data_dir), "CHATML_MACHINE": self.name,
                "CHATML_DATABASE_URL": str(self.config.database_url),
                "CHATML_MACHINE_HEARTBEAT": str(HEARTBEAT), "CHATML_MACHINE_STALE_AFTER": str(STALE_AFTER),
            }  # fmt: skip
            log = open(self.data_dir / "chatml-host.log", "ab")  # noqa: SIM115 (the child holds it)
            with log:
                self.host = subprocess.Popen(
                    [sys.executable, "-m", "chatml_lab.cli", "host"], env=env, cwd=self.data_dir,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
        self.hosts.append(self.host)

    def host_pid(self) -> int | None:
        """The pid of the host process this machine runs (None: none)."""
        return self.host.pid if self.host is not None else None

    def reachable_from(self, other: FakeMachine) -> bool:
        """True when ``other`` sees this machine's heartbeat."""
        return other.cm.machines.reachable().get(self.name, False)

    def kill_host(self) -> None:
        """SIGKILL the runner host (a machine that vanished: no goodbye written)."""
        assert self.host is not None
        self.host.kill()
        self.host.wait(timeout=10)
        self.host = None

    def stop(self) -> None:
        """End everything this machine started: its host(s), the runners its leases name, its manager."""
        for host in self.hosts:
            if host.poll() is None:
                host.terminate()
                try:
                    host.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    host.kill()
                    host.wait(timeout=10)
        with contextlib.suppress(Exception):
            for held in self.cm.store.leases():
                if held.pid > 0 and held.machine == self.name:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(held.pid, signal.SIGKILL)
        for pid in runner_host.host_pids(self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.cm.close()


def wait_reachable(machine: FakeMachine, seen_by: FakeMachine, reachable: bool = True) -> None:
    """Wait until ``seen_by`` sees ``machine`` as (un)reachable."""
    wait_for(
        lambda: machine.reachable_from(seen_by) is reachable, timeout=60,
        what=f"machine {machine.name} {'reachable' if reachable else 'unreachable'} from {seen_by.name}",
    )  # fmt: skip
