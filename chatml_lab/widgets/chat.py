"""The chat panel of one session: its event log rendered live, an input box, stop and approvals.

Everything shown comes from the event log (``session.events(after=last_seq)``), so a panel
opened after a kernel restart shows the whole history and two panels on one session agree. The
rendering is :mod:`chatml_lab.render` (pure); this module only wires widgets to it.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import SessionNotFoundError
from ..events import Event
from ..render import badges, blocks, text
from ..render.blocks import SCRIPTED_LABEL
from ..render.html import render_block
from ..render.pr import pr_cell_html
from ..render.tool_calls import tool_summary
from .banner import Banner
from .conversation_bar import ConversationBar
from .notebook_view import notebook_write_view
from .poller import Polling, close_tree

if TYPE_CHECKING:
    from ..core.session import Session


def header_html(info: dict[str, Any]) -> str:
    """The panel's header: name, branch, agent state, drift, cost, and a scripted label."""
    scripted = badges.scripted_badge(f"{SCRIPTED_LABEL} agent") if info.get("scripted") else ""
    archived = (
        '<span style="margin-left:8px;color:#6a1b9a;font-size:12px">archived</span>'
        if info.get("archived")
        else ""
    )
    agent = html.escape(str(info.get("agent") or "default agent"))
    pr = pr_cell_html(info) if info.get("pr_number") else ""
    return (
        '<div style="font-family:sans-serif;display:flex;flex-wrap:wrap;align-items:center;gap:10px;'
        'padding:6px 8px;border-bottom:1px solid #e0e0e0">'
        f'<b style="font-size:15px">{html.escape(str(info.get("name", "")))}</b>'
        f'<code style="font-size:12px;color:#546e7a">{html.escape(str(info.get("branch", "")))}</code>'
        f"{badges.state_badge(str(info.get('agent_state', 'idle')))}"
        f"{badges.drift_bar(info.get('ahead'), info.get('behind'))}"
        f'<span style="font-size:12px;color:#616161">cost {badges.cost_text(info.get("cost_usd"))}</span>'
        f'<span style="font-size:12px;color:#9e9e9e">{agent}</span>{scripted}{archived}{pr}</div>'
    )


class ChatPanel(Polling, widgets.VBox):  # type: ignore[misc]
    """A live chat with one session's agent.

    ``refresh()`` reads new events and redraws what changed; a background poller calls it every
    ``refresh_interval`` seconds unless ``autostart=False`` (tests call it themselves). ``close()``
    stops the poller.
    """

    def __init__(
        self,
        session: Session,
        refresh_interval: float = 1.0,
        autostart: bool = True,
        conversation: str | None = None,
    ) -> None:
        self.session = session
        # One conversation at a time, chosen with the tab strip (default: the task conversation).
        self.conversation_id = session.conversation(conversation).id
        self.bar = ConversationBar(self.select, self.start_review, self.fix_findings)
        self.events: list[Event] = []
        self.last_seq = 0
        self._lock = threading.RLock()
        self._rendered: list[str] = []  # html of each block widget, to redraw only what changed
        self._pending_ids: list[str] = []
        self.header = widgets.HTML()
        self.banner = Banner()
        self.transcript = widgets.VBox(layout=widgets.Layout(padding="4px 0"))
        self.approvals = widgets.VBox()
        self.input = widgets.Textarea(
            placeholder="Message the agent…", layout=widgets.Layout(width="100%", height="64px")
        )
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.interrupt_button = widgets.Button(description="Interrupt", tooltip="stop this turn")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", tooltip="stop the agent")
        self.send_button.on_click(lambda _: self.send())
        self.interrupt_button.on_click(lambda _: self._act(self.session.interrupt, "interrupted"))
        self.stop_button.on_click(lambda _: self._act(self.session.stop, "stop requested"))
        controls = widgets.HBox([self.send_button, self.interrupt_button, self.stop_button])
        super().__init__(
            [self.header, self.bar, self.banner, self.transcript, self.approvals, self.input, controls],
            layout=widgets.Layout(border="1px solid #e0e0e0", padding="4px", width="100%"),
        )
        self.add_class("chatml-chat")
        self.refresh()
        if autostart:
            self.start_polling(refresh_interval, self.refresh, name=f"chatml-chat-{session.id[:8]}")
            with contextlib.suppress(OSError):  # the first message is answered fast, or as before
                session.warm_up()  # while the user types, the runner host imports the SDK

    # -- reading --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read events after the last seen one and redraw what changed (safe from any thread)."""
        with self._lock, self.banner.guard() as outcome:
            self.bar.sync(self.session.conversations(), select=self.conversation_id)
            new = self.session.events(after=self.last_seq, conversation=self.conversation_id)
            if new:
                self.events.extend(new)
                self.last_seq = new[-1].seq
                self._draw_transcript()
                self._draw_approvals()
            self.header.value = header_html(self.header_info())
        if isinstance(outcome.error, SessionNotFoundError):
            self.stop_polling()  # deleted elsewhere: nothing more will come

    def header_info(self) -> dict[str, Any]:
        """What the header shows, read from the record and the event log."""
        rec = self.session.record
        return {
            "name": rec.name, "branch": rec.branch,
            "agent_state": self.session.conversation_state(self.conversation_id),
            "ahead": rec.ahead, "behind": rec.behind, "cost_usd": rec.cost_usd, "archived": rec.archived,
            "agent": rec.agent_backend, "scripted": rec.agent_backend == "scripted" or blocks.is_scripted(self.events),
            "pr_status": rec.pr_status.value, "pr_number": rec.pr_number, "pr_url": rec.pr_url,
            **self._pr_info(),
        }  # fmt: skip

    def _pr_info(self) -> dict[str, Any]:
        pr = self.session.pr
        return {"checks": pr.checks.value, "pr_draft": pr.draft, "pr_title": pr.title}

    @property
    def text(self) -> str:
        """The transcript as plain text."""
        return text.render_text(self.events)

    @property
    def pending(self) -> list[Event]:
        """Approval requests waiting for an answer."""
        return blocks.pending_approvals(self.events)

    def _draw_transcript(self) -> None:
        htmls = [render_block(block, notebook_write_view) for block in blocks.fold(self.events)]
        children = list(self.transcript.children)
        for index, value in enumerate(htmls):
            if index < len(children):
                if self._rendered[index] != value:
                    children[index].value = value
                    self._rendered[index] = value
            else:
                children.append(widgets.HTML(value))
                self._rendered.append(value)
        if len(children) != len(self.transcript.children):
            self.transcript.children = tuple(children)

    def _draw_approvals(self) -> None:
        pending = self.pending
        ids = [str(e.data["id"]) for e in pending]
        if ids == self._pending_ids:
            return
        self._pending_ids = ids
        rows = []
        for event in pending:
            request_id = str(event.data["id"])
            summary = tool_summary(str(event.data.get("tool")), dict(event.data.get("input") or {}))
            approve = widgets.Button(description="Approve", button_style="success")
            deny = widgets.Button(description="Deny", button_style="danger")
            approve.on_click(lambda _, rid=request_id: self.approve(rid))
            deny.on_click(lambda _, rid=request_id: self.deny(rid))
            label = widgets.HTML(
                f'<div style="font-family:sans-serif;font-size:13px;line-height:1.4;white-space:normal;'
                f'overflow-wrap:anywhere"><b>Allow?</b> <code>{html.escape(summary)}</code></div>',
                layout=widgets.Layout(flex="1 1 300px", min_width="0"),
            )
            # A long command wraps inside the label; the buttons move below it rather than off the side.
            rows.append(
                widgets.HBox(
                    [label, approve, deny], layout=widgets.Layout(align_items="center", flex_flow="row wrap")
                )
            )
        old = self.approvals.children
        self.approvals.children = tuple(rows)
        for row in old:
            close_tree(row)

    # -- acting ---------------------------------------------------------------------------------

    def send(self, text: str | None = None) -> None:
        """Send the input box's text (or ``text``) to the agent and clear the box."""
        message = (self.input.value if text is None else text).strip()
        if not message:
            self.banner.show("the message is empty: write what the agent should do")
            return
        if self._act(lambda: self.session.send(message, conversation=self.conversation_id), ""):
            self.input.value = ""

    # -- conversations (tabs), reviews and findings ---------------------------------------------

    def select(self, conversation_id: str) -> None:
        """Show another conversation of the session (what clicking its tab does)."""
        with self._lock:
            if conversation_id == self.conversation_id and self.events:
                return
            self.conversation_id = conversation_id
            self.events, self.last_seq, self._rendered, self._pending_ids = [], 0, [], []
            old = [*self.transcript.children, *self.approvals.children]
            self.transcript.children, self.approvals.children = (), ()
            for child in old:
                close_tree(child)
            self.refresh()

    def start_review(self, kind: str = "quick") -> None:
        """Start a review of ``kind`` and switch to its tab (findings appear there as cards)."""
        started: list[Any] = []
        if self._act(lambda: started.append(self.session.review(kind)), f"started a {kind} review"):
            self.select(started[0].id)

    def fix_findings(self) -> None:
        """Send the open findings to the task conversation and switch to it."""
        if self._act(self.session.fix_findings, "sent the open findings to the task conversation"):
            self.select(self.session.conversation().id)

    def approve(self, request_id: str | None = None) -> None:
        """Approve a pending request (the only one when no id is given)."""
        self._act(lambda: self.session.approve(request_id), "approved")

    def deny(self, request_id: str | None = None) -> None:
        """Deny a pending request."""
        self._act(lambda: self.session.deny(request_id), "denied")

    def _act(self, action: Callable[[], object], done: str) -> bool:
        with self.banner.guard() as outcome:
            action()
            self.banner.info(done)
        if outcome.ok:
            self.refresh()
        return outcome.ok

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop polling and close the widget and its children."""
        self.stop_polling()
        for child in self.children:
            close_tree(child)
        super().close()
