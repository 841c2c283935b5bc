"""The server extension: configuration, routes, the executor, and the hub's life cycle.

Configure with traitlets, e.g. in ``jupyter_server_config.py``::

    c.ChatMLServer.drift_interval = 600     # seconds between background drift refreshes (0: off)
    c.ChatMLServer.far_behind = 30          # commits behind that put a session in the attention queue
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.extension.application import ExtensionApp
from traitlets import Dict, Float, Int, Unicode

from .. import __version__
from ..config import Config, default_data_dir
from ..core.manager import ChatML
from ..errors import ConfigError
from . import handlers
from .hub import Hub
from .service import Service
from .stream import StreamHandler

T = TypeVar("T")
API = "/chatml/api"


class ChatMLServer(ExtensionApp):
    """ChatML's REST API and push channel inside a Jupyter server."""

    name = "chatml_lab.server"
    version = __version__
    load_other_extensions = True

    data_dir = Unicode(
        "",
        config=True,
        help="ChatML data directory (default: $CHATML_DATA_DIR or the platform's user data dir).",
    )
    poll_interval = Float(
        0.25, config=True, help="Seconds between two reads of new events for the push channel."
    )
    list_interval = Float(2.0, config=True, help="Seconds between two reads of the session list when nothing announced a change.")  # fmt: skip
    drift_interval = Float(
        300.0, config=True, help="Seconds between background drift refreshes (0 turns them off)."
    )
    far_behind = Int(20, config=True, help="Commits behind the default branch that put a session in the attention queue.")  # fmt: skip
    workers = Int(4, config=True, help="Threads that run blocking ChatML calls off the event loop.")
    core = Dict(
        {},
        config=True,
        help="Fields of chatml_lab.config.Config for the core, e.g. {'runner_idle_timeout': 60}.",
    )

    def core_config(self) -> Config:
        """The plain dataclass the core runs with, from :attr:`core`."""
        known = {f.name for f in fields(Config)}
        unknown = sorted(set(self.core) - known)
        if unknown:
            raise ConfigError(
                f"unknown c.ChatMLServer.core key(s) {', '.join(unknown)}: use {', '.join(sorted(known))}"
            )
        return Config(**self.core)

    def initialize_settings(self) -> None:
        """Open the manager and make the service, the executor and the hub."""
        data_dir = Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()
        self.cm = ChatML(data_dir=data_dir, config=self.core_config())
        root_dir = getattr(self.serverapp, "root_dir", None)
        root = Path(root_dir).expanduser().resolve() if root_dir else None
        self.service = Service(self.cm, root, self.far_behind)
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="chatml")
        self.hub = Hub(
            self.service, self.run, self.log, poll_interval=self.poll_interval,
            list_interval=self.list_interval, drift_interval=self.drift_interval,
        )  # fmt: skip
        self.settings["chatml_lab"] = self
        self.log.info("chatml_lab %s: data in %s", __version__, data_dir)

    def initialize_handlers(self) -> None:
        """Every route under ``/chatml/api/``."""
        self.handlers.extend([
            (f"{API}/version", handlers.VersionHandler),
            (f"{API}/sessions", handlers.SessionsHandler),
            (f"{API}/sessions/([^/]+)", handlers.SessionHandler),
            (f"{API}/sessions/([^/]+)/events", handlers.EventsHandler),
            (f"{API}/sessions/([^/]+)/([a-z_]+)", handlers.ActionHandler),
            (f"{API}/workspaces", handlers.WorkspacesHandler),
            (f"{API}/attention", handlers.AttentionHandler),
            (f"{API}/backends", handlers.BackendsHandler),
            (f"{API}/stream", StreamHandler),
            (f"{API}/(.*)", handlers.NotFoundHandler),
        ])  # fmt: skip

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run blocking ``fn(*args)`` in the extension's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the push channel's poll and the background refresh once the loop runs."""
        self.hub.start()

    async def stop_extension(self) -> None:
        """Stop the background tasks, wait for running calls, close the store."""
        await self.hub.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.executor.shutdown)
        self.cm.close()
