"""The push channel: the session list when it changes, a session's events as they are written,
and notices for an approval request and a finished turn."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from chatml_lab import __version__
from chatml_lab.core.manager import ChatML

from ..agent_fixtures import write_script
from .conftest import Api

ASKS = [
    [
        {"type": "text", "text": "Writing it."},
        {"type": "tool_use", "name": "Write", "input": {"file_path": "a.txt", "content": "a\n"}},
    ],
    [{"type": "text", "text": "Done."}],
]


class Socket:
    """A test client of the push channel that keeps every message it receives."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.messages: list[dict[str, Any]] = []

    async def next(self, type_: str, timeout: float = 30.0, **match: Any) -> dict[str, Any]:
        """The first unread message of type ``type_`` whose keys equal ``match``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for message in self.messages:
                if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
                    self.messages.remove(message)
                    return message
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {type_} message {match} in {timeout} s; got {self.messages}")
            raw = await asyncio.wait_for(self.conn.read_message(), left)
            assert raw is not None, "the server closed the push channel"
            self.messages.append(json.loads(raw))

    async def sessions_until(self, predicate: Any) -> dict[str, Any]:
        """Read ``sessions`` messages until one satisfies ``predicate`` (the list is resent on change)."""
        while True:
            listing = await self.next("sessions")
            if predicate(listing):
                return listing

    def send(self, **message: Any) -> None:
        self.conn.write_message(json.dumps(message))


async def open_socket(jp_ws_fetch: Any) -> Socket:
    return Socket(await jp_ws_fetch("chatml", "api", "stream"))


async def test_hello_then_the_list_then_changes(
    jp_ws_fetch: Any, api: Api, server_cm: ChatML, repo: Path
) -> None:
    first = server_cm.new_session(repo, name="first", agent="scripted")
    socket = await open_socket(jp_ws_fetch)
    hello = await socket.next("hello")
    assert hello["version"] == __version__ and hello["schema_version"] == 1
    listing = await socket.next("sessions")
    assert [s["id"] for s in listing["sessions"]] == [first.id] and listing["attention"] == []
    # A change through REST is pushed at once; one made by another process within the list interval.
    await api("PATCH", f"sessions/{first.id}", {"priority": "urgent"})
    await socket.sessions_until(lambda m: m["sessions"][0]["priority"] == "urgent")
    server_cm.new_session(repo, name="second", agent="scripted")
    listing = await socket.sessions_until(lambda m: len(m["sessions"]) == 2)
    assert {s["name"] for s in listing["sessions"]} == {"first", "second"}
    socket.conn.close()


async def test_subscribed_events_and_notices(
    jp_ws_fetch: Any, api: Api, server_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "asks.json", ASKS)
    session = server_cm.new_session(repo, name="watched", agent=f"scripted:{script}")
    server_cm.new_session(repo, name="unwatched", agent="scripted")
    socket = await open_socket(jp_ws_fetch)
    await socket.next("sessions")
    socket.send(type="subscribe", session=session.id, after=0)
    await api("POST", f"sessions/{session.id}/send", {"text": "write a.txt"})
    notice = await socket.next("notice", kind="approval")
    assert notice["session"] == session.id and notice["level"] == "warning"
    assert notice["message"] == "watched waits for your approval: Write a.txt"
    waiting = await socket.sessions_until(lambda m: m["attention"])
    assert [(i["name"], i["kind"]) for i in waiting["attention"]] == [("watched", "approval")]
    await api("POST", f"sessions/{session.id}/approve")
    done = await socket.next("notice", kind="turn_end")
    assert done["message"] == "watched finished its turn" and done["level"] == "info"

    seen: list[dict[str, Any]] = []
    while not any(e["type"] == "result" for e in seen):
        seen.extend((await socket.next("events", session=session.id))["events"])
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, none twice
    _, logged = await api("GET", f"sessions/{session.id}/events")
    assert [e["seq"] for e in logged["events"]][: len(seqs)] == seqs  # nothing skipped
    kinds = [e["type"] for e in seen]
    assert kinds.index("approval_request") < kinds.index("approval_response") < kinds.index("result")
    assert "assistant_delta" in kinds

    # A late subscriber gets the backlog after its cursor, then nothing twice.
    late = await open_socket(jp_ws_fetch)
    await late.next("sessions")
    late.send(type="subscribe", session=session.id, after=seqs[2])
    backlog = (await late.next("events", session=session.id))["events"]
    assert [e["seq"] for e in backlog][: len(seqs) - 3] == seqs[3:]
    socket.conn.close()
    late.conn.close()


async def test_bad_messages_get_an_error_back(jp_ws_fetch: Any) -> None:
    socket = await open_socket(jp_ws_fetch)
    await socket.next("sessions")
    socket.conn.write_message("not json")
    assert "expected" in (await socket.next("error"))["error"]
    socket.send(type="subscribe", session="ghost", after=0)
    error = await socket.next("error", session="ghost")
    assert error["error"] == "session ghost no longer exists"
    socket.send(type="subscribe", session="ghost", after=-3)
    assert (await socket.next("error", session="ghost"))["error"] == "after must be a whole number ≥ 0"
    socket.send(type="shout", session="x")
    assert "unknown message type 'shout'" in (await socket.next("error"))["error"]
    socket.conn.close()
