"""The session table as a pandas DataFrame."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..core.manager import ChatML

COLUMNS = [
    "name", "workspace", "priority", "task_status", "pinned", "pr_status", "branch", "ahead", "behind",
    "agent_state", "cost_usd", "updated_at", "health",
]  # fmt: skip


def session_table(manager: ChatML, include_archived: bool = False) -> pd.DataFrame:
    """Sessions as a DataFrame indexed by name-order, columns :data:`COLUMNS` (+ ``archived``)."""
    rows = manager.rows(include_archived=include_archived)
    columns = COLUMNS + (["archived"] if include_archived else [])
    frame = pd.DataFrame(rows, columns=columns)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], unit="s", utc=True)
    for col in ("ahead", "behind"):
        frame[col] = frame[col].astype("Int64")
    frame["cost_usd"] = frame["cost_usd"].astype("Float64")
    return frame.reset_index(drop=True)
