"""The session table styled with a pandas Styler: priority colours, status badges, drift bars, pins.

Only inline CSS through ``Styler.map`` / ``Styler.format`` / ``set_table_styles``: the output renders
the same in JupyterLab, the classic notebook and nbconvert HTML, with no external asset. The
DataFrame itself is not changed (``styler.data`` is ``manager.table()``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..render import badges

_CELL_BADGE = "border-radius:9px;text-align:center;font-size:0.9em;white-space:nowrap"


def _colored(colors: dict[str, tuple[str, str]]) -> Any:
    def css(value: Any) -> str:
        fg, bg = badges.colors_of(colors, str(value))
        return f"color:{fg};background-color:{bg};{_CELL_BADGE}"

    return css


def _drift(row: pd.Series) -> str:
    ahead, behind = row.get("ahead"), row.get("behind")
    if ahead is None or behind is None or pd.isna(ahead) or pd.isna(behind):
        return badges.drift_bar(None, None)
    return badges.drift_bar(int(ahead), int(behind), width_px=60)


def style_table(frame: pd.DataFrame, caption: str | None = None) -> Styler:
    """Style ``manager.table()``: returns a Styler that displays as a coloured HTML table.

    A ``drift`` column (bars, green ahead and red behind) is added for display; ``pinned`` shows a
    pin; ``updated_at`` is shown to the minute; cost shows "unknown" when the price was unknown.
    """
    shown = frame.copy()
    if {"ahead", "behind"} <= set(shown.columns):
        position = list(shown.columns).index("behind") + 1
        shown.insert(position, "drift", shown.apply(_drift, axis=1) if len(shown) else pd.Series(dtype=str))
    styler = shown.style
    colored = {
        "priority": badges.PRIORITY_COLORS, "task_status": badges.STATUS_COLORS,
        "agent_state": badges.STATE_COLORS, "pr_status": badges.PR_COLORS,
    }  # fmt: skip
    for column, colors in colored.items():
        if column in shown.columns:
            styler = styler.map(_colored(colors), subset=[column])
    formats: dict[str, Any] = {
        "pinned": lambda v: badges.PIN_MARK if bool(v) else "",
        "cost_usd": lambda v: "unknown" if pd.isna(v) else f"${v:.4f}",
        "updated_at": lambda v: "" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M"),
        **{column: badges.label for column in colored},
        "ahead": lambda v: "" if pd.isna(v) else str(v),
        "behind": lambda v: "" if pd.isna(v) else str(v),
        "archived": lambda v: "archived" if bool(v) else "",
        "health": lambda v: "" if v == "ok" else f"\N{WARNING SIGN} {v}",
    }
    # Escape data (names, paths, health messages) everywhere; only drift holds HTML we built.
    styler = styler.format(escape="html")
    styler = styler.format({k: f for k, f in formats.items() if k in shown.columns}, escape="html")
    if "drift" in shown.columns:
        # The drift cells hold trusted HTML built here, not data: leave them unescaped.
        styler = styler.format(str, subset=["drift"], escape=None)
    if "pinned" in shown.columns:
        styler = styler.map(
            lambda v: "font-size:1.1em;text-align:center" if bool(v) else "", subset=["pinned"]
        )
        styler = styler.apply(
            lambda row: ["background-color:#fffde7" if bool(row.get("pinned")) else "" for _ in row], axis=1,
            subset=[c for c in shown.columns if c not in colored],
        )  # fmt: skip
    if "health" in shown.columns:
        styler = styler.map(lambda v: "" if v == "ok" else "color:#c62828", subset=["health"])
    styler = styler.set_table_styles(
        [
            {
                "selector": "th",
                "props": "text-align:left;font-family:sans-serif;font-size:12px;padding:4px 8px",
            },
            {"selector": "td", "props": "font-family:sans-serif;font-size:12px;padding:3px 8px"},
            {"selector": "caption", "props": "caption-side:top;text-align:left;font-weight:bold;padding:4px"},
        ]
    )
    styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler
