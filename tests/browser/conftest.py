"""Browser fixtures: Debian's Chromium driven by Playwright, and a real Jupyter server per test.

These tests run in their own pytest invocation (``pytest -m browser tests/browser``): Playwright's
sync API and pytest-jupyter's event loop break each other in one process. Without Chromium or
Playwright they skip, unless ``CHATML_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.core.manager import ChatML

from ..agent_fixtures import kill_runners
from .jupyter_app import JupyterApp

CHROMIUM = os.environ.get("CHATML_CHROMIUM", "/usr/bin/chromium")
#: Flags measured to work headless, as root, offline (shared/notes/toolchain.md).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: Where CI keeps the screenshots.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _missing(reason: str) -> None:
    if os.environ.get("CHATML_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CHATML_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Nothing: pytest-jupyter (when the suite loads it) sets and closes an event loop around every
    test, which breaks Playwright's sync API; this directory needs no loop of its own."""
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    """Nothing: these tests start no in-process ServerApp (pytest-jupyter's autouse cleanup)."""
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[browser]'")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        _missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshots() -> Path:
    """``build/screenshots`` (made if missing)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def stop_runners(hermetic: Path) -> Iterator[None]:
    """Kill the agent runners the notebook's kernel started (they outlive kernels by design)."""
    yield
    manager = ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]))
    try:
        kill_runners(manager)
    finally:
        manager.close()


@pytest.fixture
def jupyter_server(tmp_path: Path, hermetic: Path, stop_runners: None) -> Iterator[JupyterApp]:
    """``jupyter lab`` serving ``tmp_path/notebooks`` (made empty), stopped with its kernels afterwards."""
    root = tmp_path / "notebooks"
    root.mkdir(exist_ok=True)
    server = JupyterApp(root, hermetic).start()
    try:
        yield server
    finally:
        server.stop()
