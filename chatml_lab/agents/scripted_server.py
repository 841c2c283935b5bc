"""A small Anthropic-compatible Messages API server that replays a scripted conversation.

It speaks the real wire protocol (``POST /v1/messages`` as JSON or as server-sent events), so the
official ``anthropic`` SDK, Claude Code and our agent loop run against it unchanged: tests, notebooks,
Binder and the demo work without a key. Every response says ``"model": "scripted"`` so its output is
never passed off as a model's.

Script format (JSON)::

    {
      "delay": 0.0,                       # optional: seconds between streamed chunks
      "turns": [
        [{"type": "text", "text": "..."},
         {"type": "tool_use", "name": "Write", "input": {"file_path": "a.txt", "content": "hi"}}],
        {"content": [{"type": "text", "text": "Done."}],                # a turn may carry usage
         "usage": {"input_tokens": 10, "output_tokens": 3},            # and a stop_reason
         "stop_reason": "end_turn"},
        {"error": {"status": 529, "type": "overloaded_error", "message": "busy"}}  # or fail
      ]
    }

Items are ``text``, ``tool_use`` and ``thinking`` (``{"type": "thinking", "thinking": "..."}``).
The turn answered is the number of assistant messages in the request, which stays right under
client retries and when a new process resumes a saved transcript. Past the last turn the server
answers with a text saying the script has ended.

Run it alone with ``python -m chatml_lab.agents.scripted_server SCRIPT [--port N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ConfigError

MODEL = "scripted"
_TEXT_CHUNK = 12  # characters per text_delta: small, so streaming is visible
_JSON_PIECES = 3  # input_json_delta pieces per tool input
_ITEM_TYPES = ("text", "tool_use", "thinking")


def default_script_path() -> Path:
    """The demo script shipped in the package (writes a file with a test, commits, reports)."""
    return Path(str(files("chatml_lab.agents") / "scripts" / "demo.json"))


def load_script(script: Path | str | dict[str, Any]) -> dict[str, Any]:
    """Read and check a script; raise :class:`ConfigError` naming the problem."""
    if isinstance(script, dict):
        data: Any = script
    else:
        try:
            data = json.loads(Path(script).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read script {script}: {exc}") from None
    turns = data.get("turns") if isinstance(data, dict) else None
    if not isinstance(turns, list):
        raise ConfigError('a script is a JSON object with a "turns" list')
    for number, turn in enumerate(turns):
        if isinstance(turn, dict) and "error" in turn:
            continue
        items = turn.get("content") if isinstance(turn, dict) else turn
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and i.get("type") in _ITEM_TYPES for i in items
        ):
            raise ConfigError(f"script turn {number} must be a list of text, tool_use or thinking items")
    checked: dict[str, Any] = data
    return checked


def _usage(input_tokens: int, output_tokens: int, extra: dict[str, Any] | None = None) -> dict[str, int]:
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    usage.update({k: int(v) for k, v in (extra or {}).items() if k in usage})
    return usage


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _pieces(text: str, count: int) -> list[str]:
    step = max(1, -(-len(text) // count))
    return [text[i : i + step] for i in range(0, len(text), step)] or [""]


class _Reply:
    """One scripted answer, rendered as a JSON message or as SSE events."""

    def __init__(
        self, items: list[dict[str, Any]], usage: dict[str, int], turn: int, stop_reason: str | None = None
    ) -> None:
        self.id = f"msg_scripted_{uuid.uuid4().hex[:16]}"
        self.blocks: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            kind = item["type"]
            if kind == "text":
                self.blocks.append({"type": "text", "text": str(item.get("text", ""))})
            elif kind == "thinking":
                self.blocks.append(
                    {"type": "thinking", "thinking": str(item.get("thinking", "")), "signature": "scripted"}
                )
            else:
                self.blocks.append(
                    {
                        "type": "tool_use",
                        "id": item.get("id") or f"toolu_scripted_{turn}_{index}_{uuid.uuid4().hex[:8]}",
                        "name": str(item["name"]),
                        "input": dict(item.get("input") or {}),
                    }
                )
        has_tool = any(b["type"] == "tool_use" for b in self.blocks)
        self.stop_reason = stop_reason or ("tool_use" if has_tool else "end_turn")
        self.usage = usage

    def message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": self.blocks,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self.usage,
        }

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        start = {**self.message(), "content": [], "stop_reason": None}
        start["usage"] = {**self.usage, "output_tokens": 1}
        yield "message_start", {"type": "message_start", "message": start}
        yield "ping", {"type": "ping"}
        for index, block in enumerate(self.blocks):
            yield from self._block_events(index, block)
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": self.usage,
            },
        )
        yield "message_stop", {"type": "message_stop"}

    @staticmethod
    def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        def delta(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": payload}

        kind = block["type"]
        if kind == "text":
            empty: dict[str, Any] = {"type": "text", "text": ""}
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
            for piece in _chunks(block["text"], _TEXT_CHUNK):
                yield delta({"type": "text_delta", "text": piece})
        elif kind == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
            for piece in _chunks(block["thinking"], _TEXT_CHUNK):
                yield delta({"type": "thinking_delta", "thinking": piece})
            yield delta({"type": "signature_delta", "signature": block["signature"]})
        else:
            empty = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
            for piece in _pieces(json.dumps(block["input"]), _JSON_PIECES):
                yield delta({"type": "input_json_delta", "partial_json": piece})
        yield "content_block_stop", {"type": "content_block_stop", "index": index}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and notebooks do not want access logs on stderr."""

    def do_GET(self) -> None:
        self._error(404, "not_found_error", f"{self.path} is not served here: POST /v1/messages")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            self._error(404, "not_found_error", f"{path} is not served here: POST /v1/messages")
            return
        if not (self.headers.get("x-api-key") or self.headers.get("authorization", "").startswith("Bearer ")):
            self._error(401, "authentication_error", "send a key as x-api-key or Authorization: Bearer")
            return
        try:
            body = json.loads(self._read_body() or b"{}")
            messages = body["messages"]
            if not isinstance(messages, list):
                raise TypeError("messages must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            self._error(400, "invalid_request_error", f"bad request body: {exc}")
            return
        estimate = max(1, len(json.dumps(messages)) // 4)
        if path.endswith("count_tokens"):
            self._json(200, {"input_tokens": estimate})
            return
        self.server.record(body)
        turn_number = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
        turn = self.server.turn(turn_number)
        if "error" in turn:
            err = turn["error"]
            self._error(
                int(err.get("status", 500)), str(err.get("type", "api_error")), str(err.get("message", ""))
            )
            return
        items = turn["content"]
        output = max(1, len(json.dumps(items)) // 4)
        reply = _Reply(
            items, _usage(estimate, output, turn.get("usage")), turn_number, turn.get("stop_reason")
        )
        if body.get("stream"):
            self._stream(reply)
        else:
            self._json(200, reply.message())

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_scripted_{uuid.uuid4().hex[:12]}")
        # One request per connection: no idle keep-alive sockets linger after a test stops us.
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str) -> None:
        self._json(status, {"type": "error", "error": {"type": kind, "message": message}})

    def _stream(self, reply: _Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", f"req_scripted_{uuid.uuid4().hex[:12]}")
        self.send_header("connection", "close")
        self.end_headers()
        try:
            for number, (name, payload) in enumerate(reply.events()):
                if number and self.server.pause():
                    return
                self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up mid-stream (an interrupt): nothing left to send


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], script: dict[str, Any], requests: list[dict[str, Any]]
    ) -> None:
        super().__init__(address, _Handler)
        self.script = script
        self.requests = requests
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    def turn(self, number: int) -> dict[str, Any]:
        turns = self.script["turns"]
        if number >= len(turns):
            text = f"The scripted conversation has ended (the script has {len(turns)} turns)."
            return {"content": [{"type": "text", "text": text}]}
        turn = turns[number]
        return turn if isinstance(turn, dict) else {"content": turn}

    def pause(self) -> bool:
        """Wait the script's delay between chunks; True when the server is stopping."""
        delay = float(self.script.get("delay") or 0)
        return self.stopping.wait(delay) if delay > 0 else self.stopping.is_set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """Serve a script on ``127.0.0.1`` from a background thread.

    ``with ScriptedServer(path) as server: client = Anthropic(base_url=server.url, api_key="x")``
    """

    def __init__(self, script: Path | str | dict[str, Any], port: int = 0) -> None:
        self.script = load_script(script)
        self.port = port
        self._requests: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``); the server must be started."""
        if self._server is None:
            raise RuntimeError("the scripted server is not running: call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received on ``/v1/messages``, oldest first (kept after :meth:`stop`)."""
        return list(self._requests)

    def start(self) -> str:
        """Bind and serve in a daemon thread; return the base URL."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", self.port), self.script, self._requests)
            # A short poll interval makes stop() quick (shutdown waits for the next poll).
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="scripted-anthropic", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, end any delayed stream, and release the port."""
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ScriptedServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m chatml_lab.agents.scripted_server [SCRIPT] [--port N]``: serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("script", nargs="?", type=Path, default=default_script_path())
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = ScriptedServer(args.script, port=args.port)
    print(server.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
