"""The deployment files of ``deploy/`` (issue 13), run for real where no Docker engine is.

``deploy/compose.yaml`` cannot be started here (no Docker engine on these machines), so these tests
take its services as a person's two machines would run them: the ``setup`` service's command as
the administrator against a real PostgreSQL (the test cluster; the compose file's ``db:5432/chatml``
is pointed at it), then the ``host`` service's command as "devbox", and the laptop of the file's
header as a second machine. A session made on devbox (as the ``lab`` service would) is listed on
the laptop, and a message sent from the laptop is answered by devbox's runner host.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from chatml_lab.cli.app import build_parser

from .agent_fixtures import wait_for, write_script
from .conftest import commit_file, git

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:-|:\?)([^}]*))?\}|\$(\w+)")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable syntax (``$$``, ``$V``, ``${V}``, ``${V:-default}``, ``${V:?error}``)."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        found = env.get(name, "")
        if match.group(2) == ":-" and not found:
            return match.group(3)
        if match.group(2) == ":?" and not found:
            raise KeyError(f"{name}: {match.group(3)}")
        return found

    return _VARIABLE.sub(value, text)


def resolved(node: Any, env: dict[str, str]) -> Any:
    """The compose document with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolved(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolved(item, env) for key, item in node.items()}
    return node


def compose(env: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = resolved(yaml.safe_load(COMPOSE.read_text()), env)
    return document


ENV = {
    "CHATML_ADMIN_PASSWORD": "admin-pw", "CHATML_PERSON": "alice", "CHATML_PASSWORD": "alice-pw",
    "CHATML_REPOS": "/home/alice/src",
}  # fmt: skip


def test_the_compose_file_runs_chatmls_own_commands_with_settings_chatml_reads() -> None:
    services = compose(ENV)["services"]
    assert set(services) == {"db", "setup", "host", "lab"}
    assert services["setup"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("host", "lab"):
        assert services[name]["depends_on"] == {"setup": {"condition": "service_completed_successfully"}}
        assert services[name]["environment"]["CHATML_USER"] == "alice"
        assert (
            services[name]["environment"]["CHATML_DATABASE_URL"]
            == "postgresql://alice:alice-pw@db:5432/chatml"
        )
        assert "/home/alice/src:/home/alice/src" in services[name]["volumes"]  # same path inside and out

    parser = build_parser()
    host = parser.parse_args(services["host"]["command"][1:])
    assert (host.command, host.idle_timeout) == ("host", 0)
    setup = services["setup"]["command"]
    assert setup[:2] == ["sh", "-c"]
    add = parser.parse_args(setup[2].split("| chatml ", 1)[1].split())
    assert (add.command, add.action, add.person, add.password_stdin) == ("db", "add-person", "alice", True)

    # Every CHATML_ variable the file sets is one chatml reads.
    source = "\n".join(p.read_text() for p in (ROOT / "chatml_lab").rglob("*.py"))
    for service in services.values():
        for variable in service.get("environment", {}):
            assert not variable.startswith("CHATML_") or f'"{variable}"' in source, variable
    with pytest.raises(KeyError, match="CHATML_PASSWORD"):
        compose({**ENV, "CHATML_PASSWORD": ""})  # a missing secret stops compose, as ${VAR:?} does


def _on_test_cluster(url: str, admin_url: str) -> str:
    """A URL of the compose file (host ``db``) pointed at the test's database; the administrator
    ``chatml_admin`` is the test cluster's own administrator.
    """
    ours, test = urllib.parse.urlsplit(url), urllib.parse.urlsplit(admin_url)
    user = test.username if ours.username == "chatml_admin" else ours.username
    netloc = f"{user}:{ours.password}@{test.hostname}:{test.port}"
    return urllib.parse.urlunsplit(ours._replace(netloc=netloc, path=test.path))


@contextlib.contextmanager
def _roles_dropped(admin_url: str, *roles: str) -> Iterator[None]:
    try:
        yield
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for role in roles:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{role}"')
                    conn.execute(f'DROP ROLE "{role}"')


def _run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    return done.stdout


def test_one_person_on_two_machines_as_the_compose_file_and_its_header_set_them_up(
    postgres_url: str, tmp_path: Path, hermetic: Path
) -> None:
    person = f"alice_{uuid.uuid4().hex[:6]}"
    repos = tmp_path / "src"
    env = {**ENV, "CHATML_PERSON": person, "CHATML_REPOS": str(repos)}
    services = compose(env)["services"]
    base = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    base.pop("CHATML_DATABASE_URL", None)

    def service_env(name: str, data_dir: Path) -> dict[str, str]:
        found = dict(services[name]["environment"])
        found["CHATML_DATABASE_URL"] = _on_test_cluster(found["CHATML_DATABASE_URL"], postgres_url)
        found["CHATML_DATA_DIR"] = str(data_dir)  # the container's /data volume
        return {**base, **found, "CHATML_MACHINE_HEARTBEAT": "0.3", "CHATML_MACHINE_STALE_AFTER": "3"}

    with _roles_dropped(postgres_url, person):
        out = _run(services["setup"]["command"], service_env("setup", tmp_path / "setup"))
        assert f"created role {person}" in out

        devbox = service_env("host", tmp_path / "devbox-data")
        host_log = tmp_path / "host.log"
        with open(host_log, "wb") as log:
            host = subprocess.Popen(
                services["host"]["command"], env=devbox, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        try:
            # The laptop of the compose file's header: the person's URL, its own machine name.
            laptop = {**base, "CHATML_DATABASE_URL": devbox["CHATML_DATABASE_URL"], "CHATML_USER": person,
                      "CHATML_MACHINE": "laptop", "CHATML_DATA_DIR": str(tmp_path / "laptop-data"),
                      "CHATML_MACHINE_STALE_AFTER": "3"}  # fmt: skip
            wait_for(
                lambda: re.search(r"^devbox\s+reachable", _run(["chatml", "machines"], laptop), re.M),
                timeout=60, what=f"devbox's host reachable from the laptop (log: {host_log})",
            )  # fmt: skip

            repo = repos / "app"
            repo.mkdir(parents=True)
            git(repo, "init", "-q", "-b", "main")
            commit_file(repo, "README.md", "app\n")
            script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "hello from devbox"}]])
            lab = service_env("lab", tmp_path / "devbox-data")  # the lab service: same volume as the host
            _run(["chatml", "new", "feat", "--repo", str(repo), "--agent", f"scripted:{script}"], lab)

            listed = _run(["chatml", "list"], laptop).splitlines()
            assert listed[0].split()[:4] == ["name", "workspace", "machine", "owner"]
            assert listed[1].split()[:4] == ["feat", "app", "devbox", person]

            _run(["chatml", "send", "feat", "say hello"], laptop)
            wait_for(
                lambda: "hello from devbox" in _run(["chatml", "log", "feat"], laptop),
                timeout=90, what=f"devbox's answer on the laptop (host log: {host_log})",
            )  # fmt: skip
        finally:
            host.send_signal(signal.SIGTERM)
            try:
                host.wait(timeout=30)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()
        assert host.returncode is not None  # the runner forked for "feat" is reaped by the hermetic fixture


def test_the_jupyterhub_config_gives_each_person_their_url_and_machine(tmp_path: Path) -> None:
    passwords = tmp_path / "passwords"
    passwords.mkdir()
    (passwords / "bob").write_text("b@d pw\n")
    config = argparse.Namespace(Spawner=argparse.Namespace())
    text = (ROOT / "deploy" / "jupyterhub_config.py").read_text()
    text = text.replace('Path("/srv/chatml/passwords")', f"Path({str(passwords)!r})")
    exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": lambda: config, "__name__": "config"})

    spawner = argparse.Namespace(user=argparse.Namespace(name="bob"), environment={})
    config.Spawner.pre_spawn_hook(spawner)
    url = urllib.parse.urlsplit(spawner.environment["CHATML_DATABASE_URL"])
    assert (url.scheme, url.username, urllib.parse.unquote(url.password or "")) == (
        "postgresql",
        "bob",
        "b@d pw",
    )
    assert spawner.environment["CHATML_MACHINE"] == "bob-server"
    host_command = config.Spawner.cmd[2].split(" & ")[0].split()
    assert build_parser().parse_args(host_command[1:]).command == "host"
