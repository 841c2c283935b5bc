"""The session table as a coloured HTML table, from ``ChatML.rows()``, without pandas.

``%chatml list`` in a fresh kernel should cost less than ``import pandas``: this draws what the
pandas Styler of :func:`chatml_lab.reports.style.style_table` draws (the same badges, drift bars,
pins and formats, inline CSS only) from the plain rows (see :class:`chatml_lab.reports.listing.SessionTable`).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from . import badges
from .table import table_columns

_CELL_BADGE = "border-radius:9px;text-align:center;font-size:11px;white-space:nowrap"
_TH = "text-align:left;font-family:sans-serif;font-size:12px;padding:4px 8px"
_TD = "font-family:sans-serif;font-size:12px;padding:3px 8px"
_PINNED_ROW = "background-color:#fffde7"
_COLORED = {
    "priority": badges.PRIORITY_COLORS, "task_status": badges.STATUS_COLORS,
    "agent_state": badges.STATE_COLORS, "pr_status": badges.PR_COLORS,
}  # fmt: skip


def _text(column: str, value: Any) -> str:
    """A cell's text, as the Styler formats it."""
    if column == "pinned":
        return badges.PIN_MARK if value else ""
    if column == "cost_usd":
        return "unknown" if value is None else f"${value:.4f}"
    if column == "updated_at":
        return "" if value is None else datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M")
    if column == "task_status":
        return str(value).replace("_", " ")
    if column == "archived":
        return "archived" if value else ""
    if column == "health":
        return "" if value == "ok" else f"\N{WARNING SIGN} {value}"
    return "" if value is None else str(value)


def _cell(column: str, row: dict[str, Any]) -> str:
    value = row.get(column)
    css = _TD
    if column in _COLORED:
        fg, bg = badges.colors_of(_COLORED[column], str(value))
        css += f";color:{fg};background-color:{bg};{_CELL_BADGE}"
    elif row.get("pinned"):
        css += ";" + _PINNED_ROW
    if column == "pinned" and value:
        css += ";font-size:13px;text-align:center"
    if column == "health" and value != "ok":
        css += ";color:#c62828"
    if column == "drift":
        ahead, behind = row.get("ahead"), row.get("behind")
        if ahead is None or behind is None:
            text = badges.drift_bar(None, None)
        else:
            text = badges.drift_bar(int(ahead), int(behind), width_px=60)
    else:
        text = html.escape(_text(column, value))
    return f'<td style="{css}">{text}</td>'


def rows_html(rows: list[dict[str, Any]], include_archived: bool = False, caption: str | None = None) -> str:
    """The session table of ``rows`` (``ChatML.rows()``), drift bars after ``behind``."""
    columns = table_columns(include_archived)
    shown = [*columns[: columns.index("behind") + 1], "drift", *columns[columns.index("behind") + 1 :]]
    head = "".join(f'<th style="{_TH}">{html.escape(c)}</th>' for c in shown)
    body = "".join("<tr>" + "".join(_cell(c, row) for c in shown) + "</tr>" for row in rows)
    title = (
        f'<caption style="caption-side:top;text-align:left;font-weight:bold;padding:4px">{html.escape(caption)}'
        "</caption>"
        if caption
        else ""
    )
    return f'<table style="border-collapse:collapse">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
