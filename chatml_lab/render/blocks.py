"""The event log folded into display blocks: what the chat, the report and the transcript show.

:func:`fold` turns the event log (:mod:`chatml_lab.events`) into blocks: consecutive
``assistant_delta`` events join into one streaming text block that the ``assistant_text`` ending
it replaces; ``tool_end`` completes the ``tool_start`` with the same id; an ``approval_response``
answers its request. :mod:`chatml_lab.render.html` draws blocks as HTML and
:mod:`chatml_lab.render.text` as plain text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import Event, EventType

#: The label put on output replayed from a script (never passed off as a model's).
SCRIPTED_LABEL = "scripted"


@dataclass
class Block:
    """One thing shown in the chat. ``kind`` selects the renderer; ``key`` is stable across refreshes."""

    kind: str
    key: str
    text: str = ""
    scripted: bool = False
    streaming: bool = False
    tool: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    ok: bool | None = None
    output: str | None = None
    approved: bool | None = None
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0


def fold(events: Iterable[Event]) -> list[Block]:
    """Turn events (ordered by seq) into display blocks."""
    blocks: list[Block] = []
    tools: dict[str, Block] = {}
    approvals: dict[str, Block] = {}
    streaming: Block | None = None  # the assistant block whose final text has not come yet
    after_delta = False  # deltas join only while they are consecutive
    for event in events:
        data, kind = event.data, event.type
        if kind is EventType.STATE:
            continue  # the header shows the state; it does not split a streamed block
        if kind is EventType.ASSISTANT_DELTA:
            if streaming is None or not after_delta:
                if streaming is not None:
                    streaming.streaming = False
                streaming = Block("assistant", f"a{event.seq}", streaming=True, seq=event.seq)
                blocks.append(streaming)
            streaming.text += str(data.get("text", ""))
            streaming.scripted = streaming.scripted or bool(data.get("scripted"))
            after_delta = True
            continue
        after_delta = False
        if kind is EventType.ASSISTANT_TEXT:
            block = streaming or Block("assistant", f"a{event.seq}", seq=event.seq)
            if streaming is None:
                blocks.append(block)
            # The final text is authoritative: deltas may have been cut short or retried.
            block.text = str(data.get("text", ""))
            block.scripted = block.scripted or bool(data.get("scripted"))
            block.streaming = False
            streaming = None
            continue
        if streaming is not None and kind in (EventType.USER_MESSAGE, EventType.RESULT, EventType.ERROR):
            streaming.streaming = False  # the turn ended without a final text (interrupt, crash)
            streaming = None
        made = _block(event, tools, approvals)
        if made is not None:
            blocks.append(made)
    return blocks


def _block(event: Event, tools: dict[str, Block], approvals: dict[str, Block]) -> Block | None:
    data, seq, kind = event.data, event.seq, event.type
    if kind is EventType.USER_MESSAGE:
        return Block("user", f"u{seq}", text=str(data.get("text", "")), seq=seq)
    if kind is EventType.THINKING:
        return Block("thinking", f"k{seq}", text=str(data.get("text", "")), seq=seq)
    if kind is EventType.TOOL_START:
        block = Block(
            "tool", f"t{seq}", tool=str(data.get("tool", "?")), input=_dict(data.get("input")), seq=seq
        )
        tools[str(data.get("id"))] = block
        return block
    if kind is EventType.TOOL_END:
        started = tools.get(str(data.get("id")))
        if started is None:  # an end without a start (log trimmed): show it on its own
            started = Block("tool", f"t{seq}", tool=str(data.get("tool", "?")), seq=seq)
            started.ok, started.output = bool(data.get("ok")), _text(data.get("output"))
            return started
        started.ok, started.output = bool(data.get("ok")), _text(data.get("output"))
        return None
    if kind is EventType.APPROVAL_REQUEST:
        block = Block(
            "approval", f"p{seq}", tool=str(data.get("tool", "?")), input=_dict(data.get("input")),
            data={"id": str(data.get("id"))}, seq=seq,
        )  # fmt: skip
        approvals[str(data.get("id"))] = block
        return block
    if kind is EventType.APPROVAL_RESPONSE:
        request = approvals.get(str(data.get("id")))
        if request is not None:
            request.approved = bool(data.get("approved"))
        return None
    if kind is EventType.RESULT:
        return Block("result", f"r{seq}", data=dict(data), seq=seq)
    if kind is EventType.ERROR:
        return Block("error", f"e{seq}", text=str(data.get("message", "")), seq=seq)
    if kind is EventType.SETUP_OUTPUT:
        return Block("setup", f"s{seq}", text=_text(data.get("output")), data=dict(data), seq=seq)
    if kind is EventType.NAME_SUGGESTION:
        return Block("notice", f"n{seq}", text=f"Suggested name: {data.get('name')}", seq=seq)
    if kind is EventType.ARCHIVE_SUMMARY:
        return Block("summary", f"m{seq}", text=str(data.get("summary", "")), data=dict(data), seq=seq)
    if kind is EventType.NOTICE:
        return Block("notice", f"n{seq}", text=str(data.get("message", "")), seq=seq)
    if kind is EventType.PR_UPDATE:
        return Block("notice", f"n{seq}", text=pr_update_text(data), seq=seq)
    return None


def pr_update_text(data: dict[str, Any]) -> str:
    """``PR #3: checks: pending → success`` (or the event's own message) for a ``pr_update`` event."""
    moved = f", task status → {data['task_status']}" if data.get("task_status") else ""
    if data.get("message"):
        return f"{data['message']} (PR #{data.get('pr_number')} {data.get('pr_status')}{moved})"
    changes = "; ".join(str(c) for c in data.get("changes") or []) or f"{data.get('pr_status')}"
    return f"PR #{data.get('pr_number')}: {changes}{moved}"


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {"value": value}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, default=str)


def pending_approvals(events: Iterable[Event]) -> list[Event]:
    """Approval requests without a response, oldest first (what the approve/deny buttons act on)."""
    requests: dict[str, Event] = {}
    for event in events:
        if event.type is EventType.APPROVAL_REQUEST:
            requests[str(event.data.get("id"))] = event
        elif event.type is EventType.APPROVAL_RESPONSE:
            requests.pop(str(event.data.get("id")), None)
    return list(requests.values())


def is_scripted(events: Iterable[Event]) -> bool:
    """True when any assistant output in the log was replayed from a script."""
    return any(
        e.type in (EventType.ASSISTANT_DELTA, EventType.ASSISTANT_TEXT) and bool(e.data.get("scripted"))
        for e in events
    )


def totals(events: Iterable[Event]) -> dict[str, Any]:
    """Cost, tokens and turns summed over ``result`` events (cost None once any turn's price is unknown)."""
    cost: float | None = 0.0
    tokens_in = tokens_out = turns = 0
    for event in events:
        if event.type is not EventType.RESULT:
            continue
        turns += 1
        usage = event.data.get("usage") or {}
        tokens_in += int(usage.get("input_tokens", 0) or 0)
        tokens_out += int(usage.get("output_tokens", 0) or 0)
        value = event.data.get("cost_usd")
        cost = None if cost is None or value is None else cost + float(value)
    return {"cost_usd": cost, "input_tokens": tokens_in, "output_tokens": tokens_out, "turns": turns}
