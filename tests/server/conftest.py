"""pytest-jupyter for the server extension's tests only (its autouse fixtures stay out of the rest).

``pytest_plugins`` may only be set in the top-level conftest, where pytest-jupyter's autouse
event-loop and server-cleanup fixtures would wrap every test of the package; importing its
fixtures here scopes them to this directory.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def jp_server_config(hermetic: Any) -> dict[str, Any]:
    """The extension enabled, background drift refresh off (tests drive it), a fast poll."""
    return {
        "ServerApp": {"jpserver_extensions": {"chatml_lab.server": True}},
        "ChatMLServer": {"drift_interval": 0, "poll_interval": 0.05, "list_interval": 0.2},
    }


@pytest.fixture
def api(jp_fetch: Fetch) -> Callable[..., Awaitable[tuple[int, dict[str, Any]]]]:
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
