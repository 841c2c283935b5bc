"""Events → chat blocks → HTML: the chat panel's rendering as pure functions.

:func:`fold` turns the event log (:mod:`chatml_lab.events`) into display blocks: consecutive
``assistant_delta`` events join into one streaming text block that the ``assistant_text`` ending
it replaces; ``tool_end`` completes the ``tool_start`` with the same id; an ``approval_response``
answers its request. :func:`render_block` draws one block as self-contained HTML (inline CSS,
``<details>`` for what is collapsed), so the chat widget, the report notebook and the tests share
one renderer and need no browser.
"""

from __future__ import annotations

import difflib
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..events import Event, EventType

MAX_OUTPUT_CHARS = 20_000
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
    return None


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


# -- tool summaries and diffs -------------------------------------------------------------------------


def tool_summary(tool: str, tool_input: dict[str, Any]) -> str:
    """One line saying what a tool call does (``Edit app.py (+2 -1)``, ``Bash: pytest -q``)."""
    from . import review_render

    special = review_render.summary(tool, tool_input)
    if special is not None:
        return special
    path = str(tool_input.get("file_path") or tool_input.get("path") or "")
    if tool in ("Edit", "MultiEdit"):
        added, removed = _diff_counts(edit_diff(tool_input))
        return f"{tool} {path} (+{added} \N{MINUS SIGN}{removed})"
    if tool == "Write":
        lines = len(str(tool_input.get("content", "")).splitlines())
        return f"Write {path} ({lines} line{'s' if lines != 1 else ''})"
    if tool == "Read":
        return f"Read {path}"
    if tool == "Bash":
        return f"Bash: {_one_line(str(tool_input.get('command', '')))}"
    if tool in ("Grep", "Glob"):
        where = f" in {tool_input['path']}" if tool_input.get("path") else ""
        return f"{tool} {tool_input.get('pattern', '')}{where}"
    return f"{tool} {_one_line(json.dumps(tool_input, default=str))}"


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def edit_diff(tool_input: dict[str, Any]) -> str:
    """A unified diff of an ``Edit`` (old_string → new_string) or ``MultiEdit``; ``""`` for other input."""
    path = str(tool_input.get("file_path", "file"))
    edits = tool_input.get("edits")
    pairs: list[tuple[str, str]] = []
    if isinstance(edits, list):
        pairs = [
            (str(e.get("old_string", "")), str(e.get("new_string", ""))) for e in edits if isinstance(e, dict)
        ]
    elif "old_string" in tool_input or "new_string" in tool_input:
        pairs = [(str(tool_input.get("old_string", "")), str(tool_input.get("new_string", "")))]
    chunks: list[str] = []
    for old, new in pairs:
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
            lineterm="\n",
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in diff))
    return "".join(chunks)


def write_diff(tool_input: dict[str, Any]) -> str:
    """A ``Write`` shown as a diff that adds every line of the new content."""
    path = str(tool_input.get("file_path", "file"))
    content = str(tool_input.get("content", "")).splitlines(keepends=True)
    diff = difflib.unified_diff([], content, "/dev/null", f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


def _diff_counts(diff: str) -> tuple[int, int]:
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return added, removed


# -- HTML -------------------------------------------------------------------------------------------------

_BOX = (
    "margin:4px 0;padding:6px 10px;border-radius:6px;font-family:sans-serif;font-size:13px;line-height:1.45;"
)
_PRE = (
    "font-family:SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;margin:4px 0 0 0;padding:6px 8px;background:#f6f8fa;border-radius:4px;font-size:12px;"
    "overflow-x:auto;white-space:pre;max-height:360px;overflow-y:auto;color:#24292e"
)
_SCRIPTED = (
    '<span title="replayed from a script, not written by a model" style="display:inline-block;'
    "padding:0 6px;margin-left:6px;border-radius:8px;background:#fff3e0;color:#e65100;"
    f'border:1px solid #ffb74d;font-size:11px">{SCRIPTED_LABEL}</span>'
)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    import mistune

    # escape=True: model output is untrusted, raw HTML in it must show as text.
    return mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])


def markdown_html(text: str) -> str:
    """Markdown → HTML with raw HTML escaped."""
    return str(_markdown()(text))


def _pre(text: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n… ({len(text) - MAX_OUTPUT_CHARS} more characters)"
    return f'<pre style="{_PRE}">{html.escape(text)}</pre>'


def diff_html(diff: str) -> str:
    """A unified diff with added lines green and removed lines red."""
    rows = []
    for line in diff.splitlines():
        color = ""
        if line.startswith("+") and not line.startswith("+++"):
            color = "background:#e6ffec;color:#116329"
        elif line.startswith("-") and not line.startswith("---"):
            color = "background:#ffebe9;color:#82071e"
        elif line.startswith("@@"):
            color = "color:#6f42c1"
        rows.append(f'<span style="display:block;{color}">{html.escape(line) or " "}</span>')
    return f'<pre style="{_PRE}">{"".join(rows)}</pre>'


def _label(text: str, color: str) -> str:
    return f'<div style="font-size:11px;color:{color};font-weight:600;margin-bottom:2px">{text}</div>'


def render_block(block: Block) -> str:
    """One block as HTML."""
    if block.kind == "tool":
        from . import review_render  # findings and scorecards show inline, as cards

        card = review_render.card(block.tool, block.input, block.ok, block.output)
        if card is not None:
            return card
    renderer = _RENDERERS.get(block.kind)
    return renderer(block) if renderer else ""


def _render_user(block: Block) -> str:
    return (
        f'<div style="{_BOX}background:#e3f2fd;margin-left:15%">{_label("You", "#1565c0")}'
        f'<div style="white-space:pre-wrap">{html.escape(block.text)}</div></div>'
    )


def _render_assistant(block: Block) -> str:
    who = "Agent" + (_SCRIPTED if block.scripted else "")
    cursor = '<span style="color:#9e9e9e">\N{BLACK SQUARE}</span>' if block.streaming else ""
    return (
        f'<div style="{_BOX}background:#fafafa;border:1px solid #eeeeee;margin-right:15%">'
        f"{_label(who, '#424242')}{markdown_html(block.text)}{cursor}</div>"
    )


def _render_thinking(block: Block) -> str:
    return (
        f'<details style="{_BOX}color:#757575"><summary style="cursor:pointer">Thinking…</summary>'
        f'<div style="white-space:pre-wrap;font-style:italic">{html.escape(block.text)}</div></details>'
    )


def _tool_details(block: Block) -> str:
    if block.tool in ("Edit", "MultiEdit"):
        body = diff_html(edit_diff(block.input))
    elif block.tool == "Write":
        from . import review_render

        body = review_render.notebook_write_html(block.input) or diff_html(write_diff(block.input))
    elif block.tool == "Bash":
        body = _pre("$ " + str(block.input.get("command", "")))
    else:
        body = _pre(json.dumps(block.input, indent=2, default=str))
    if block.output:
        body += _pre(block.output)
    return body


def _render_tool(block: Block) -> str:
    if block.ok is None:
        icon, color = "\N{HORIZONTAL ELLIPSIS}", "#757575"
    elif block.ok:
        icon, color = "\N{CHECK MARK}", "#2e7d32"
    else:
        icon, color = "\N{BALLOT X}", "#c62828"
    summary = html.escape(tool_summary(block.tool, block.input))
    return (
        f'<details style="{_BOX}padding:2px 10px;border-left:3px solid {color}">'
        f'<summary style="cursor:pointer;font-family:monospace;font-size:12px">'
        f'<span style="color:{color}">{icon}</span> {summary}</summary>{_tool_details(block)}</details>'
    )


def _render_approval(block: Block) -> str:
    if block.approved is None:
        state, color = "waiting for your approval", "#ef6c00"
    elif block.approved:
        state, color = "approved", "#2e7d32"
    else:
        state, color = "denied", "#c62828"
    summary = html.escape(tool_summary(block.tool, block.input))
    body = _tool_details(block)
    return (
        f'<div style="{_BOX}border:1px solid {color};background:#fffdf7">'
        f'<div><b style="color:{color}">Permission: {state}</b> '
        f'<span style="font-family:monospace;font-size:12px">{summary}</span></div>{body}</div>'
    )


def _render_result(block: Block) -> str:
    usage = block.data.get("usage") or {}
    cost = block.data.get("cost_usd")
    cost_text = "cost unknown" if cost is None else f"${float(cost):.4f}"
    seconds = float(block.data.get("duration_ms") or 0) / 1000
    tokens = f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
    return (
        f'<div style="{_BOX}padding:0 10px;color:#9e9e9e;font-size:11px;text-align:right">'
        f"turn done · {seconds:.1f} s · {tokens} · {cost_text}</div>"
    )


def _render_error(block: Block) -> str:
    return (
        f'<div style="{_BOX}background:#ffebee;color:#b71c1c;border:1px solid #ef9a9a">'
        f"<b>Error:</b> {html.escape(block.text)}</div>"
    )


def _render_notice(block: Block) -> str:
    return f'<div style="{_BOX}padding:0 10px;color:#616161;font-size:12px">\N{INFORMATION SOURCE} {html.escape(block.text)}</div>'


def _render_setup(block: Block) -> str:
    code = block.data.get("exit_code")
    color = "#2e7d32" if code == 0 else "#c62828"
    return (
        f'<details style="{_BOX}padding:2px 10px;border-left:3px solid {color}">'
        f'<summary style="cursor:pointer;font-size:12px">setup script '
        f"<code>{html.escape(str(block.data.get('script', '')))}</code> exited {html.escape(str(code))}"
        f"</summary>{_pre(block.text)}</details>"
    )


def _render_summary(block: Block) -> str:
    source = html.escape(str(block.data.get("source", "")))
    return (
        f'<div style="{_BOX}background:#f3e5f5;border:1px solid #ce93d8">'
        f"{_label(f'Archive summary ({source})', '#6a1b9a')}{markdown_html(block.text)}</div>"
    )


_RENDERERS = {
    "user": _render_user,
    "assistant": _render_assistant,
    "thinking": _render_thinking,
    "tool": _render_tool,
    "approval": _render_approval,
    "result": _render_result,
    "error": _render_error,
    "notice": _render_notice,
    "setup": _render_setup,
    "summary": _render_summary,
}


def render_events(events: Sequence[Event]) -> str:
    """The whole transcript as one HTML fragment (report notebooks, static views)."""
    blocks = "".join(render_block(block) for block in fold(events))
    return f'<div style="max-width:900px">{blocks or _EMPTY}</div>'


_EMPTY = '<div style="color:#9e9e9e;font-family:sans-serif;font-size:13px">No messages yet.</div>'


def render_text(events: Sequence[Event]) -> str:
    """The transcript as plain text (terminals, logs, assertions)."""
    lines: list[str] = []
    for block in fold(events):
        if block.kind == "user":
            lines.append(f"you: {block.text}")
        elif block.kind == "assistant":
            lines.append(f"agent{' [scripted]' if block.scripted else ''}: {block.text}")
        elif block.kind == "tool":
            mark = {None: "…", True: "ok", False: "failed"}[block.ok]
            lines.append(f"  [tool {mark}] {tool_summary(block.tool, block.input)}")
        elif block.kind == "approval":
            answer = {None: "pending", True: "approved", False: "denied"}[block.approved]
            lines.append(f"  [approval {answer}] {tool_summary(block.tool, block.input)}")
        elif block.kind == "error":
            lines.append(f"error: {block.text}")
        elif block.kind == "result":
            cost = block.data.get("cost_usd")
            lines.append(f"  (turn done, {'cost unknown' if cost is None else f'${float(cost):.4f}'})")
        elif block.kind in ("notice", "summary", "thinking"):
            lines.append(f"  ({block.kind}) {_one_line(block.text)}")
    return "\n".join(lines)
