"""The session table in plain text: its columns, an aligned text table, JSON rows, sizes.

The rows are ``ChatML.rows()`` (plain dicts, already sorted). :data:`COLUMNS` is the one list of the
table's columns: ``chatml list`` prints them, ``--json`` writes them, and the DataFrame of
``ChatML.table()`` (:mod:`chatml_lab.reports.table`) has them in this order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .badges import label

#: The session table's columns, in order (``archived`` is added when archived sessions are shown).
COLUMNS = [
    "name", "workspace", "machine", "owner", "priority", "task_status", "pinned", "pr_status", "branch", "ahead", "behind",
    "agent_state", "cost_usd", "updated_at", "health",
]  # fmt: skip

#: Enum columns: the text table shows their labels (``in progress``), ``--json`` their values.
LABELLED = frozenset({"priority", "task_status", "pr_status", "agent_state"})

#: What ``chatml list`` shows by default (``health`` only appears when a session has a problem).
LIST_COLUMNS = [c for c in COLUMNS if c != "health"]


def table_columns(include_archived: bool = False) -> list[str]:
    """:data:`COLUMNS`, plus ``archived`` when archived sessions are included."""
    return [*COLUMNS, *(["archived"] if include_archived else [])]


def format_rows(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table."""
    if not rows:
        return "no sessions (create one with `chatml new`)"

    def cell(row: dict[str, Any], col: str) -> str:
        value = row.get(col)
        if col == "updated_at" and isinstance(value, float):
            return time.strftime("%Y-%m-%d %H:%M", time.gmtime(value))  # UTC, without importing datetime
        if col == "pinned":
            return "*" if value else ""
        if col in LABELLED:
            return label(value)
        if col == "cost_usd":
            return "unknown" if value is None else f"{value:.4f}"
        return "" if value is None else str(value)

    table = [list(columns)] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in table
    )


def json_rows(rows: list[dict[str, Any]], include_archived: bool = False) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: the table's columns in order, ``updated_at`` in ISO 8601."""
    from datetime import UTC, datetime

    out = []
    for row in rows:
        item = {k: row[k] for k in table_columns(include_archived)}
        item["updated_at"] = datetime.fromtimestamp(row["updated_at"], UTC).isoformat()
        out.append(item)
    return out


def human_bytes(size: int) -> str:
    """``512 B``, ``1.5 MB``: a size for people."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
