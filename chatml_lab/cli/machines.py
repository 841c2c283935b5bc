"""``chatml host`` (this machine's runner host, in the foreground) and ``chatml machines`` (issue 13)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.manager import ChatML


def run_host(args: argparse.Namespace) -> int:
    """Serve this machine's sessions until stopped (Ctrl-C, SIGTERM) or idle for ``--idle-timeout``.

    Runs without opening the store in this process first: the host forks runners and workers, and
    no connection may cross a fork.
    """
    from ..config import Config, default_data_dir
    from ..core import runner_host
    from ..errors import ConfigError

    config = Config()
    data_dir = default_data_dir().expanduser().absolute()
    path = runner_host.socket_path(data_dir)
    running = runner_host.host_pids(data_dir)
    if running and runner_host.reachable(data_dir):
        raise ConfigError(
            f"a runner host (pid {running[0]}) already serves {data_dir} on this machine: stop it"
            " (it leaves by itself when it is idle), then run `chatml host` again"
        )
    print(f"chatml host: machine {config.machine!r}, data dir {data_dir}", flush=True)
    argv = ["--data-dir", str(data_dir), "--socket", str(path), "--idle-timeout", str(args.idle_timeout),
            "--config", config.to_json()]  # fmt: skip
    return runner_host.main(argv)


def cmd_machines(cm: ChatML, args: argparse.Namespace) -> int:
    """Print every machine sharing the store: reachable or not, its host, its sessions."""
    from ..core.machines import reach

    counts: dict[str, int] = {}
    for rec in cm.store.sessions(include_archived=False):
        name = rec.machine or cm.config.machine
        counts[name] = counts.get(name, 0) + 1
    now = time.time()
    print(f"{'MACHINE':<20} {'STATE':<12} {'HOST PID':>8} {'HEARTBEAT':>10} {'SESSIONS':>8}  HOST NAME")
    for row in cm.store.machines():
        found = reach(row, row.name, cm.config.machine_stale_after, now)
        beat = f"{now - row.heartbeat_at:.1f}s ago" if row.heartbeat_at is not None else "-"
        state = "reachable" if found.reachable else "no host" if row.heartbeat_at is None else "unreachable"
        here = " (this one)" if row.name == cm.config.machine else ""
        pid = str(row.host_pid) if row.host_pid else "-"
        print(
            f"{row.name:<20} {state:<12} {pid:>8} {beat:>10} {counts.get(row.name, 0):>8}  {row.host_name}{here}"
        )
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """``host [--idle-timeout S]``; ``machines``."""
    if command == "host":
        parser.add_argument(
            "--idle-timeout", type=float, default=0.0,
            help="leave after this many seconds with no runner and no request (default 0: never)",
        )  # fmt: skip
        parser.set_defaults(standalone=run_host)
    else:
        parser.set_defaults(func=cmd_machines)
