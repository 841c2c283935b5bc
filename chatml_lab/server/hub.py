"""The push channel's engine: one central poll of the database, fanned out to every sidebar.

Runners write events into SQLite (the database is the bus, DESIGN §3); the hub reads every
conversation's new events in one query per tick, sends each subscribed socket the events of the
sessions it watches, refreshes the session list when something changed (or every few seconds,
for changes made by the CLI or a notebook), and turns what happened into notices. Sidebars never
poll per session. Drift refresh (and the PR poller, when the core has one) run here as background
tasks too. Every database read runs in the extension's executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ChatMLError
from ..events import Event, EventType
from . import feed
from .attention import attention
from .notices import event_notices, list_notices
from .serialize import event_json
from .service import Service

#: Event types after which the session list (agent state, name, cost) is read again at once.
LIST_CHANGING = {
    EventType.STATE, EventType.RESULT, EventType.APPROVAL_REQUEST, EventType.APPROVAL_RESPONSE,
    EventType.NAME_SUGGESTION, EventType.ARCHIVE_SUMMARY, EventType.NOTICE, EventType.ERROR,
}  # fmt: skip
#: Events older than this when first seen raise no notification (a backlog is not news).
NOTICE_MAX_AGE = 60.0


class Client(Protocol):
    """A connected sidebar (the websocket handler)."""

    def send(self, message: dict[str, Any]) -> None:
        """Deliver one JSON message; must not raise when the socket has closed."""


@dataclass
class Subscription:
    """One client's view of one session: the last seq sent, and events held during catch-up."""

    cursor: int
    held: list[dict[str, Any]] | None = field(default_factory=list)


@dataclass
class Collected:
    """What one tick read from the database (in a worker thread)."""

    events: list[Event]
    conversations: dict[str, str]
    sessions: list[dict[str, Any]] | None


Runner = Callable[..., Awaitable[Any]]


class Hub:
    """Central poller and fan-out. Lives on the server's event loop."""

    def __init__(
        self,
        service: Service,
        run: Runner,
        log: Any,
        poll_interval: float = 0.25,
        list_interval: float = 2.0,
        drift_interval: float = 300.0,
    ) -> None:
        self.service = service
        self.run = run
        self.log = log
        self.poll_interval = poll_interval
        self.list_interval = list_interval
        self.drift_interval = drift_interval
        self.clients: dict[Client, dict[str, Subscription]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.attention: list[dict[str, Any]] = []
        self.conversations: dict[str, str] = {}
        self.last_seq = 0
        self._list_at = 0.0
        self._dirty = True
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the poll loop and the background refresh (once; later calls do nothing)."""
        if self._tasks:
            return
        self._tasks.append(asyncio.ensure_future(self._poll_loop()))
        if self.drift_interval > 0:
            self._tasks.append(asyncio.ensure_future(self._refresh_loop()))

    async def stop(self) -> None:
        """Cancel the background tasks and wait for them."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def poke(self) -> None:
        """Something changed: read the session list on the next tick."""
        self._dirty = True

    # -- clients --------------------------------------------------------------------------------

    async def connect(self, client: Client) -> None:
        """A sidebar connected: greet it and send it the current list."""
        self.start()  # a server that skipped the extension's start hook still serves the channel
        self.clients[client] = {}
        from .info import handshake

        client.send({"type": "hello", **handshake(None, None)})
        sessions = await self.run(self.service.sessions)
        client.send(self._list_message(sessions, attention(sessions, self.service.far_behind)))

    def disconnect(self, client: Client) -> None:
        """A sidebar went away."""
        self.clients.pop(client, None)

    async def subscribe(self, client: Client, session_id: str, after: int) -> None:
        """Send ``client`` the session's events after ``after``, then every new one as it comes."""
        subs = self.clients.get(client)
        if subs is None:
            return
        sub = subs[session_id] = Subscription(cursor=after)
        try:
            while True:  # page through a long backlog
                page = await self.run(feed.session_events, self.service.cm, session_id, sub.cursor)
                if page:
                    sub.cursor = page[-1].seq
                    client.send(self._events_message(session_id, [event_json(e, session_id) for e in page]))
                if len(page) < feed.PAGE:
                    break
        except ChatMLError as exc:
            subs.pop(session_id, None)
            client.send({"type": "error", "session": session_id, "error": str(exc)})
            return
        held, sub.held = sub.held or [], None
        fresh = [e for e in held if e["seq"] > sub.cursor]
        if fresh:
            sub.cursor = fresh[-1]["seq"]
            client.send(self._events_message(session_id, fresh))

    def unsubscribe(self, client: Client, session_id: str) -> None:
        """Stop sending a session's events to ``client``."""
        self.clients.get(client, {}).pop(session_id, None)

    # -- the poll -------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        await self.run(self._start_at_end)
        self._ready.set()
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the channel must outlive one bad read
                self.log.exception("chatml: push channel tick failed")
            await asyncio.sleep(self.poll_interval)

    def _start_at_end(self) -> None:
        """Skip the history: the channel carries what happens from now on."""
        self.conversations = feed.conversation_map(
            self.service.cm, [s.id for s in self.service.cm.sessions(True)]
        )
        while True:
            page = feed.events(self.service.cm, self.conversations, self.last_seq, limit=5000)
            if not page:
                return
            self.last_seq = page[-1].seq

    async def tick(self) -> None:
        """Read new events (one query) and, when due, the session list; fan out."""
        due = self._dirty or (bool(self.clients) and time.monotonic() - self._list_at >= self.list_interval)
        self._dirty = False
        got: Collected = await self.run(self._collect, self.last_seq, dict(self.conversations), due)
        self.conversations = got.conversations
        if got.events:
            self.last_seq = max(self.last_seq, got.events[-1].seq)
            self._fan_out(got.events)
        if got.sessions is not None:
            self._list_at = time.monotonic()
            self._update_list(got.sessions)

    def _collect(self, after: int, conversations: dict[str, str], want_list: bool) -> Collected:
        """Worker thread: new events of every known conversation, then the list when needed."""
        cm = self.service.cm
        found = feed.events(cm, conversations, after) if conversations else []
        if any(e.type in LIST_CHANGING for e in found):
            want_list = True
        if not want_list:
            return Collected(found, conversations, None)
        sessions = self.service.sessions()
        current = feed.conversation_map(cm, [s["id"] for s in sessions])
        new = set(current) - set(conversations)
        if new:
            # Conversations created since the last map: their events so far were not read.
            seen = {e.seq for e in found}
            late = [e for e in feed.events(cm, new, 0) if e.seq not in seen]
            found = sorted([*found, *late], key=lambda e: e.seq)
        return Collected(found, current, sessions)

    def _fan_out(self, events: list[Event]) -> None:
        by_session: dict[str, list[dict[str, Any]]] = {}
        pairs = []
        now = time.time()
        for event in events:
            session_id = self.conversations.get(event.conversation_id)
            if session_id is None:
                continue
            by_session.setdefault(session_id, []).append(event_json(event, session_id))
            session = self.sessions.get(session_id)
            if session is not None and now - event.created_at <= NOTICE_MAX_AGE:
                pairs.append((session, event))
        for client, subs in list(self.clients.items()):
            for session_id, batch in by_session.items():
                sub = subs.get(session_id)
                if sub is None:
                    continue
                if sub.held is not None:  # still catching up: keep for after the backlog
                    sub.held.extend(batch)
                    continue
                fresh = [e for e in batch if e["seq"] > sub.cursor]
                if fresh:
                    sub.cursor = fresh[-1]["seq"]
                    client.send(self._events_message(session_id, fresh))
        self._broadcast_notices(event_notices(pairs))

    def _update_list(self, sessions: list[dict[str, Any]]) -> None:
        new = {s["id"]: s for s in sessions}
        queue = attention(sessions, self.service.far_behind)
        changed = json.dumps([sessions, queue], sort_keys=True) != json.dumps(
            [list(self.sessions.values()), self.attention], sort_keys=True
        )
        notices = list_notices(self.sessions, new) if self.sessions else []
        self.sessions, self.attention = new, queue
        if changed:
            message = self._list_message(sessions, queue)
            for client in list(self.clients):
                client.send(message)
        self._broadcast_notices(notices)

    def _broadcast_notices(self, notices: list[dict[str, Any]]) -> None:
        for notice in notices:
            for client in list(self.clients):
                client.send({"type": "notice", **notice})

    @staticmethod
    def _list_message(sessions: list[dict[str, Any]], queue: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": "sessions", "sessions": sessions, "attention": queue}

    @staticmethod
    def _events_message(session_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": "events", "session": session_id, "events": events}

    # -- background refresh ---------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        await asyncio.sleep(min(10.0, self.drift_interval))
        while True:
            try:
                await self.run(self.refresh)
                self.poke()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("chatml: background refresh failed")
            await asyncio.sleep(self.drift_interval)

    def refresh(self) -> None:
        """Worker thread: drift of every live session (one throttled fetch per workspace), then PRs.

        A session whose drift cannot be computed (its branch deleted by hand, say) is logged and
        skipped; the others are still refreshed.
        """
        cm = self.service.cm
        try:
            cm.sync_all()
        except ChatMLError as exc:
            self.log.info("chatml: drift refresh: %s; refreshing the other sessions one by one", exc)
            for session in cm.sessions():
                try:
                    session.sync(fetch=False)
                except ChatMLError as one:
                    self.log.info("chatml: drift of %s: %s", session.id, one)
        refresh_prs = getattr(cm, "refresh_prs", None)  # the PR poller of the ship issue, when it lands
        if callable(refresh_prs):
            try:
                refresh_prs()
            except ChatMLError as exc:
                self.log.info("chatml: PR refresh: %s", exc)
