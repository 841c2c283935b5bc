"""pytest-jupyter for the server extension's tests only (its autouse fixtures stay out of the rest).

``pytest_plugins`` may only be set in the top-level conftest, where pytest-jupyter's autouse
event-loop and server-cleanup fixtures would wrap every test of the package; importing its
fixtures here scopes them to this directory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPClientError, HTTPResponse

from chatml_lab.core.manager import ChatML

from ..agent_fixtures import kill_runners

Fetch = Callable[..., Awaitable[HTTPResponse]]
Api = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]


async def until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` without blocking the event loop the server runs on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def server_cm(cm: ChatML) -> Iterator[ChatML]:
    """The test's manager on the server's data dir; every runner either started is killed after."""
    try:
        yield cm
    finally:
        kill_runners(cm)


@pytest.fixture
def ext(jp_serverapp: Any) -> Any:
    """The running ChatMLServer extension."""
    return jp_serverapp.web_app.settings["chatml_lab"]


@pytest.fixture  # type: ignore[no-redef]
def jp_server_config(hermetic: Any) -> dict[str, Any]:
    """The extension enabled, background drift refresh off (tests drive it), a fast poll."""
    return {
        "ServerApp": {"jpserver_extensions": {"chatml_lab.server": True}},
        "ChatMLServer": {
            "drift_interval": 0,
            "poll_interval": 0.05,
            "list_interval": 0.2,
            "core": {
                "runner_idle_timeout": 3.0,
                "lease_stale_after": 2.0,
                "approval_timeout": 30.0,
                "fetch_throttle": 0.0,
            },
        },
    }


@pytest.fixture
def api(jp_fetch: Fetch) -> Api:
    """``await api(METHOD, "sessions", body=..., **params)`` -> (status, JSON); errors do not raise."""

    async def call(method: str, path: str, body: Any = None, **params: Any) -> tuple[int, dict[str, Any]]:
        kwargs: dict[str, Any] = {"method": method, "params": {k: str(v) for k, v in params.items()}}
        if body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        elif method in ("POST", "PATCH", "PUT"):
            kwargs["body"] = ""
        try:
            response = await jp_fetch("chatml", "api", *path.split("/"), **kwargs)
        except HTTPClientError as exc:
            assert exc.response is not None
            response = exc.response
        return response.code, json.loads(response.body or b"{}")

    return call
