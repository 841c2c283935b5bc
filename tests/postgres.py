"""A real PostgreSQL for the tests: a temporary cluster, and a fresh empty database per test.

``CHATML_TEST_POSTGRES_URL`` (an admin URL; ``.ci/run`` sets it after starting a cluster) is used
when set. Otherwise a cluster is started for the test session in a temp dir when PostgreSQL's
binaries are installed (``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``), as the
``postgres`` user when running as root (PostgreSQL refuses root), and stopped and removed at the
end. With neither, the PostgreSQL tests skip, unless ``CHATML_REQUIRE_POSTGRES=1``: then they fail.

Every database a test gets is dropped after it (``DROP DATABASE ... WITH (FORCE)``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

#: Who runs the cluster when this process is root.
CLUSTER_USER = "postgres"


def bindir() -> Path | None:
    """Where ``initdb``/``pg_ctl`` live, or None when PostgreSQL is not installed."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        if (Path(out.strip()) / "initdb").exists():
            return Path(out.strip())
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 where nothing listens (bound, not listening, for the block's time)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


class TempCluster:
    """A PostgreSQL cluster in a temp dir on a free port of 127.0.0.1 (trust auth, no fsync)."""

    def __init__(self, binaries: Path, fsync: bool = False) -> None:
        self.bin = binaries
        self.fsync = fsync
        self.dir = Path(tempfile.mkdtemp(prefix="chatml-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", CLUSTER_USER, "--"]
            entry = pwd.getpwnam(CLUSTER_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data = self.dir / "data"

    @property
    def admin_url(self) -> str:
        """A superuser URL of the cluster's ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, *argv], check=True, capture_output=True, text=True, cwd=self.dir)

    def start(self) -> TempCluster:
        """initdb, then start the server and wait until it accepts connections."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                  "-o", options, "start")  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server (immediately: it holds nothing worth keeping) and remove its files."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def with_database(admin_url: str, name: str) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def create_database(admin_url: str) -> str:
    """A fresh empty database; its URL."""
    import psycopg

    name = f"chatml_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database of ``url``, disconnecting whoever is still connected."""
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_backends(admin_url: str, url: str) -> int:
    """Kill every server process connected to the database of ``url`` (a lost connection)."""
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


@contextlib.contextmanager
def admin(fsync: bool = False) -> Iterator[str | None]:
    """An admin URL for the session: the environment's, or a temp cluster's (None: no PostgreSQL).

    A temp cluster runs without fsync unless ``fsync`` (tests need no durability; benchmarks do).
    """
    given = os.environ.get("CHATML_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    binaries = bindir()
    if binaries is None:
        yield None
        return
    cluster = TempCluster(binaries, fsync)
    try:
        cluster.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # -w waited for the socket; TCP follows at once
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", cluster.port), 1):
                break
            time.sleep(0.05)
        yield cluster.admin_url
    finally:
        cluster.stop()
