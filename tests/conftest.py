"""Shared fixtures: a hermetic environment and real git repositories with a local bare origin."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML

from . import postgres

_ISOLATED = ("HOME", "CHATML_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
             "IPYTHONDIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")  # fmt: skip


def _stop_runner_hosts(under: Path) -> None:
    """End the runner hosts serving data dirs under ``under`` (a test's, started on demand)."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        line = proc.info["cmdline"] or []
        if "chatml_lab.core.runner_host" in line and "--data-dir" in line:
            data_dir = line[line.index("--data-dir") + 1]
            if data_dir.startswith(str(under)):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
                    proc.wait(timeout=10)  # reaped here when this process started it


@pytest.fixture(autouse=True)
def hermetic(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """Point every home, data and config dir at a temp dir; no key, no network, a git identity.

    ``CHATML_TEST_ENGINE=postgresql`` runs every test on a fresh PostgreSQL database instead of
    SQLite (a way to look for dialect gaps; tests that open SQLite files themselves then fail).
    """
    root = tmp_path_factory.mktemp("env")
    for name in _ISOLATED:
        path = root / name.lower()
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "CHATML_WORKSPACES_DIR",
                 "GITHUB_TOKEN", "GH_TOKEN", "CHATML_GITHUB_API_URL", "CHATML_DATABASE_URL",
                 "CHATML_DATABASE_RETRY_FOR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.invalid")
    if os.environ.get("CHATML_TEST_ENGINE") == "postgresql":
        monkeypatch.setenv("CHATML_DATABASE_URL", request.getfixturevalue("postgres_url"))
    yield root
    # Runners exit on their own when idle; a runner host the test started on demand is ended here,
    # and so is every agent process this test process started and still holds (reaped, not left).
    _stop_runner_hosts(tmp_path_factory.getbasetemp())
    from chatml_lab.core import agents

    for child in agents._STARTED.take_all():
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return stdout (raises on failure)."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_file(repo: Path, name: str, content: str, message: str | None = None) -> str:
    """Write, add and commit one file; return the new commit."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message or f"add {name}")
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository standing in for GitHub."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return bare


@pytest.fixture
def repo(tmp_path: Path, origin: Path) -> Path:
    """A clone of ``origin`` with one pushed commit on ``main`` and ``origin/HEAD`` set."""
    path = tmp_path / "project"
    git(tmp_path, "clone", "-q", str(origin), str(path))
    git(path, "checkout", "-q", "-b", "main")
    commit_file(path, "README.md", "# project\n", "initial commit")
    commit_file(path, ".gitignore", ".env\n*.log\n", "ignore env")
    git(path, "push", "-q", "-u", "origin", "main")
    git(path, "remote", "set-head", "origin", "main")
    return path


@pytest.fixture
def cm(hermetic: Path) -> Iterator[ChatML]:
    """A manager on a temp data dir."""
    manager = ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]))
    yield manager
    manager.close()


# -- PostgreSQL (tests/postgres.py): one temp cluster per test session, a fresh database per test ---


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    """A superuser URL of a running PostgreSQL (skips, or fails under CHATML_REQUIRE_POSTGRES=1)."""
    with postgres.admin() as url:
        if url is None:
            if os.environ.get("CHATML_REQUIRE_POSTGRES") == "1":
                pytest.fail(
                    "CHATML_REQUIRE_POSTGRES=1 but PostgreSQL is not installed: apt-get install postgresql"
                )
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        yield url


@pytest.fixture
def postgres_url(postgres_admin: str) -> Iterator[str]:
    """The URL of a fresh empty database, dropped after the test."""
    url = postgres.create_database(postgres_admin)
    yield url
    postgres.drop_database(postgres_admin, url)


@pytest.fixture
def on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test's ChatML on PostgreSQL: ``CHATML_DATABASE_URL`` names a fresh database."""
    monkeypatch.setenv("CHATML_DATABASE_URL", postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """What ``Store(...)`` opens, once per engine: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "chatml.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per engine: the ``ChatML()`` it makes opens SQLite in the data dir, then a
    fresh PostgreSQL database (``CHATML_DATABASE_URL``). Use it before ``cm`` in the arguments, or
    with ``@pytest.mark.usefixtures("engine")``."""
    if request.param == "postgresql":
        monkeypatch.setenv("CHATML_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("CHATML_DATABASE_URL", raising=False)  # SQLite even under CHATML_TEST_ENGINE
    return str(request.param)
