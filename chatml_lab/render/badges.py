"""Colours and small HTML badges shared by the dashboard, the chat header and the styled table.

Pure functions over plain values (standard library only), so the pandas Styler, the ipywidgets
and the tests all draw the same thing. Everything is inline CSS: nbconvert HTML, JupyterLab and
the classic notebook render it without any stylesheet.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

#: Priority → (text colour, background). Urgent is loud, none fades away.
PRIORITY_COLORS: dict[str, tuple[str, str]] = {
    "urgent": ("#ffffff", "#d32f2f"),
    "high": ("#ffffff", "#f57c00"),
    "medium": ("#3e2723", "#fbc02d"),
    "low": ("#ffffff", "#1976d2"),
    "none": ("#616161", "#eeeeee"),
}

#: Task status → (text colour, background).
STATUS_COLORS: dict[str, tuple[str, str]] = {
    "backlog": ("#424242", "#e0e0e0"),
    "in_progress": ("#ffffff", "#1e88e5"),
    "in_review": ("#ffffff", "#8e24aa"),
    "done": ("#ffffff", "#43a047"),
    "cancelled": ("#ffffff", "#757575"),
}

#: Agent state → (text colour, background).
STATE_COLORS: dict[str, tuple[str, str]] = {
    "idle": ("#424242", "#e0e0e0"),
    "running": ("#ffffff", "#43a047"),
    "waiting": ("#3e2723", "#ffb300"),
    "stopped": ("#ffffff", "#757575"),
    "crashed": ("#ffffff", "#c62828"),
    "unreachable": ("#ffffff", "#6d4c41"),  # its machine stopped heartbeating (issue 13)
}

#: PR status → (text colour, background).
PR_COLORS: dict[str, tuple[str, str]] = {
    "none": ("#9e9e9e", "transparent"),
    "open": ("#ffffff", "#2e7d32"),
    "merged": ("#ffffff", "#6a1b9a"),
    "closed": ("#ffffff", "#c62828"),
}

#: Colours of a value no table knows.
UNKNOWN_COLORS = ("#424242", "#e0e0e0")

AHEAD_COLOR = "#43a047"
BEHIND_COLOR = "#e53935"
PIN_MARK = "\N{PUSHPIN}"

_BADGE = (
    "display:inline-block;padding:1px 7px;border-radius:9px;font-size:0.85em;"
    "font-family:sans-serif;line-height:1.5;white-space:nowrap;color:{fg};background:{bg}"
)


def label(value: object) -> str:
    """How people read an enum value: ``in_progress`` → ``in progress``, ``accept_edits`` → ``accept edits``.

    Every human-facing view (badges, dropdowns, the styled table, ``chatml list``, banners) uses
    this; machine-readable output (``--json``, the REST API) keeps the enum values.
    """
    return str(value).replace("_", " ")


def choices(values: Iterable[object]) -> list[tuple[str, str]]:
    """``(label, value)`` pairs for a dropdown: people read the label, the code gets the value."""
    return [(label(value), str(value)) for value in values]


def colors_of(colors: dict[str, tuple[str, str]], value: str) -> tuple[str, str]:
    """(text colour, background) of ``value`` in a colour table; grey when the value is unknown."""
    return colors.get(value, UNKNOWN_COLORS)


def badge_css(colors: dict[str, tuple[str, str]], value: str) -> str:
    """Inline CSS of a badge for ``value`` in a colour table (grey when unknown)."""
    fg, bg = colors_of(colors, value)
    return _BADGE.format(fg=fg, bg=bg)


def badge(colors: dict[str, tuple[str, str]], value: str, text: str | None = None) -> str:
    """A rounded coloured label reading ``text`` (default: :func:`label` of ``value``)."""
    shown = text if text is not None else label(value)
    return f'<span style="{badge_css(colors, value)}">{html.escape(shown)}</span>'


def priority_badge(priority: str) -> str:
    """Badge of a priority (urgent … none)."""
    return badge(PRIORITY_COLORS, priority)


def status_badge(status: str) -> str:
    """Badge of a task status."""
    return badge(STATUS_COLORS, status)


def state_badge(state: str) -> str:
    """Badge of an agent state."""
    return badge(STATE_COLORS, state)


def pr_badge(status: str, number: int | None = None) -> str:
    """Badge of a PR status (``#12 open``)."""
    return badge(PR_COLORS, status, f"#{number} {status}" if number and status != "none" else None)


def scripted_badge(text: str) -> str:
    """The orange label on output replayed from a script, so it is never taken for a model's."""
    return (
        '<span title="replayed from a script, not written by a model" style="display:inline-block;'
        "padding:0 6px;margin-left:6px;border-radius:8px;background:#fff3e0;color:#e65100;"
        f'border:1px solid #ffb74d;font-size:11px">{html.escape(text)}</span>'
    )


def drift_bar(ahead: int | None, behind: int | None, scale: int = 10, width_px: int = 80) -> str:
    """Two bars around a centre line: green to the right for ahead, red to the left for behind.

    ``scale`` commits fill one half; more are clipped but the numbers are always written.
    Unknown drift (never synced) renders as "not synced".
    """
    if ahead is None or behind is None:
        return '<span style="color:#9e9e9e;font-size:0.85em;font-family:sans-serif">not synced</span>'
    half = width_px // 2

    def length(count: int) -> int:
        return 0 if count <= 0 else max(2, min(half, round(half * count / scale)))

    left = (
        f'<span style="display:inline-block;width:{half}px;text-align:right;vertical-align:middle">'
        f'<span style="display:inline-block;height:8px;width:{length(behind)}px;background:{BEHIND_COLOR}">'
        "</span></span>"
    )
    right = (
        f'<span style="display:inline-block;width:{half}px;text-align:left;vertical-align:middle;'
        f'border-left:1px solid #9e9e9e">'
        f'<span style="display:inline-block;height:8px;width:{length(ahead)}px;background:{AHEAD_COLOR}">'
        "</span></span>"
    )
    numbers = (
        f'<span style="font-size:0.85em;font-family:monospace;margin-left:4px">'
        f'<span style="color:{BEHIND_COLOR}">\N{MINUS SIGN}{behind}</span> '
        f'<span style="color:{AHEAD_COLOR}">+{ahead}</span></span>'
    )
    return f'<span style="white-space:nowrap" title="{behind} behind, {ahead} ahead">{left}{right}{numbers}</span>'


def drift_text(ahead: int | None, behind: int | None) -> str:
    """Plain ``↑ahead ↓behind`` (or ``not synced``)."""
    if ahead is None or behind is None:
        return "not synced"
    return f"\N{UPWARDS ARROW}{ahead} \N{DOWNWARDS ARROW}{behind}"


def cost_text(cost_usd: float | None) -> str:
    """Dollars with 4 decimals, or ``unknown`` when the model's price is not known."""
    return "unknown" if cost_usd is None else f"${cost_usd:.4f}"
