"""The session table as a pandas DataFrame (``ChatML.table()``); pandas stays out of the core."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..render.table import table_columns

if TYPE_CHECKING:
    from ..core.manager import ChatML


def session_frame(rows: list[dict[str, Any]], include_archived: bool = False) -> pd.DataFrame:
    """``ChatML.rows()`` as a DataFrame: columns :data:`~chatml_lab.render.table.COLUMNS` (+ ``archived``).

    ``updated_at`` becomes a UTC timestamp; drift and cost become nullable numbers (unknown stays NA).
    """
    frame = pd.DataFrame(rows, columns=table_columns(include_archived))
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], unit="s", utc=True)
    for col in ("ahead", "behind"):
        frame[col] = frame[col].astype("Int64")
    frame["cost_usd"] = frame["cost_usd"].astype("Float64")
    return frame.reset_index(drop=True)


def session_table(manager: ChatML, include_archived: bool = False) -> pd.DataFrame:
    """The session table of ``manager``: pinned first, then by priority, then most recent."""
    return session_frame(manager.rows(include_archived=include_archived), include_archived)
