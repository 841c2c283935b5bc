"""Helpers for tests that run real runner processes against the scripted server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.config import Config
from chatml_lab.core import agents as agent_client
from chatml_lab.core import runner_host
from chatml_lab.core.manager import ChatML
from chatml_lab.events import Event


def write_script(path: Path, turns: list[Any], **extra: Any) -> Path:
    """Write a scripted-server script file and return its path."""
    path.write_text(json.dumps({"turns": turns, **extra}))
    return path


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def types(events: list[Event]) -> list[str]:
    """The event types, deltas and state changes left out (they vary with timing)."""
    return [e.type.value for e in events if e.type.value not in ("assistant_delta", "state")]


def kill_runners(cm: ChatML) -> None:
    """Stop every runner the test started (leases, then our own children)."""
    for held in cm.store.leases():
        if held.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(held.pid, signal.SIGKILL)
    for child in agent_client._STARTED.take_all():
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
    for pid in runner_host.host_pids(cm.data_dir):  # a host another process (a CLI) started
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def agent_cm(hermetic: Path) -> Iterator[ChatML]:
    """A manager whose runners exit after 3 idle seconds and count as dead after 2 s silence."""
    manager = ChatML(
        data_dir=Path(os.environ["CHATML_DATA_DIR"]),
        config=Config(
            runner_idle_timeout=3.0, lease_stale_after=2.0, approval_timeout=30.0, fetch_throttle=0
        ),
    )
    try:
        yield manager
    finally:
        kill_runners(manager)
        manager.close()
