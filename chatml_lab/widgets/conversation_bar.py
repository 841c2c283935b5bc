"""The chat panel's tab strip: one tab per conversation, and the Review and Fix buttons.

A session has a task conversation and any number of review and chat ones; the panel shows one
at a time. The tabs are ``ToggleButtons`` (one per conversation, newest reviews included as
they appear), the Review button starts a review of the kind chosen next to it and switches to
it, and Fix findings hands the open findings to the task conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..core.review_prompts import KINDS
from ..models import Conversation


def tab_label(conv: Conversation) -> str:
    """``Task``, ``Review #1: Quick review``, ``Chat #1``: the conversation's title.

    No emoji: exported HTML and headless browsers often lack the font, and the tab would show a box.
    """
    return conv.title


class ConversationBar(widgets.HBox):  # type: ignore[misc]
    """Tabs over a session's conversations plus Review / Fix findings controls."""

    def __init__(
        self,
        on_select: Callable[[str], None],
        on_review: Callable[[str], None],
        on_fix: Callable[[], None],
    ) -> None:
        self._on_select = on_select
        self._syncing = False
        self.ids: list[str] = []
        self.tabs = widgets.ToggleButtons(options=[], style={"button_width": "auto"})
        self.kind = widgets.Dropdown(
            options=[(k.label, k.name) for k in KINDS.values()], value="quick",
            layout=widgets.Layout(width="160px"), tooltip="kind of review",
        )  # fmt: skip
        self.review_button = widgets.Button(
            description="Review", button_style="warning", tooltip="start a read-only review of this session"
        )
        self.fix_button = widgets.Button(
            description="Fix findings", tooltip="send the open findings to the task conversation"
        )
        self.review_button.on_click(lambda _: on_review(str(self.kind.value)))
        self.fix_button.on_click(lambda _: on_fix())
        self.tabs.observe(self._changed, "value")
        super().__init__(
            [self.tabs, widgets.HBox([self.kind, self.review_button, self.fix_button])],
            layout=widgets.Layout(justify_content="space-between", flex_flow="row wrap", padding="2px 0"),
        )
        self.add_class("chatml-conversations")

    @property
    def selected(self) -> str | None:
        """The id of the conversation shown."""
        value = self.tabs.value
        return None if value is None else str(value)

    def sync(self, conversations: list[Conversation], select: str | None = None) -> None:
        """Show a tab per conversation (keeping the selection unless ``select`` names another)."""
        ids = [c.id for c in conversations]
        current = select or self.selected or (ids[0] if ids else None)
        if ids == self.ids and current == self.selected:
            return
        self._syncing = True
        try:
            if ids != self.ids:
                self.tabs.options = [(tab_label(c), c.id) for c in conversations]
                self.ids = ids
            self.tabs.value = current if current in ids else (ids[0] if ids else None)
        finally:
            self._syncing = False

    def _changed(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] is not None:
            self._on_select(str(change["new"]))
