"""Every route refuses a request without a token (403), with the same JSON error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

ROUTES = [
    ("GET", "version"), ("GET", "sessions"), ("POST", "sessions"), ("GET", "sessions/abc"),
    ("PATCH", "sessions/abc"), ("DELETE", "sessions/abc"), ("GET", "sessions/abc/events"),
    ("GET", "workspaces"), ("GET", "attention"), ("GET", "backends"), ("GET", "elsewhere"),
    *[("POST", f"sessions/abc/{action}")
      for action in ("archive", "unarchive", "sync", "send", "approve", "deny", "stop", "interrupt")],
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_token(
    jp_serverapp: Any, http_server_client: Any, jp_base_url: str, method: str, path: str
) -> None:
    url = f"{jp_base_url}chatml/api/{path}"
    body = "{}" if method in ("POST", "PATCH") else None
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(url, method=method, body=body, headers={})
    assert info.value.code == 403
    assert info.value.response is not None
    assert "error" in json.loads(info.value.response.body)


async def test_a_wrong_token_is_refused_too(
    jp_serverapp: Any, http_server_client: Any, jp_base_url: str
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(
            f"{jp_base_url}chatml/api/sessions", headers={"Authorization": "token nope"}
        )
    assert info.value.code == 403


async def test_the_push_channel_needs_a_token(jp_ws_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("chatml", "api", "stream", headers={"Authorization": "token wrong"})
    assert info.value.code == 403
