"""REST routes under ``/chatml/api/``. Errors are translated once, in :class:`ChatMLHandler`.

Every route needs a logged-in user (``@web.authenticated``: 403 without a token) and is checked by
the server's authorizer under the resource ``chatml``. Blocking work runs in the extension's
thread pool, never on the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import ChatMLError, InvalidArgumentError
from . import info
from .service import ACTIONS

if TYPE_CHECKING:
    from .app import ChatMLServer

T = TypeVar("T")
AUTH_RESOURCE = "chatml"


class ChatMLHandler(APIHandler):
    """Base of every route: the extension, JSON bodies, and the one error translation.

    A :class:`~chatml_lab.errors.ChatMLError` becomes its ``status`` (404 not found, 400 bad input,
    409 conflict, ...) and ``{"error": "<its one-line message>"}``; any other failure a 500 with the
    same shape, its traceback in the server log.
    """

    auth_resource = AUTH_RESOURCE

    @property
    def ext(self) -> ChatMLServer:
        """The running extension."""
        ext: ChatMLServer = self.settings["chatml_lab"]
        return ext

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn(*args)`` in the extension's executor."""
        result: T = await self.ext.run(fn, *args)
        return result

    def body(self) -> dict[str, Any]:
        """The JSON object in the request body (``{}`` when there is none)."""
        raw = self.request.body
        if not raw or not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidArgumentError(f"the request body is not JSON ({exc}): send a JSON object") from None
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"the request body must be a JSON object, not {type(data).__name__}")
        return data

    def flag(self, name: str) -> bool:
        """A boolean query argument: ``1|true|yes`` or ``0|false|no`` (absent is false)."""
        value = self.get_query_argument(name, "").strip().lower()
        if value in ("", "0", "false", "no"):
            return False
        if value in ("1", "true", "yes"):
            return True
        raise InvalidArgumentError(f"{name} must be true or false, not {value!r}")

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        """A whole-number query argument within bounds."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise InvalidArgumentError(
                f"{name} must be a whole number of at least {minimum}{upper}, not {raw!r}"
            )
        return value

    def reply(self, data: dict[str, Any], status: int = 200) -> None:
        """Write ``data`` as JSON with ``status``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def changed(self) -> None:
        """Tell the push channel that sessions changed (it refreshes its list at once)."""
        self.ext.hub.poke()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A ChatML error is the user's to fix: one info line, no traceback."""
        if isinstance(value, ChatMLError):
            self.log.info(
                "chatml: %s %s -> %s: %s", self.request.method, self.request.path, value.status, value
            )
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The one translation of errors into HTTP: ``{"error": message}`` with the right status."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ChatMLError):
            self.set_status(exc.status)
            message = str(exc)
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif isinstance(exc, web.HTTPError) or exc is None:
            message = self._reason
        else:
            message = f"internal error ({type(exc).__name__}: {exc}); see the Jupyter server log"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))


class VersionHandler(ChatMLHandler):
    """``GET version?client=X&schema=N``: versions, and whether the asking sidebar matches."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Answer the handshake."""
        schema = self.get_query_argument("schema", None)
        client_schema = self.integer("schema", 0, minimum=1) if schema else None
        self.reply(info.handshake(self.get_query_argument("client", None), client_schema))


class SessionsHandler(ChatMLHandler):
    """``GET sessions[?archived=false]`` and ``POST sessions``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Every session (archived ones unless ``archived=false``)."""
        raw = self.get_query_argument("archived", "true")
        include = raw.strip().lower() not in ("0", "false", "no") if raw else True
        self.reply({"sessions": await self.call(self.ext.service.sessions, include)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Create a session: ``{workspace, name?, prompt?, agent?, permission_mode?, priority?, base?}``."""
        session = await self.call(self.ext.service.create, self.body())
        self.changed()
        self.reply({"session": session}, 201)


class SessionHandler(ChatMLHandler):
    """``GET``, ``PATCH`` and ``DELETE sessions/{id}``."""

    @web.authenticated
    @authorized
    async def get(self, key: str) -> None:
        """One session."""
        session = await self.call(self.ext.service.session, key)
        self.reply({"session": await self.call(self.ext.service.session_json, session.id)})

    @web.authenticated
    @authorized
    async def patch(self, key: str) -> None:
        """Change ``priority``, ``task_status``, ``pinned`` or ``name``."""
        session = await self.call(self.ext.service.patch, key, self.body())
        self.changed()
        self.reply({"session": session})

    @web.authenticated
    @authorized
    async def delete(self, key: str) -> None:
        """Delete (``?force=true`` keeps a snapshot ref of work that would be lost)."""
        result = await self.call(self.ext.service.delete, key, self.flag("force"))
        self.changed()
        self.reply(result)


class ActionHandler(ChatMLHandler):
    """``POST sessions/{id}/{archive|unarchive|sync|send|approve|deny|stop|interrupt}``."""

    @web.authenticated
    @authorized
    async def post(self, key: str, action: str) -> None:
        """Run the action; ``send``, ``stop`` and ``interrupt`` answer 202 (the runner does the work)."""
        if action not in ACTIONS:
            raise web.HTTPError(404, "unknown action %r: use one of %s", action, ", ".join(ACTIONS))
        body = self.body()
        result = await self.call(self.ext.service.action, key, action, body)
        self.changed()
        self.reply(result, 202 if action in ("send", "stop", "interrupt") else 200)


class EventsHandler(ChatMLHandler):
    """``GET sessions/{id}/events?after=SEQ&limit=N``."""

    @web.authenticated
    @authorized
    async def get(self, key: str) -> None:
        """Events with ``seq > after`` (one page; ``more`` says whether another follows)."""
        after = self.integer("after", 0)
        limit = self.integer("limit", 500, minimum=1, maximum=5000)
        self.reply(await self.call(self.ext.service.events, key, after, limit))


class WorkspacesHandler(ChatMLHandler):
    """``GET workspaces``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Registered workspaces."""
        self.reply({"workspaces": await self.call(self.ext.service.workspaces)})


class AttentionHandler(ChatMLHandler):
    """``GET attention``: the ranked queue of sessions that need a person."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The queue, most urgent first, one reason per item."""
        self.reply({"attention": await self.call(self.ext.service.attention)})


class BackendsHandler(ChatMLHandler):
    """``GET backends``: installed agent backends and whether each can run here."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The backends and the default agent."""
        self.reply(await self.call(info.backends))


class NotFoundHandler(ChatMLHandler):
    """Any other path under ``/chatml/api/``: a JSON 404 rather than Jupyter's HTML page."""

    @web.authenticated
    async def get(self, path: str) -> None:
        """Refuse with a JSON 404 naming the path."""
        raise web.HTTPError(404, "no ChatML route %r: the API is described at /chatml/api/version", path)

    post = patch = put = delete = get
