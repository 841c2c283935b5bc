"""Chat blocks as self-contained HTML: the chat widget, the report notebook and the tests share it.

:func:`render_block` draws one block of :func:`~chatml_lab.render.blocks.fold` with inline CSS and
``<details>`` for what is collapsed, so it renders the same in JupyterLab, the classic notebook and
nbconvert HTML, and needs no browser to test.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence

from ..events import Event
from .badges import scripted_badge
from .blocks import SCRIPTED_LABEL, Block, fold
from .markup import BOX_CSS, PRE_CSS, markdown_html
from .review import card
from .tool_calls import edit_diff, tool_summary, write_diff

__all__ = ["MAX_OUTPUT_CHARS", "ToolView", "diff_html", "markdown_html", "render_block", "render_events"]

MAX_OUTPUT_CHARS = 20_000

#: Draws a tool call's details in place of the default view, or returns None to keep it. The UIs
#: pass one that shows a notebook ``Write`` as nbdime's cell-level diff
#: (:func:`chatml_lab.widgets.notebook_view.notebook_write_view`): diffing is not this package's job.
ToolView = Callable[[Block], str | None]

_SCRIPTED = scripted_badge(SCRIPTED_LABEL)


def _pre(text: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n… ({len(text) - MAX_OUTPUT_CHARS} more characters)"
    return f'<pre style="{PRE_CSS}">{html.escape(text)}</pre>'


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
    return f'<pre style="{PRE_CSS}">{"".join(rows)}</pre>'


def _label(text: str, color: str) -> str:
    return f'<div style="font-size:11px;color:{color};font-weight:600;margin-bottom:2px">{text}</div>'


def render_block(block: Block, tool_view: ToolView | None = None) -> str:
    """One block as HTML; ``tool_view`` may draw a tool call's details instead of the default."""
    if block.kind == "tool":
        shown = card(block.tool, block.input, block.ok, block.output)  # findings, scorecards: inline
        if shown is not None:
            return shown
        return _render_tool(block, tool_view)
    if block.kind == "approval":
        return _render_approval(block, tool_view)
    renderer = _RENDERERS.get(block.kind)
    return renderer(block) if renderer else ""


def _render_user(block: Block) -> str:
    return (
        f'<div style="{BOX_CSS}background:#e3f2fd;margin-left:15%">{_label("You", "#1565c0")}'
        f'<div style="white-space:pre-wrap">{html.escape(block.text)}</div></div>'
    )


def _render_assistant(block: Block) -> str:
    who = "Agent" + (_SCRIPTED if block.scripted else "")
    cursor = '<span style="color:#9e9e9e">\N{BLACK SQUARE}</span>' if block.streaming else ""
    return (
        f'<div style="{BOX_CSS}background:#fafafa;border:1px solid #eeeeee;margin-right:15%">'
        f"{_label(who, '#424242')}{markdown_html(block.text)}{cursor}</div>"
    )


def _render_thinking(block: Block) -> str:
    return (
        f'<details style="{BOX_CSS}color:#757575"><summary style="cursor:pointer">Thinking…</summary>'
        f'<div style="white-space:pre-wrap;font-style:italic">{html.escape(block.text)}</div></details>'
    )


def _tool_details(block: Block, tool_view: ToolView | None) -> str:
    special = tool_view(block) if tool_view is not None else None
    if special is not None:
        body = special
    elif block.tool in ("Edit", "MultiEdit"):
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


def _render_tool(block: Block, tool_view: ToolView | None = None) -> str:
    if block.ok is None:
        icon, color = "\N{HORIZONTAL ELLIPSIS}", "#757575"
    elif block.ok:
        icon, color = "\N{CHECK MARK}", "#2e7d32"
    else:
        icon, color = "\N{BALLOT X}", "#c62828"
    summary = html.escape(tool_summary(block.tool, block.input))
    return (
        f'<details style="{BOX_CSS}padding:2px 10px;border-left:3px solid {color}">'
        f'<summary style="cursor:pointer;font-family:monospace;font-size:12px">'
        f'<span style="color:{color}">{icon}</span> {summary}</summary>{_tool_details(block, tool_view)}</details>'
    )


def _render_approval(block: Block, tool_view: ToolView | None = None) -> str:
    summary = html.escape(tool_summary(block.tool, block.input))
    body = _tool_details(block, tool_view)
    if block.approved is not None:
        # Answered: one line (the tool call shows its details already); the request on click.
        icon, state, color = (
            ("\N{CHECK MARK}", "approved", "#2e7d32")
            if block.approved
            else ("\N{BALLOT X}", "denied", "#c62828")
        )
        return (
            f'<details class="chatml-approval-answered" style="{BOX_CSS}padding:1px 10px;border-left:3px solid {color}">'
            f'<summary title="{summary}" style="cursor:pointer;font-size:12px;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis"><b style="color:{color}">{icon} Permission: {state}</b> '
            f'<span style="font-family:monospace">{summary}</span></summary>{body}</details>'
        )
    state, color = "waiting for your approval", "#ef6c00"
    return (
        f'<div class="chatml-approval-pending" style="{BOX_CSS}border:1px solid {color};background:#fffdf7">'
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
        f'<div style="{BOX_CSS}padding:0 10px;color:#9e9e9e;font-size:11px;text-align:right">'
        f"turn done · {seconds:.1f} s · {tokens} · {cost_text}</div>"
    )


def _render_error(block: Block) -> str:
    return (
        f'<div style="{BOX_CSS}background:#ffebee;color:#b71c1c;border:1px solid #ef9a9a">'
        f"<b>Error:</b> {html.escape(block.text)}</div>"
    )


def _render_notice(block: Block) -> str:
    return f'<div style="{BOX_CSS}padding:0 10px;color:#616161;font-size:12px">\N{INFORMATION SOURCE} {html.escape(block.text)}</div>'


def _render_setup(block: Block) -> str:
    code = block.data.get("exit_code")
    color = "#2e7d32" if code == 0 else "#c62828"
    return (
        f'<details style="{BOX_CSS}padding:2px 10px;border-left:3px solid {color}">'
        f'<summary style="cursor:pointer;font-size:12px">setup script '
        f"<code>{html.escape(str(block.data.get('script', '')))}</code> exited {html.escape(str(code))}"
        f"</summary>{_pre(block.text)}</details>"
    )


def _render_summary(block: Block) -> str:
    source = html.escape(str(block.data.get("source", "")))
    return (
        f'<div style="{BOX_CSS}background:#f3e5f5;border:1px solid #ce93d8">'
        f"{_label(f'Archive summary ({source})', '#6a1b9a')}{markdown_html(block.text)}</div>"
    )


_RENDERERS = {
    "user": _render_user,
    "assistant": _render_assistant,
    "thinking": _render_thinking,
    "result": _render_result,
    "error": _render_error,
    "notice": _render_notice,
    "setup": _render_setup,
    "summary": _render_summary,
}


def render_events(events: Sequence[Event], tool_view: ToolView | None = None) -> str:
    """The whole transcript as one HTML fragment (report notebooks, static views)."""
    blocks = "".join(render_block(block, tool_view) for block in fold(events))
    return f'<div style="max-width:900px">{blocks or _EMPTY}</div>'


_EMPTY = '<div style="color:#9e9e9e;font-family:sans-serif;font-size:13px">No messages yet.</div>'
