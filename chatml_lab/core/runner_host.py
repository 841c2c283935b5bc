"""The runner host: one per user and data dir, the SDK already imported, forking one runner per conversation.

A runner started as a fresh ``python -m chatml_lab.core.runner_main`` pays the interpreter start
and ``import anthropic`` (~1 s) before the first answer streams. The host pays them once: started
on demand by the first :meth:`~chatml_lab.core.agents.AgentControl.ensure_runner` (``python -m
chatml_lab.core.runner_host``), it listens on a Unix socket in ``<data>/run/`` and, per request,
forks a runner that is the same process a fresh start would be:

- its own session and process group (``setsid``), cwd = the worktree, the client's environment,
  stdout and stderr in the conversation's log, stdin on ``/dev/null``;
- its process title is the runner's command line, so :func:`~chatml_lab.agents.lease.pid_is_runner`
  recognises it; it takes the lease with its own pid, so a killed runner shows ``crashed``;
- a runner outlives the host: killing the host leaves its runners serving (they are in their own
  sessions), and their leases stay the truth.

The host holds no database connection while it forks (SQLite connections must not cross a
fork) and runs no thread. When a runner exits still holding the client's claim (it died before
taking the lease) the host records the failed start, as the client does for runners it started
itself. With no runner left and no request for ``--idle-timeout`` seconds it exits: idle sessions
keep costing zero processes. Only the user who owns the data dir may connect (``SO_PEERCRED``).

The client side (:func:`spawn`) falls back to a plain subprocess whenever the host cannot be had,
so a broken host never stops an agent.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from .host_preload import preload, warm_up_sdk

if TYPE_CHECKING:
    from .host_duties import Job

HOST_MODULE = "chatml_lab.core.runner_host"
#: Seconds a client waits for a host it started to listen (a cold import under load is slow).
START_TIMEOUT = 30.0
#: Seconds a client waits for the host's answer to one request.
REQUEST_TIMEOUT = 10.0
_LOOP_TICK = 0.1


# -- the client side ----------------------------------------------------------------------------


def socket_path(data_dir: Path) -> Path:
    """Where the host for ``data_dir`` and this interpreter listens.

    Keyed by interpreter, package location and ``PYTHONPATH``: a runner forked from a host runs
    the code the host imported, so a client with other code gets a host of its own.
    """
    from .. import __file__ as package

    key = "\0".join([sys.executable, str(Path(package).parent), os.environ.get("PYTHONPATH", "")])
    name = f"host-{hashlib.sha256(key.encode()).hexdigest()[:12]}.sock"
    path = data_dir / "run" / name
    if len(str(path).encode()) < 100:  # AF_UNIX paths are limited to ~108 bytes
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"chatml-{os.getuid()}" / f"{digest}-{name}"


def _private_dir(directory: Path) -> bool:
    """Make ``directory`` (mode 0700); True when it is ours and nobody else may enter it."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = directory.stat()
    except OSError:
        return False
    return found.st_uid == os.getuid() and not found.st_mode & 0o077


def _request(path: Path, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """Send one request; the host's answer, or None when no host answered."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(path))
            conn.sendall(json.dumps(payload).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                answer += chunk
        found: dict[str, Any] = json.loads(answer)
        return found
    except (OSError, ValueError):
        return None


def start_host(
    data_dir: Path, idle_timeout: float, database_url: str | None = None, config: str | None = None
) -> subprocess.Popen[bytes]:
    """Start a host for ``data_dir`` (detached, own session); it listens once its imports are done.

    ``database_url`` (the client's :attr:`~chatml_lab.config.Config.database_url`) reaches it as
    ``CHATML_DATABASE_URL``: the host opens the same store as its clients. ``config`` is the
    client's whole :class:`~chatml_lab.config.Config` as JSON (its machine's name, issue 13).
    """
    path = socket_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", HOST_MODULE, "--data-dir", str(data_dir), "--socket", str(path),
            "--idle-timeout", str(idle_timeout)]  # fmt: skip
    if config is not None:
        args += ["--config", config]
    with open(logs / "runner-host.log", "ab") as log:
        # cwd: the data dir, never the caller's (``python -m`` puts its cwd first on sys.path).
        return subprocess.Popen(
            args, cwd=data_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=_host_env(data_dir, database_url),
        )  # fmt: skip


def _host_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "CHATML_DATA_DIR": str(data_dir)}
    if database_url is not None:
        env["CHATML_DATABASE_URL"] = database_url
    return env


def spawn(
    data_dir: Path,
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    log: Path,
    idle_timeout: float,
    database_url: str | None = None,
    config: str | None = None,
) -> tuple[int | None, subprocess.Popen[bytes] | None]:
    """Have the host fork a runner with ``argv`` (the runner's arguments); start the host if needed.

    Returns ``(pid, host)``: the runner's pid (None when no host could serve: start the runner
    another way) and the host process when this call started one (the caller reaps it).
    """
    path = socket_path(data_dir)
    if not _private_dir(path.parent):
        return None, None
    request = {"argv": argv, "cwd": str(cwd), "env": env, "log": str(log)}
    # A host that is still importing (started by prewarm, or by another client) answers late.
    answer = _request(path, request, START_TIMEOUT)
    started = None
    if answer is None:
        started = start_host(data_dir, idle_timeout, database_url, config)
        deadline = time.monotonic() + START_TIMEOUT
        while answer is None and started.poll() is None and time.monotonic() < deadline:
            # Refused until the host listens; then answered once its imports are done.
            answer = _request(path, request, max(0.1, deadline - time.monotonic()))
            if answer is None:
                time.sleep(0.01)
    pid = answer.get("pid") if answer else None
    return (int(pid) if isinstance(pid, int) and pid > 0 else None), started


def reachable(data_dir: Path) -> bool:
    """True when a host for ``data_dir`` listens (it may still be importing)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1.0)
            conn.connect(str(socket_path(data_dir)))
        return True
    except OSError:
        return False


def host_pids(data_dir: Path) -> list[int]:
    """Pids of live hosts serving ``data_dir`` (from their pid files)."""
    found = []
    # Next to the socket: in <data>/run, or in the temp dir when that path is too long for one.
    files = {*(data_dir / "run").glob("host-*.pid"), socket_path(data_dir).with_suffix(".pid")}
    for pid_file in sorted(files):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
            found.append(pid)
    return found


# -- the host -----------------------------------------------------------------------------------


def _client_gone(conn: socket.socket) -> bool:
    """True when the client closed its end (it timed out) while its request waited."""
    conn.settimeout(0)
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.settimeout(REQUEST_TIMEOUT)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[2])


class Host:
    """The accept-fork-reap loop (single-threaded: forking from it is safe).

    Its machine's duties (heartbeat, the inbox other machines write, their requests) are done
    between two accepts by :class:`~.host_duties.Duties`. ``idle_timeout`` 0 or less: never leave.
    """

    def __init__(self, data_dir: Path, path: Path, idle_timeout: float, config: Config | None = None) -> None:
        from .host_duties import Duties

        self.data_dir = data_dir
        self.path = path
        self.idle_timeout = idle_timeout if idle_timeout > 0 else float("inf")
        self.duties = Duties(data_dir, config or Config())
        self.children: dict[int, tuple[str, str, Path]] = {}  # pid → (conversation, token, log)
        self.forked: dict[str, int] = {}  # token → pid: a request asked twice forks once
        self.listener: socket.socket | None = None
        self.lock_fd: int | None = None

    # -- start and stop -------------------------------------------------------------------------

    def claim(self) -> bool:
        """Take the host lock for this socket; False when another live host serves it."""
        import fcntl

        if not _private_dir(self.path.parent):
            print(f"runner host: {self.path.parent} is not a private directory of this user", flush=True)
            return False
        fd = os.open(str(self.path.with_suffix(".lock")), os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # A host that is leaving releases the lock at once; a serving one keeps it.
                if _request(self.path, {"ping": True}, 1.0) is not None or time.monotonic() > deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
        self.lock_fd = fd
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a dead host's socket
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)
        listener.listen(64)
        self.listener = listener
        self.path.with_suffix(".pid").write_text(f"{os.getpid()}\n")
        return True

    def _retire(self) -> None:
        """Stop being reachable (socket and pid file gone, lock released) before the last drain."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.path.with_suffix(".pid").unlink()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    # -- the loop -------------------------------------------------------------------------------

    def serve(self) -> int:
        """Accept, fork and reap until idle; the exit code."""
        assert self.listener is not None
        idle_since = time.monotonic()
        stopping = False
        warmed = unsafe = False

        def on_term(_signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)  # `chatml host` in a terminal: Ctrl-C leaves cleanly
        while True:
            self._reap()
            if stopping:
                break
            for job in self.duties.tick():
                self._run_job(job)
            if self.children or self.duties.workers:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_timeout:
                break
            ready, _, _ = select.select([self.listener], [], [], _LOOP_TICK)
            if ready:
                self._accept()
                idle_since = time.monotonic()
            elif not warmed:
                # At the first quiet moment, not before: a request queued while the host started
                # is forked at once, and only the runners after it find the SDK warm.
                warmed = True
                self.duties.release()  # a pool's threads must be gone before the warm-up's check
                try:
                    warm_up_sdk()
                except Exception:  # a host that cannot fork safely leaves; clients start runners themselves
                    traceback.print_exc()
                    stopping = unsafe = True
        # Leave: unreachable first, then serve what was already queued, then wait for no one.
        self._retire()
        while not unsafe and select.select([self.listener], [], [], 0)[0]:
            self._accept()
        self.listener.close()
        while self.children or self.duties.workers:
            self._reap()
            time.sleep(_LOOP_TICK)
        self.duties.leave()
        return 0

    def _run_job(self, job: Job) -> None:
        from .host_duties import RunnerJob, fork_worker

        if isinstance(job, RunnerJob):
            pid = self._fork(job.request, None)
            self.forked[str(job.request["argv"][job.request["argv"].index("--token") + 1])] = pid
        else:
            fork_worker(self.duties, job.request_id, self._detach)

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(REQUEST_TIMEOUT)
            try:
                if hasattr(socket, "SO_PEERCRED") and _peer_uid(conn) != os.getuid():
                    conn.sendall(b'{"error": "not your host"}\n')
                    return
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                request = json.loads(data)
                if request.get("ping"):
                    conn.sendall(b'{"pong": true}\n')
                    return
                token = str(request["argv"][request["argv"].index("--token") + 1])
                pid = self.forked.get(token)
                if pid is None or pid not in self.children:
                    if _client_gone(conn):
                        return  # it gave up waiting and starts its runner another way
                    pid = self._fork(request, conn)
                    self.forked[token] = pid
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                print(f"runner host: bad request: {exc}", flush=True)

    def _fork(self, request: dict[str, Any], conn: socket.socket | None) -> int:
        argv = [str(a) for a in request["argv"]]
        cwd, env, log = str(request["cwd"]), dict(request["env"]), Path(request["log"])
        token = argv[argv.index("--token") + 1]
        from .host_duties import fork_child

        def run() -> int:
            self._become_runner(argv, cwd, env, log, conn)
            from . import runner_main

            return runner_main.main(argv)

        pid = fork_child(self.duties, run)
        self.children[pid] = (argv[0], token, log)
        return pid

    def _become_runner(
        self, argv: list[str], cwd: str, env: dict[str, str], log: Path, conn: socket.socket | None
    ) -> None:
        """What ``subprocess.Popen(..., start_new_session=True, cwd=..., env=...)`` would have done."""
        import setproctitle

        from .agents import runner_command

        # Before the environment changes: setproctitle finds the argv area next to it.
        setproctitle.setproctitle(" ".join(runner_command(argv)))
        if conn is not None:
            conn.close()
        self._detach()
        # Output first: whatever fails from here on is told in the conversation's log.
        out = os.open(str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)

    def _detach(self) -> None:
        """In a forked child: its own session, none of the host's sockets, locks or handlers."""
        os.setsid()
        if self.listener is not None:
            self.listener.close()
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # the lock must leave with the host, not stay with a runner
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)

    def _reap(self) -> None:
        while self.children or self.duties.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            found = self.children.pop(pid, None)
            if found is None:
                self.duties.worker_exited(pid, os.waitstatus_to_exitcode(status))
            else:
                if self.forked.get(found[1]) == pid:
                    del self.forked[found[1]]
                code = os.waitstatus_to_exitcode(status)
                self._check_start(*found, code)

    def _check_start(self, conversation_id: str, token: str, log: Path, code: int) -> None:
        """A runner that exited still holding the client's claim died before it could start."""
        from ..storage.location import open_store
        from .agents import mark_failed_start

        # The database URL reaches the host in its environment (CHATML_DATABASE_URL, see start_host).
        store = open_store(self.duties.config, self.data_dir)
        try:
            current = store.lease(conversation_id)
            if current is not None and current.pid == 0 and current.token == token:
                mark_failed_start(store, log, conversation_id, token, code)
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m chatml_lab.core.runner_host --data-dir DIR --socket PATH --idle-timeout S``."""
    parser = argparse.ArgumentParser(prog="chatml-runner-host")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--idle-timeout", type=float, default=120.0, help="0: never leave")
    parser.add_argument("--config", help="the client's Config as JSON (this machine's name and the rest)")
    args = parser.parse_args(argv)
    config = Config.from_json(args.config) if args.config else Config()
    host = Host(Path(args.data_dir), Path(args.socket), args.idle_timeout, config)
    if not host.claim():
        return 0  # another host serves this socket
    print(f"runner host pid {os.getpid()} listening on {host.path}", flush=True)
    try:
        preload()
        return host.serve()
    finally:
        host._retire()


if __name__ == "__main__":
    sys.exit(main())
