"""Review findings as a styled table: severity and status pills, the body as short text.

``style_findings(session.findings())`` is how notebooks, ``%chatml findings`` and the report show
findings. Inline CSS only (``Styler.map``), so it renders the same in JupyterLab and in HTML.
:func:`findings_frame` builds the DataFrame ``Session.findings()`` returns from the core's plain
rows (pandas stays out of the core; it reaches this module through :mod:`chatml_lab.core.table`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..core.review import FINDING_COLUMNS
from ..render.review import FINDING_STATUS_COLORS, SEVERITY_COLORS, scorecard_card

_PILL = "border-radius:9px;text-align:center;font-size:0.9em;white-space:nowrap;font-weight:600"
BODY_CHARS = 160


def _colored(colors: dict[str, tuple[str, str]]) -> Any:
    def css(value: Any) -> str:
        fg, bg = colors.get(str(value), ("#424242", "#e0e0e0"))
        return f"color:{fg};background-color:{bg};{_PILL}"

    return css


def findings_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Finding rows as a DataFrame with :data:`~chatml_lab.core.review.FINDING_COLUMNS`.

    ``line`` is a nullable integer, ``created_at`` a UTC timestamp.
    """
    frame = pd.DataFrame(list(rows), columns=FINDING_COLUMNS)
    frame["line"] = frame["line"].astype("Int64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def _short(text: Any) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= BODY_CHARS else flat[: BODY_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"


def style_findings(frame: pd.DataFrame, caption: str | None = None) -> Styler:
    """Style ``session.findings()``: severity and status coloured, resolved rows greyed."""
    styler = frame.style
    if "severity" in frame.columns:
        styler = styler.map(_colored(SEVERITY_COLORS), subset=["severity"])
    if "status" in frame.columns:
        styler = styler.map(_colored(FINDING_STATUS_COLORS), subset=["status"])
        pills = ("severity", "status")
        styler = styler.apply(
            lambda row: [
                "color:#9e9e9e" if row["status"] != "open" and col not in pills else "" for col in row.index
            ],
            axis=1,
        )
    formats: dict[str, Any] = {
        "body": _short,
        "line": lambda v: "" if pd.isna(v) else str(v),
        "created_at": lambda v: "" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M"),
    }
    styler = styler.format(escape="html")
    styler = styler.format({k: f for k, f in formats.items() if k in frame.columns}, escape="html")
    styler = styler.set_table_styles(
        [
            {
                "selector": "th",
                "props": "text-align:left;font-family:sans-serif;font-size:12px;padding:4px 8px",
            },
            {
                "selector": "td",
                "props": "font-family:sans-serif;font-size:12px;padding:3px 8px;vertical-align:top;text-align:left",
            },
            {"selector": "caption", "props": "caption-side:top;text-align:left;font-weight:bold;padding:4px"},
        ]
    )
    styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


def scorecards_html(cards: list[dict[str, Any]]) -> str:
    """Scorecards (``{"review_kind", "scores", "summary", ...}`` dicts) as cards with score bars."""
    if not cards:
        return '<div style="color:#9e9e9e;font-family:sans-serif;font-size:13px">No scorecard yet.</div>'
    return "".join(scorecard_card(card, True, None) for card in cards)


def plain_table(frame: pd.DataFrame) -> Styler:
    """Any small table (timeline, commits, cost) left-aligned, without the index, times to the second."""

    def seconds(value: Any) -> str:
        return "" if pd.isna(value) else str(value.strftime("%Y-%m-%d %H:%M:%S"))

    formats: dict[str, Any] = {
        col: seconds for col in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[col])
    }
    styler = frame.style.format(escape="html").format(formats, escape="html")
    return styler.hide(axis="index").set_table_styles(
        [
            {
                "selector": "th",
                "props": "text-align:left;font-family:sans-serif;font-size:12px;padding:4px 8px",
            },
            {
                "selector": "td",
                "props": "text-align:left;font-family:sans-serif;font-size:12px;padding:3px 8px",
            },
        ]
    )
