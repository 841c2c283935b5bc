"""``/chatml/api/stream``: the websocket every sidebar keeps open.

Client → server: ``{"type": "subscribe", "session": ID, "after": SEQ}`` and
``{"type": "unsubscribe", "session": ID}``. Server → client: ``hello`` (versions), ``sessions``
(the list and the attention queue, whenever they change), ``events`` (new events of a subscribed
session, in seq order), ``notice`` (something worth a notification) and ``error``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web, websocket

from .handlers import AUTH_RESOURCE

if TYPE_CHECKING:
    from .app import ChatMLServer


class StreamHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    """One sidebar's push channel."""

    auth_resource = AUTH_RESOURCE

    @property
    def ext(self) -> ChatMLServer:
        """The running extension."""
        ext: ChatMLServer = self.settings["chatml_lab"]
        return ext

    async def pre_get(self) -> None:
        """Check that the user may read ChatML state."""
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Upgrade to a websocket (403 without a logged-in user)."""
        await self.pre_get()
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Register with the hub, which greets and sends the session list."""
        super().open(*args, **kwargs)
        await self.ext.hub.connect(self)

    async def on_message(self, message: str | bytes) -> None:
        """Subscribe or unsubscribe; anything else gets an error message back."""
        try:
            data = json.loads(message)
            kind, session = data["type"], str(data["session"])
        except (ValueError, KeyError, TypeError):
            self.send(
                {"type": "error", "error": 'expected {"type": "subscribe"|"unsubscribe", "session": ID}'}
            )
            return
        if kind == "subscribe":
            after = data.get("after", 0)
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                self.send({"type": "error", "session": session, "error": "after must be a whole number ≥ 0"})
                return
            await self.ext.hub.subscribe(self, session, after)
        elif kind == "unsubscribe":
            self.ext.hub.unsubscribe(self, session)
        else:
            self.send(
                {"type": "error", "error": f"unknown message type {kind!r}: use subscribe or unsubscribe"}
            )

    def on_close(self) -> None:
        """Forget this client."""
        self.ext.hub.disconnect(self)

    def send(self, message: dict[str, Any]) -> None:
        """Write one JSON message; a closed socket is dropped from the hub."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            self.ext.hub.disconnect(self)
            return
        try:
            future = self.write_message(json.dumps(message))
        except websocket.WebSocketClosedError:
            self.ext.hub.disconnect(self)
            return
        future.add_done_callback(self._sent)

    def _sent(self, future: asyncio.Future[None]) -> None:
        if future.exception() is not None:
            self.ext.hub.disconnect(self)
