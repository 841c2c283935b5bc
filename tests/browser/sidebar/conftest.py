"""A real JupyterLab (subprocess, installed labextension and server extension) and a real Chromium.

Run with ``pytest -m browser tests/browser`` (they are left out of the main run). Needs Debian's
Chromium at ``/usr/bin/chromium`` (``apt-get install chromium``; Playwright cannot download its
own here) and the package installed with its labextension (``pip install -e .`` builds it).
Screenshots go to ``$CHATML_SCREENSHOTS`` (default ``build/screenshots``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML

from ...agent_fixtures import kill_runners
from ...conftest import commit_file, git

CHROMIUM = Path(os.environ.get("CHATML_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REPO_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = Path(os.environ.get("CHATML_SCREENSHOTS", REPO_ROOT / "build" / "screenshots"))
#: Settings of the test server: short-lived runners, a low "far behind" so one shows in the queue.
SERVER_CONFIG = {
    "ChatMLServer": {
        "far_behind": 3, "drift_interval": 0, "poll_interval": 0.1, "list_interval": 0.5,
        "core": {"runner_idle_timeout": 20.0, "lease_stale_after": 3.0, "fetch_throttle": 0.0},
    },
    "LabApp": {"expose_app_in_browser": True},
    "FileContentsManager": {"delete_to_trash": False},
}  # fmt: skip
NO_NEWS = {"checkForUpdates": False, "fetchNews": "false"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab and the world it sees."""

    url: str
    token: str
    root: Path
    repo: Path
    origin: Path
    cm: ChatML
    log: Path
    env: dict[str, str]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the REST API with the token (for setup and checks, not for what the UI must do)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/chatml/api/{path}", data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free port, rooted at a temp dir holding a repository and the worktrees."""
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (CI's .ci/run does)")
    base = tmp_path_factory.mktemp("lab")
    env = dict(os.environ)
    for name in ("HOME", "CHATML_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                 "IPYTHONDIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "XDG_CONFIG_HOME",
                 "XDG_CACHE_HOME", "XDG_DATA_HOME"):  # fmt: skip
        path = base / name.lower()
        path.mkdir()
        env[name] = str(path)
    root = base / "root"
    root.mkdir()
    env["CHATML_WORKSPACES_DIR"] = str(root / "worktrees")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        env.pop(name, None)
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.invalid",
        "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.invalid",
    })  # fmt: skip
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(NO_NEWS))

    origin = base / "origin.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(origin))
    repo = root / "project"
    git(base, "clone", "-q", str(origin), str(repo))
    git(repo, "checkout", "-q", "-b", "main")
    saved = dict(os.environ)
    os.environ.update(env)  # the test's own manager and git calls see the same world
    try:
        commit_file(repo, "README.md", "# project\n", "initial commit")
        git(repo, "push", "-q", "-u", "origin", "main")
        git(repo, "remote", "set-head", "origin", "main")
        cm = ChatML(config=Config(fetch_throttle=0, lease_stale_after=3.0, runner_idle_timeout=20.0))
        token = secrets.token_hex(16)
        port = _free_port()
        log = base / "lab.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
                 "--ip=127.0.0.1", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}"],
                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        lab = Lab(url=url, token=token, root=root, repo=repo, origin=origin, cm=cm, log=log, env=env)
        try:
            _wait_ready(lab, proc)
            yield lab
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            kill_runners(cm)
            cm.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def hermetic(hermetic: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In a test that uses the Lab server, the test's process sees the server's world (its data
    dir, worktrees base and git identity), not the fresh temp dirs of the top-level fixture."""
    if "lab" in request.fixturenames:
        lab: Lab = request.getfixturevalue("lab")
        for name, value in lab.env.items():
            if os.environ.get(name) != value:
                monkeypatch.setenv(name, value)
    return hermetic


def _wait_ready(lab: Lab, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {proc.returncode}:\n{lab.log.read_text()[-3000:]}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            if lab.api("GET", "version")["version"]:
                return
        time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not answer in {timeout} s:\n{lab.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser_page(lab: Lab) -> Iterator[Any]:
    """A Chromium page with JupyterLab loaded and the ChatML sidebar open."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.set_default_timeout(30_000)
            page.goto(f"{lab.url}/lab?token={lab.token}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=60_000)
            page.wait_for_selector("#chatml-sidebar", state="attached", timeout=60_000)
            page.evaluate("() => window.jupyterapp.shell.activateById('chatml-sidebar')")
            page.wait_for_selector("#chatml-sidebar .jp-ChatML-attention")
            yield page
        finally:
            browser.close()


def screenshot(page: Any, name: str, selector: str | None = None) -> Path:
    """Save a screenshot of the page (or of one element) under :data:`SCREENSHOTS`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if selector:
        page.locator(selector).first.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    return path


__all__ = ["Lab", "browser_page", "lab", "screenshot"]
