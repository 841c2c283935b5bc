"""A real ``jupyter lab`` server for browser tests, in temp dirs, stopped after.

One server serves both front ends: JupyterLab at ``/lab`` and Notebook 7 at ``/notebooks`` (the
``notebook`` package's server extension, enabled when it is installed). It runs as a subprocess of
this venv on a free port of 127.0.0.1 with a random token; every Jupyter directory, IPython, HOME
and the ChatML data dir come from the test's hermetic environment (``tests/conftest.py``).
``expose_app_in_browser`` lets the test run commands (``window.jupyterapp.commands``) instead of
hunting menus.
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
from dataclasses import dataclass, field
from pathlib import Path

#: What the app needs to be quiet and deterministic: no news or update toasts.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JupyterApp:
    """``jupyter lab`` serving ``root`` to JupyterLab and Notebook 7."""

    root: Path
    env_dir: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str, ui: str = "lab") -> str:
        """The page that opens ``notebook`` (relative to the root) in ``ui`` (``lab`` or ``notebook``)."""
        page = "lab/tree" if ui == "lab" else "notebooks"
        return f"{self.base_url}/{page}/{notebook}?token={self.token}"

    def start(self, timeout: float = 60.0) -> JupyterApp:
        """Start the server and wait until its API answers."""
        settings = self.env_dir / "lab-settings"
        for name, values in SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.env_dir / "lab-workspaces"),
        }
        self.log = self.log_path.open("wb")
        command = [
            sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser",
            f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--FileContentsManager.delete_to_trash=False", "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its kernels are in its group: stop() ends them all
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/status?token={self.token}", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer in {timeout:g} s: {self.log_text()[-2000:]}")

    @property
    def log_path(self) -> Path:
        """The server's output."""
        return self.env_dir / "jupyter-server.log"

    def log_text(self) -> str:
        """What the server printed so far."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server and its kernels (SIGTERM to the group, SIGKILL after 10 s)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Kernels started in the group may outlive the server by a moment.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        self.log.close()
