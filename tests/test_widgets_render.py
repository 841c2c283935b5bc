"""Events → blocks → HTML, without a browser: the chat's rendering rules."""

from __future__ import annotations

import time
from typing import Any

from chatml_lab.events import Event, EventType
from chatml_lab.models import PermissionMode, TaskStatus
from chatml_lab.render import badges
from chatml_lab.render.blocks import SCRIPTED_LABEL, fold, is_scripted, pending_approvals, totals
from chatml_lab.render.html import diff_html, render_block, render_events
from chatml_lab.render.table import format_rows
from chatml_lab.render.text import render_text
from chatml_lab.render.tool_calls import edit_diff, tool_summary, write_diff


def ev(seq: int, kind: str, **data: Any) -> Event:
    return Event(seq=seq, conversation_id="c", type=EventType(kind), data=data, created_at=time.time())


def test_deltas_stream_into_one_block_until_the_final_text() -> None:
    events = [ev(1, "user_message", text="hi"), ev(2, "assistant_delta", text="Hel"), ev(3, "state", agent_state="running"),
              ev(4, "assistant_delta", text="lo")]  # fmt: skip
    blocks = fold(events)
    assert [(b.kind, b.text, b.streaming) for b in blocks] == [
        ("user", "hi", False),
        ("assistant", "Hello", True),
    ]
    assert "\N{BLACK SQUARE}" in render_block(blocks[1])  # the streaming cursor
    blocks = fold([*events, ev(5, "assistant_text", text="Hello!")])
    assert [(b.kind, b.text, b.streaming) for b in blocks][-1] == ("assistant", "Hello!", False)
    assert blocks[-1].key == "a2"  # same block, so the widget updates in place


def test_final_text_without_deltas_and_interrupted_stream() -> None:
    blocks = fold([ev(1, "assistant_text", text="Whole")])
    assert [(b.kind, b.text) for b in blocks] == [("assistant", "Whole")]
    cut = fold([ev(1, "assistant_delta", text="par"), ev(2, "error", message="interrupted")])
    assert [(b.kind, b.streaming) for b in cut] == [("assistant", False), ("error", False)]


def test_deltas_separated_by_a_tool_make_two_blocks() -> None:
    blocks = fold([
        ev(1, "assistant_delta", text="First"), ev(2, "assistant_text", text="First"),
        ev(3, "tool_start", id="t1", tool="Read", input={"file_path": "a.py"}),
        ev(4, "tool_end", id="t1", ok=True, output="print(1)"),
        ev(5, "assistant_delta", text="Sec"), ev(6, "assistant_delta", text="ond"),
    ])  # fmt: skip
    assert [(b.kind, b.text) for b in blocks] == [
        ("assistant", "First"),
        ("tool", ""),
        ("assistant", "Second"),
    ]
    assert blocks[1].ok is True and blocks[1].output == "print(1)"


def test_scripted_output_is_labelled() -> None:
    events = [
        ev(1, "assistant_delta", text="x", scripted=True),
        ev(2, "assistant_text", text="x", scripted=True),
    ]
    html = render_events(events)
    assert SCRIPTED_LABEL in html and "not written by a model" in html
    assert is_scripted(events)
    assert render_text(events) == "agent [scripted]: x"
    assert SCRIPTED_LABEL not in render_events([ev(1, "assistant_text", text="x")])


def test_tool_calls_collapse_to_one_line_with_details() -> None:
    edit = {"file_path": "app.py", "old_string": "a = 1\nb = 2\n", "new_string": "a = 1\nb = 3\nc = 4\n"}
    events = [ev(1, "tool_start", id="t1", tool="Edit", input=edit)]
    html = render_events(events)
    assert "<details" in html and "<summary" in html
    assert "Edit app.py (+2 \N{MINUS SIGN}1)" in html
    assert "\N{HORIZONTAL ELLIPSIS}" in html  # running
    html = render_events([*events, ev(2, "tool_end", id="t1", ok=False, output="no match")])
    assert "\N{BALLOT X}" in html and "no match" in html


def test_edit_diff_is_a_unified_diff() -> None:
    diff = edit_diff({"file_path": "app.py", "old_string": "x = 1\n", "new_string": "x = 2\n"})
    assert diff.splitlines() == ["--- a/app.py", "+++ b/app.py", "@@ -1 +1 @@", "-x = 1", "+x = 2"]
    multi = edit_diff(
        {
            "file_path": "m.py",
            "edits": [{"old_string": "a", "new_string": "b"}, {"old_string": "c", "new_string": "d"}],
        }
    )
    assert multi.count("@@") == 4
    html = diff_html(diff)
    assert "#e6ffec" in html and "#ffebe9" in html  # added green, removed red
    assert write_diff({"file_path": "n.py", "content": "one\ntwo\n"}).splitlines()[-2:] == [
        "+one",
        "+two",
    ]


def test_tool_summaries() -> None:
    assert tool_summary("Bash", {"command": "pytest -q\n  --x"}) == "Bash: pytest -q --x"
    assert tool_summary("Write", {"file_path": "a.py", "content": "1\n2\n"}) == "Write a.py (2 lines)"
    assert tool_summary("Grep", {"pattern": "TODO", "path": "src"}) == "Grep TODO in src"
    assert tool_summary("Read", {"file_path": "x"}) == "Read x"
    assert tool_summary("Other", {"k": 1}) == 'Other {"k": 1}'


def test_approvals_pending_then_answered() -> None:
    request = ev(1, "approval_request", id="r1", tool="Bash", input={"command": "rm -rf build"})
    assert [e.data["id"] for e in pending_approvals([request])] == ["r1"]
    html = render_events([request])
    assert "waiting for your approval" in html and "rm -rf build" in html
    answered = [request, ev(2, "approval_response", id="r1", approved=False)]
    assert pending_approvals(answered) == []
    assert "Permission: denied" in render_events(answered)


def test_an_answered_approval_collapses_to_one_line() -> None:
    request = ev(1, "approval_request", id="r1", tool="Write", input={"file_path": "a.py", "content": "x\n"})
    pending = render_events([request])
    assert "chatml-approval-pending" in pending and "<details" not in pending and "+x" in pending
    for approved, word in ((True, "approved"), (False, "denied")):
        answered = render_events([request, ev(2, "approval_response", id="r1", approved=approved)])
        assert "chatml-approval-pending" not in answered
        # One summary line (no wrapping); the diff only when the line is opened.
        head, body = answered.split("</summary>")
        assert 'class="chatml-approval-answered"' in head and "white-space:nowrap" in head
        assert f"Permission: {word}" in head and "Write a.py (1 line)" in head
        assert "+x" in body and body.count("<details") == 0


def test_model_output_cannot_inject_html() -> None:
    events = [
        ev(1, "user_message", text="<script>alert(1)</script>"),
        ev(2, "assistant_text", text="**bold** <img src=x onerror=y>"),
    ]
    html = render_events(events)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "<strong>bold</strong>" in html


def test_other_event_kinds_render() -> None:
    events = [
        ev(1, "thinking", text="hmm"), ev(2, "result", usage={"input_tokens": 10, "output_tokens": 5}, cost_usd=None, duration_ms=1500),
        ev(3, "error", message="boom"), ev(4, "setup_output", script="install", output="ok", exit_code=0),
        ev(5, "name_suggestion", name="fix-login"), ev(6, "archive_summary", summary="Did **things**", source="fallback"),
        ev(7, "notice", message="fetch failed"),
    ]  # fmt: skip
    html = render_events(events)
    for fragment in ("Thinking", "cost unknown", "1.5 s", "boom", "setup script", "Suggested name: fix-login",
                     "<strong>things</strong>", "fetch failed"):  # fmt: skip
        assert fragment in html
    assert totals(events) == {"cost_usd": None, "input_tokens": 10, "output_tokens": 5, "turns": 1}
    assert "No messages yet" in render_events([])


def test_labels_read_as_words_everywhere() -> None:
    assert badges.label("in_progress") == "in progress" and badges.label(TaskStatus.IN_REVIEW) == "in review"
    assert badges.choices(PermissionMode) == [
        ("default", "default"),
        ("accept edits", "accept_edits"),
        ("bypass", "bypass"),
        ("plan", "plan"),
    ]
    assert ">in progress<" in badges.status_badge("in_progress")
    rows = [{"name": "a", "task_status": "in_progress", "priority": "none", "pr_status": "none",
             "agent_state": "idle", "cost_usd": None}]  # fmt: skip
    assert "in progress" in format_rows(rows, ["name", "task_status"]).splitlines()[1]


def test_badges() -> None:
    assert "#d32f2f" in badges.priority_badge("urgent")
    assert "in progress" in badges.status_badge("in_progress")
    assert "not synced" in badges.drift_bar(None, 3)
    bar = badges.drift_bar(2, 30)
    assert "+2" in bar and "\N{MINUS SIGN}30" in bar and "width:40px" in bar  # clipped at half width
    assert badges.cost_text(None) == "unknown" and badges.cost_text(0.5) == "$0.5000"
    assert badges.drift_text(1, 2) == "\N{UPWARDS ARROW}1 \N{DOWNWARDS ARROW}2"
    assert "#12 open" in badges.pr_badge("open", 12)
