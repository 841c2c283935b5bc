"""The PR cell of the dashboard and the chat header: link, state, checks, conflict marker.

Pure HTML builders with inline CSS, like :mod:`.badges`, over ``ChatML.rows()`` dicts and the
conflict forecast's rows (``ChatML.conflict_rows()``).
"""

from __future__ import annotations

import html
from typing import Any

from .badges import PR_COLORS, badge

#: Checks state → (text colour, background).
CHECK_COLORS: dict[str, tuple[str, str]] = {
    "pending": ("#3e2723", "#ffb300"),
    "success": ("#ffffff", "#2e7d32"),
    "failure": ("#ffffff", "#c62828"),
}
_CHECK_MARK = {"pending": "\N{BLACK CIRCLE}", "success": "\N{CHECK MARK}", "failure": "\N{BALLOT X}"}


def pr_cell_html(row: dict[str, Any], conflict: str | None = None) -> str:
    """``#12 open ✓`` with the number linking to the PR, plus a conflict marker when forecast."""
    status = str(row.get("pr_status") or "none")
    number = row.get("pr_number")
    parts: list[str] = []
    if number and status != "none":
        label = f"#{number} {status}" + (" draft" if row.get("pr_draft") else "")
        state = badge(PR_COLORS, status, label)
        url = row.get("pr_url")
        parts.append(f'<a href="{html.escape(str(url))}" target="_blank" title="{html.escape(str(row.get("pr_title") or ""))}"'
                     f' style="text-decoration:none">{state}</a>' if url else state)  # fmt: skip
        checks = str(row.get("checks") or "none")
        if checks in CHECK_COLORS:
            parts.append(badge(CHECK_COLORS, checks, _CHECK_MARK[checks]))
    else:
        parts.append(badge(PR_COLORS, "none"))
    if conflict:
        parts.append(
            f'<div style="color:#e65100;font-size:11px;font-family:sans-serif" title="{html.escape(conflict)}">'
            f"\N{WARNING SIGN} {html.escape(conflict)}</div>"
        )
    return " ".join(parts)


def conflict_marks(rows: list[dict[str, Any]]) -> dict[str, str]:
    """``{"workspace/session": "conflicts with main, b"}`` from the forecast's rows (clean ones left out)."""
    marks: dict[str, str] = {}
    for row in rows:
        others = list(row["conflicts_with"])
        if not row["clean_with_main"]:
            others.insert(0, "main")
        if others:
            marks[f"{row['workspace']}/{row['session']}"] = "conflicts with " + ", ".join(others)
    return marks
