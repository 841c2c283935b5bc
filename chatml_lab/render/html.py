"""Chat blocks as self-contained HTML: the chat widget, the report notebook and the tests share it.

:func:`render_block` draws one block of :func:`~chatml_lab.render.blocks.fold` with inline CSS and
``<details>`` for what is collapsed, so it renders the same in JupyterLab, the classic notebook and
nbconvert HTML, and needs no browser to test.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ..events import Event
from .badges import scripted_badge
from .blocks import SCRIPTED_LABEL, Block, fold
from .tool_calls import edit_diff, tool_summary, write_diff

MAX_OUTPUT_CHARS = 20_000

_BOX = (
    "margin:4px 0;padding:6px 10px;border-radius:6px;font-family:sans-serif;font-size:13px;line-height:1.45;"
)
_PRE = (
    "font-family:SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;margin:4px 0 0 0;padding:6px 8px;background:#f6f8fa;border-radius:4px;font-size:12px;"
    "overflow-x:auto;white-space:pre;max-height:360px;overflow-y:auto;color:#24292e"
)
_SCRIPTED = scripted_badge(SCRIPTED_LABEL)


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
        body = diff_html(write_diff(block.input))
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
    summary = html.escape(tool_summary(block.tool, block.input))
    body = _tool_details(block)
    if block.approved is not None:
        # Answered: one line (the tool call shows its details already); the request on click.
        icon, state, color = (
            ("\N{CHECK MARK}", "approved", "#2e7d32")
            if block.approved
            else ("\N{BALLOT X}", "denied", "#c62828")
        )
        return (
            f'<details class="chatml-approval-answered" style="{_BOX}padding:1px 10px;border-left:3px solid {color}">'
            f'<summary title="{summary}" style="cursor:pointer;font-size:12px;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis"><b style="color:{color}">{icon} Permission: {state}</b> '
            f'<span style="font-family:monospace">{summary}</span></summary>{body}</details>'
        )
    state, color = "waiting for your approval", "#ef6c00"
    return (
        f'<div class="chatml-approval-pending" style="{_BOX}border:1px solid {color};background:#fffdf7">'
        f'<div><b style="color:{color}">Permission: {state}</b> '
        f'<span style="font-family:monospace;font-size:12px;overflow-wrap:anywhere">{summary}</span></div>{body}</div>'
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
