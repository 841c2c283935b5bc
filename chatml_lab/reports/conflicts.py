"""The conflict forecast as a pandas DataFrame (``ChatML.conflicts()``); pandas stays out of the core."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core.forecast import COLUMNS


def conflict_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``ChatML.conflict_rows()`` as a DataFrame indexed by ``order`` (the suggested merge order)."""
    return pd.DataFrame(rows, columns=COLUMNS).set_index("order")
