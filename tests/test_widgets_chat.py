"""The chat panel without a browser: it mirrors the event log, and its buttons reach the API."""

from __future__ import annotations

from pathlib import Path

from chatml_lab.agents import lease
from chatml_lab.core.manager import ChatML
from chatml_lab.core.session import Session
from chatml_lab.events import EventType
from chatml_lab.widgets.chat import ChatPanel, header_html

from .agent_fixtures import agent_cm, wait_for, write_script

__all__ = ["agent_cm"]


def _conversation(cm: ChatML, session: Session) -> str:
    return cm.store.conversations(session.id)[0].id


def test_panel_shows_history_and_streams_new_text(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="talk")
    conv = _conversation(cm, session)
    cm.store.append_event(conv, EventType.USER_MESSAGE, {"text": "Add a test"})
    panel = ChatPanel(session, autostart=False)
    try:
        assert not panel.polling
        assert "you: Add a test" in panel.text
        count = len(panel.transcript.children)
        cm.store.append_event(conv, EventType.ASSISTANT_DELTA, {"text": "Work", "scripted": True})
        panel.refresh()
        assert len(panel.transcript.children) == count + 1
        streamed = panel.transcript.children[-1]
        assert "Work" in streamed.value and "scripted" in streamed.value
        cm.store.append_event(conv, EventType.ASSISTANT_DELTA, {"text": "ing on it", "scripted": True})
        panel.refresh()
        assert panel.transcript.children[-1] is streamed, "streamed text updates its block in place"
        assert "Working on it" in streamed.value
        cm.store.append_event(conv, EventType.ASSISTANT_TEXT, {"text": "Working on it.", "scripted": True})
        panel.refresh()
        assert "Working on it." in streamed.value and "\N{BLACK SQUARE}" not in streamed.value
        assert "scripted agent" in panel.header.value
    finally:
        panel.close()


def test_header_follows_state_drift_and_cost(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="head")
    panel = ChatPanel(session, autostart=False)
    try:
        assert "idle" in panel.header.value and "not synced" in panel.header.value
        assert "chatml/head" in panel.header.value
        conv = _conversation(cm, session)
        lease.claim(cm.store, conv, "test-token", stale_after=5.0)  # a runner starting up holds it
        cm.store.update_conversation(conv, agent_state="waiting")
        cm.store.update_session(session.id, ahead=2, behind=1, cost_usd=0.25)
        panel.refresh()
        assert "waiting" in panel.header.value
        assert "+2" in panel.header.value and "$0.2500" in panel.header.value
        # No live runner behind a working state: the header says crashed, never running.
        lease.release(cm.store, conv, "test-token")
        panel.refresh()
        assert "crashed" in panel.header.value
    finally:
        panel.close()
    assert "archived" in header_html({"name": "x", "archived": True})


def test_two_panels_and_a_reattached_panel_agree(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="twins")
    conv = _conversation(cm, session)
    first = ChatPanel(session, autostart=False)
    for i in range(3):
        cm.store.append_event(conv, EventType.USER_MESSAGE, {"text": f"message {i}"})
        first.refresh()
    # A panel made later (a kernel restart, another notebook) reads the whole log.
    second = ChatPanel(cm.session("twins"), autostart=False)
    try:
        assert first.text == second.text
        assert [c.value for c in first.transcript.children] == [c.value for c in second.transcript.children]
    finally:
        first.close()
        second.close()


def test_tool_calls_and_errors_render(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="tools")
    conv = _conversation(cm, session)
    edit = {"file_path": "a.py", "old_string": "x = 1\n", "new_string": "x = 2\n"}
    cm.store.append_event(conv, EventType.TOOL_START, {"id": "t1", "tool": "Edit", "input": edit})
    cm.store.append_event(conv, EventType.TOOL_END, {"id": "t1", "ok": True, "output": "edited"})
    cm.store.append_event(conv, EventType.ERROR, {"message": "rate limited"})
    panel = ChatPanel(session, autostart=False)
    try:
        html = "".join(c.value for c in panel.transcript.children)
        assert "<details" in html and "Edit a.py (+1 \N{MINUS SIGN}1)" in html and "+x = 2" in html
        assert "rate limited" in html
    finally:
        panel.close()


def test_approve_and_deny_buttons_answer_pending_requests(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="asks")
    conv = _conversation(cm, session)
    cm.store.append_event(
        conv, EventType.APPROVAL_REQUEST, {"id": "r1", "tool": "Bash", "input": {"command": "make"}}
    )
    cm.store.append_event(
        conv,
        EventType.APPROVAL_REQUEST,
        {"id": "r2", "tool": "Write", "input": {"file_path": "x", "content": ""}},
    )
    panel = ChatPanel(session, autostart=False)
    try:
        assert [e.data["id"] for e in panel.pending] == ["r1", "r2"]
        assert len(panel.approvals.children) == 2
        label, approve, _deny = panel.approvals.children[0].children
        assert "Bash: make" in label.value
        approve.click()  # no runner holds the conversation: nobody would act on the answer (issue 8)
        assert "nobody would act on the answer" in panel.banner.value
        assert cm.store.pending_inbox(conv) == []
        lease.claim(cm.store, conv, "test-token", stale_after=5.0)  # a runner starting: it will act
        approve.click()
        inbox = [(kind, data) for _, kind, data in cm.store.pending_inbox(conv)]
        assert ("approval", {"id": "r1", "approved": True}) in inbox
        _label, _approve, deny = panel.approvals.children[1].children
        deny.click()
        inbox = [(kind, data) for _, kind, data in cm.store.pending_inbox(conv)]
        assert ("approval", {"id": "r2", "approved": False}) in inbox
        # The runner answers with approval_response events; the buttons then go away.
        cm.store.append_event(conv, EventType.APPROVAL_RESPONSE, {"id": "r1", "approved": True})
        cm.store.append_event(conv, EventType.APPROVAL_RESPONSE, {"id": "r2", "approved": False})
        panel.refresh()
        assert panel.approvals.children == ()
        assert "Permission: approved" in panel.transcript.children[0].value
    finally:
        panel.close()


def test_stop_and_interrupt_buttons_queue_controls(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="busy")
    conv = _conversation(cm, session)
    lease.claim(cm.store, conv, "test-token", stale_after=5.0)
    cm.store.update_conversation(conv, agent_state="running")
    panel = ChatPanel(session, autostart=False)
    try:
        panel.interrupt_button.click()
        panel.stop_button.click()
        kinds = [kind for _, kind, _ in cm.store.pending_inbox(conv)]
        assert kinds == ["interrupt", "stop"]
    finally:
        panel.close()


def test_errors_show_in_the_banner(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="err")
    panel = ChatPanel(session, autostart=False)
    try:
        panel.send_button.click()  # empty input
        assert "the message is empty" in panel.banner.value
        panel.approve()
        assert "no pending approval" in panel.banner.value
        session.delete(force=True)
        panel.refresh()
        assert "no longer exists" in panel.banner.value
    finally:
        panel.close()


def test_send_button_runs_the_agent_and_the_poller_shows_it(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "Hello from the script."}]])
    session = agent_cm.new_session(repo, name="live", agent=f"scripted:{script}")
    panel = ChatPanel(session, refresh_interval=0.05)
    try:
        assert panel.polling
        panel.input.value = "Say hello"
        panel.send_button.click()
        assert panel.input.value == ""
        assert session.wait(timeout=60) == "idle"
        wait_for(lambda: "Hello from the script." in panel.text, what="the poller to show the reply")
        assert "you: Say hello" in panel.text
        assert "agent [scripted]: Hello from the script." in panel.text
    finally:
        panel.close()
    assert not panel.polling
