"""The conversation as plain text: a line per event for logs read as they grow, or the folded transcript.

:func:`event_line` is what ``chatml log`` and ``chatml send --wait`` print, one event at a time
(tool start and end on lines of their own, so a followed log shows a tool while it runs).
:func:`render_text` folds the log first (:func:`~chatml_lab.render.blocks.fold`): one line per
tool call with its outcome, for the chat panel's ``text``, notebooks and assertions.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..events import Event, EventType
from .badges import cost_text
from .blocks import SCRIPTED_LABEL, fold
from .tool_calls import one_line, tool_summary

_SCRIPTED = f"[{SCRIPTED_LABEL}]"


def event_line(event: Event) -> str | None:
    """One line of text for an event; None for streamed deltas (their final text is printed)."""
    data = event.data
    label = f"{_SCRIPTED} " if data.get("scripted") else ""
    match event.type:
        case EventType.USER_MESSAGE:
            return f"you: {data['text']}"
        case EventType.ASSISTANT_TEXT:
            return f"agent: {label}{data['text']}"
        case EventType.ASSISTANT_DELTA:
            return None
        case EventType.THINKING:
            return f"thinking: {one_line(data['text'])}"
        case EventType.TOOL_START:
            return f"→ {data['tool']} {one_line(data['input'])}"
        case EventType.TOOL_END:
            return f"{'✓' if data['ok'] else '✗'} {one_line(data['output'])}"
        case EventType.APPROVAL_REQUEST:
            return f"? approval {data['id']}: {data['tool']} {one_line(data['input'])} (chatml approve|deny)"
        case EventType.APPROVAL_RESPONSE:
            return f"{'approved' if data['approved'] else 'denied'} {data['id']}"
        case EventType.RESULT:
            usage = data["usage"]
            return (
                f"turn done: {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens,"
                f" {cost_text(data['cost_usd'])}, {data['duration_ms']} ms"
            )
        case EventType.ERROR:
            return f"error: {data['message']}"
        case EventType.STATE:
            return f"[{data['agent_state']}]"
        case EventType.SETUP_OUTPUT:
            return f"setup {data['script']} exited {data['exit_code']}: {one_line(data['output'])}"
        case EventType.NAME_SUGGESTION:
            return f"named {data['name']} ({data.get('source', '')})"
        case EventType.ARCHIVE_SUMMARY:
            return f"archive summary ({data['source']}):\n{data['summary']}"
        case EventType.NOTICE:
            return f"note: {data['message']}"
        case EventType.PR_UPDATE:
            moved = f", task status → {data['task_status']}" if data.get("task_status") else ""
            return f"PR #{data['pr_number']} {data['pr_status']}, checks {data['checks']}{moved}"
    return None


def render_text(events: Sequence[Event]) -> str:
    """The folded transcript as plain text (the chat panel's ``text``, notebooks, assertions)."""
    lines: list[str] = []
    for block in fold(events):
        if block.kind == "user":
            lines.append(f"you: {block.text}")
        elif block.kind == "assistant":
            lines.append(f"agent{' ' + _SCRIPTED if block.scripted else ''}: {block.text}")
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
            lines.append(f"  (turn done, {'cost unknown' if cost is None else cost_text(float(cost))})")
        elif block.kind in ("notice", "summary", "thinking"):
            lines.append(f"  ({block.kind}) {one_line(block.text, 120)}")
    return "\n".join(lines)
