"""The widgets' one error guard: an API error becomes a one-line banner, never a traceback (DESIGN §6).

Every widget action and refresh runs inside :meth:`Banner.guard`; the CLI and the magics have their
own single guard (one line on stderr).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ipywidgets as widgets

from ..errors import ChatMLError


def banner_html(message: str, level: str = "error") -> str:
    """A one-line banner (errors from the API are shown here, never as a traceback)."""
    if not message:
        return ""
    fg, bg = ("#b71c1c", "#ffebee") if level == "error" else ("#1b5e20", "#e8f5e9")
    return (
        f'<div style="font-family:sans-serif;font-size:12px;padding:4px 8px;border-radius:4px;'
        f'color:{fg};background:{bg}">{html.escape(message)}</div>'
    )


@dataclass
class Outcome:
    """What happened inside :meth:`Banner.guard`: the error it showed, if any."""

    error: ChatMLError | None = None

    @property
    def ok(self) -> bool:
        """True when the guarded code raised nothing."""
        return self.error is None


class Banner(widgets.HTML):  # type: ignore[misc]
    """A line above a widget's content: errors in red, confirmations in green, nothing when empty."""

    def show(self, message: str, level: str = "error") -> None:
        """Show ``message`` (``level`` ``"error"`` or ``"info"``); an empty message clears the line."""
        self.value = banner_html(message, level)

    def info(self, message: str) -> None:
        """Show a confirmation (or clear the line when ``message`` is empty)."""
        self.show(message, "info")

    @contextmanager
    def guard(self, prefix: str = "") -> Iterator[Outcome]:
        """Run the block; a :class:`~chatml_lab.errors.ChatMLError` it raises is shown, not raised.

        ``prefix`` names what failed (``"fix-login: "``); the yielded :class:`Outcome` tells the
        caller whether the block finished.
        """
        outcome = Outcome()
        try:
            yield outcome
        except ChatMLError as exc:
            outcome.error = exc
            self.show(f"{prefix}{exc}")
