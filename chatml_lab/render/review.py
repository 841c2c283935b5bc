"""Review findings, scorecards and notebook diffs drawn for the chat, the report and the findings table.

- ``add_review_comment`` shows as a finding card (severity, ``file:line``, title, the markdown
  body, the id it got), not as a collapsed tool call: findings appear inline in the chat.
- ``submit_review_scorecard`` shows each dimension's score as a bar, and the summary.
- :func:`notebook_diff_html` colours nbdime's text diff of a notebook (the text itself comes from
  :mod:`chatml_lab.gitops.nbdiff`, which the UIs hand in: this package draws, it does not diff).

Pure functions of a tool call's input and output, like the rest of :mod:`chatml_lab.render`.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .markup import BOX_CSS, PRE_CSS, markdown_html

#: Finding severity → (text colour, background).
SEVERITY_COLORS: dict[str, tuple[str, str]] = {
    "error": ("#b71c1c", "#ffebee"),
    "warning": ("#e65100", "#fff3e0"),
    "suggestion": ("#1565c0", "#e3f2fd"),
    "info": ("#455a64", "#eceff1"),
}
#: Finding status → (text colour, background).
FINDING_STATUS_COLORS: dict[str, tuple[str, str]] = {
    "open": ("#424242", "#fffde7"),
    "fixed": ("#1b5e20", "#e8f5e9"),
    "ignored": ("#616161", "#f5f5f5"),
}
#: Tool calls drawn as cards instead of collapsed tool calls.
CARD_TOOLS = frozenset({"add_review_comment", "submit_review_scorecard"})
_ADDED = re.compile(r"^Added (F\d+) ")
_BADGE = "display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;font-weight:600"


def _pill(colors: dict[str, tuple[str, str]], value: str) -> str:
    fg, bg = colors.get(value, ("#424242", "#e0e0e0"))
    return f'<span style="{_BADGE};color:{fg};background:{bg};border:1px solid {fg}33">{html.escape(value)}</span>'


def severity_badge(severity: str) -> str:
    """A coloured pill for a finding's severity."""
    return _pill(SEVERITY_COLORS, severity)


def finding_status_badge(status: str) -> str:
    """A coloured pill for a finding's status."""
    return _pill(FINDING_STATUS_COLORS, status)


def _place(tool_input: dict[str, Any]) -> str:
    line = tool_input.get("line_number")
    return str(tool_input.get("file_path", "")) + (f":{line}" if line else "")


def notebook_cell_count(content: str) -> int | None:
    """The number of cells of a notebook's JSON text; None when it is not a notebook."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    cells = data.get("cells") if isinstance(data, dict) else None
    return len(cells) if isinstance(cells, list) else None


def summary(tool: str, tool_input: dict[str, Any]) -> str | None:
    """One line for the review tools, ``RunNotebook`` and a notebook ``Write``; None for other calls."""
    if tool == "add_review_comment":
        return (
            f"Finding [{tool_input.get('severity', '?')}] {_place(tool_input)} {tool_input.get('title', '')}"
        )
    if tool == "resolve_review_comment":
        return f"Resolve {tool_input.get('id', '?')}: {tool_input.get('resolution', '?')}"
    if tool == "get_workspace_diff":
        what = tool_input.get("file_path") or "all files"
        return f"get_workspace_diff {what}{' (stat)' if tool_input.get('stat') else ''}"
    if tool == "submit_review_scorecard":
        scores = tool_input.get("scores") or []
        listed = ", ".join(f"{s.get('dimension')} {s.get('score')}" for s in scores if isinstance(s, dict))
        return f"Scorecard: {listed}"
    if tool in ("list_review_comments", "get_review_comment_stats"):
        return tool
    if tool == "RunNotebook":
        return f"RunNotebook {tool_input.get('path', '')}"
    path = str(tool_input.get("file_path", ""))
    if tool == "Write" and path.endswith(".ipynb"):
        cells = notebook_cell_count(str(tool_input.get("content", "")))
        if cells is not None:
            return f"Write {path} ({cells} cell{'s' if cells != 1 else ''})"
    return None


def finding_card(tool_input: dict[str, Any], ok: bool | None, output: str | None) -> str:
    """An ``add_review_comment`` call as a finding card."""
    severity = str(tool_input.get("severity", "info"))
    fg, _bg = SEVERITY_COLORS.get(severity, ("#424242", "#e0e0e0"))
    match = _ADDED.match(output or "")
    ident = f'<b style="font-family:monospace">{match.group(1)}</b> ' if match else ""
    failed = (
        f'<div style="color:#c62828;font-size:12px">not filed: {html.escape(output or "")}</div>'
        if ok is False
        else ""
    )
    return (
        f'<div class="chatml-finding" style="{BOX_CSS}border:1px solid #e0e0e0;border-left:4px solid {fg};background:#fff">'
        f'<div style="display:flex;gap:8px;align-items:center;flex-wrap:wrap">{ident}{severity_badge(severity)}'
        f'<code style="font-size:12px;color:#546e7a">{html.escape(_place(tool_input))}</code>'
        f"<b>{html.escape(str(tool_input.get('title', '')))}</b></div>"
        f"{markdown_html(str(tool_input.get('content', '')))}{failed}</div>"
    )


def scorecard_card(tool_input: dict[str, Any], ok: bool | None, output: str | None) -> str:
    """A ``submit_review_scorecard`` call as score bars and the summary."""
    rows = []
    for item in tool_input.get("scores") or []:
        if not isinstance(item, dict):
            continue
        try:
            score = float(item.get("score", 0))
        except (TypeError, ValueError):
            score = 0.0
        width = max(0.0, min(score, 10.0)) * 10
        color = "#2e7d32" if score >= 8 else "#f9a825" if score >= 5 else "#c62828"
        notes = html.escape(str(item.get("notes", "")))
        rows.append(
            f'<tr><td style="padding:1px 8px 1px 0;text-align:left">{html.escape(str(item.get("dimension", "")))}</td>'
            f'<td style="width:120px"><div style="background:#eeeeee;border-radius:3px;height:8px">'
            f'<div style="width:{width:.0f}%;background:{color};height:8px;border-radius:3px"></div></div></td>'
            f'<td style="padding:1px 8px;text-align:left"><b>{score:g}</b>/10</td>'
            f'<td style="color:#757575;text-align:left">{notes}</td></tr>'
        )
    failed = (
        f'<div style="color:#c62828;font-size:12px">not saved: {html.escape(output or "")}</div>'
        if ok is False
        else ""
    )
    return (
        f'<div class="chatml-scorecard" style="{BOX_CSS}border:1px solid #c5cae9;background:#f8f9ff">'
        f'<div style="font-size:11px;color:#3949ab;font-weight:600">Review scorecard</div>'
        f'<table style="font-size:12px;border-collapse:collapse">{"".join(rows)}</table>'
        f"{markdown_html(str(tool_input.get('summary', '')))}{failed}</div>"
    )


def card(tool: str, tool_input: dict[str, Any], ok: bool | None, output: str | None) -> str | None:
    """The card HTML of a review tool call shown inline, or None for other tools."""
    if tool == "add_review_comment":
        return finding_card(tool_input, ok, output)
    if tool == "submit_review_scorecard":
        return scorecard_card(tool_input, ok, output)
    return None


def notebook_diff_html(text: str) -> str:
    """Nbdime's text diff with added lines green, removed red and ``##`` headers purple."""
    rows = []
    for line in text.splitlines():
        color = ""
        if line.startswith("+"):
            color = "background:#e6ffec;color:#116329"
        elif line.startswith("-"):
            color = "background:#ffebe9;color:#82071e"
        elif line.startswith(("##", "diff --nbdime", "@@")):
            color = "color:#6f42c1;font-weight:600"
        rows.append(f'<span style="display:block;{color}">{html.escape(line) or " "}</span>')
    return f'<pre class="chatml-nbdiff" style="{PRE_CSS}">{"".join(rows)}</pre>'
