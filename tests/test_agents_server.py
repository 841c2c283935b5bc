"""The scripted server speaks the Messages API well enough for the real ``anthropic`` SDK."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import MessageParam

from chatml_lab.agents.scripted_server import ScriptedServer, default_script_path, load_script
from chatml_lab.errors import ConfigError

TOOL_INPUT = {"file_path": "hello.txt", "content": "hi\n" * 40}
SCRIPT: dict[str, Any] = {
    "turns": [
        [
            {"type": "thinking", "thinking": "Plan: write the file."},
            {"type": "text", "text": "I will write hello.txt for you now."},
            {"type": "tool_use", "name": "Write", "input": TOOL_INPUT},
        ],
        {"content": [{"type": "text", "text": "Done."}], "usage": {"input_tokens": 11, "output_tokens": 2}},
        {"error": {"status": 400, "type": "invalid_request_error", "message": "scripted failure"}},
    ]
}
HI: list[MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(SCRIPT) as running:
        yield running


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="test-key", base_url=server.url, max_retries=0) as sdk:
        yield sdk


def after(turns: int) -> list[MessageParam]:
    """A request transcript with ``turns`` assistant messages already in it."""
    messages: list[MessageParam] = [{"role": "user", "content": "hi"}]
    for n in range(turns):
        messages += [{"role": "assistant", "content": f"answer {n}"}, {"role": "user", "content": "more"}]
    return messages


def test_json_response_satisfies_sdk(client: anthropic.Anthropic, server: ScriptedServer) -> None:
    message = client.messages.create(model="any", max_tokens=100, messages=HI)
    assert message.model == "scripted"
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.stop_reason == "tool_use"
    tool = message.content[2]
    assert tool.type == "tool_use" and tool.input == TOOL_INPUT and tool.name == "Write"
    assert message.usage.input_tokens > 0 and message.usage.cache_read_input_tokens == 0
    assert server.requests[0]["messages"] == HI


def test_stream_splits_text_and_tool_input(client: anthropic.Anthropic) -> None:
    kinds: list[str] = []
    text_deltas: list[str] = []
    json_deltas: list[str] = []
    with client.messages.stream(model="any", max_tokens=100, messages=HI) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "text":
                text_deltas.append(event.text)
            elif event.type == "input_json":
                json_deltas.append(event.partial_json)
        final = stream.get_final_message()
    assert len(text_deltas) > 2 and "".join(text_deltas) == "I will write hello.txt for you now."
    assert len(json_deltas) > 1 and json.loads("".join(json_deltas)) == TOOL_INPUT
    assert final.content[2].type == "tool_use" and final.content[2].input == TOOL_INPUT
    assert final.content[0].type == "thinking" and final.content[0].signature
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "message_delta" in kinds
    assert final.stop_reason == "tool_use" and final.usage.output_tokens > 0


def test_turn_follows_assistant_count_and_usage(client: anthropic.Anthropic) -> None:
    second = client.messages.create(model="any", max_tokens=10, messages=after(1))
    assert second.content[0].type == "text" and second.content[0].text == "Done."
    assert second.stop_reason == "end_turn"
    assert (second.usage.input_tokens, second.usage.output_tokens) == (11, 2)
    again = client.messages.create(model="any", max_tokens=10, messages=after(1))
    assert again.content[0].type == "text" and again.content[0].text == "Done."  # retries are stable


def test_scripted_error_and_end_of_script(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="scripted failure"):
        client.messages.create(model="any", max_tokens=10, messages=after(2))
    past = client.messages.create(model="any", max_tokens=10, messages=after(5))
    assert past.content[0].type == "text" and "conversation has ended" in past.content[0].text


def test_async_streaming_client(server: ScriptedServer) -> None:
    async def run() -> str:
        async with (
            anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=0) as sdk,
            sdk.messages.stream(model="any", max_tokens=10, messages=HI) as stream,
        ):
            return (await stream.get_final_message()).content[1].type

    assert asyncio.run(run()) == "text"


def test_auth_query_string_and_paths(server: ScriptedServer) -> None:
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": HI}).encode()

    def post(path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(server.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    status, reply = post("/v1/messages?beta=true", {"x-api-key": "k", "content-type": "application/json"})
    assert status == 200 and reply["model"] == "scripted"
    status, reply = post("/v1/messages", {"authorization": "Bearer k"})
    assert status == 200
    status, reply = post("/v1/messages", {})
    assert status == 401 and reply["error"]["type"] == "authentication_error"
    status, reply = post("/v1/other", {"x-api-key": "k"})
    assert status == 404


def test_requests_survive_stop() -> None:
    server = ScriptedServer(SCRIPT)
    server.start()
    with anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0) as sdk:
        sdk.messages.create(model="any", max_tokens=10, messages=HI)
    server.stop()
    server.stop()  # idempotent
    assert len(server.requests) == 1
    with pytest.raises(RuntimeError, match="start"):
        _ = server.url


def test_bad_scripts_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="turns"):
        load_script({"nope": []})
    with pytest.raises(ConfigError, match="turn 0"):
        load_script({"turns": [[{"type": "video"}]]})
    with pytest.raises(ConfigError, match="cannot read"):
        load_script(tmp_path / "missing.json")


def test_demo_script_writes_commits_and_reports() -> None:
    turns = load_script(default_script_path())["turns"]
    tools = [item for turn in turns for item in turn if item["type"] == "tool_use"]
    assert [t["name"] for t in tools] == ["Write", "Bash"]
    assert "def test_" in tools[0]["input"]["content"] and "git commit" in tools[1]["input"]["command"]
    assert turns[-1][0]["type"] == "text"


def test_module_main_serves_until_killed() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "chatml_lab.agents.scripted_server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with anthropic.Anthropic(api_key="k", base_url=url, max_retries=0) as sdk:
            reply = sdk.messages.create(model="any", max_tokens=10, messages=HI)
        assert reply.model == "scripted"
    finally:
        process.terminate()
        process.wait(timeout=5)
        assert process.stdout is not None
        process.stdout.close()
