"""What ``%chatml list`` returns: the session table as HTML at once, pandas only on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..render.table_html import rows_html

if TYPE_CHECKING:
    import pandas
    from pandas.io.formats.style import Styler


class SessionTable:
    """The session table as ``%chatml list`` shows it: HTML at once, pandas only on demand."""

    def __init__(self, rows: list[dict[str, Any]], include_archived: bool = False) -> None:
        self.rows = rows
        self.include_archived = include_archived

    def _repr_html_(self) -> str:
        return rows_html(self.rows, self.include_archived)

    def to_html(self) -> str:
        """The HTML table (what the notebook displays)."""
        return self._repr_html_()

    @property
    def data(self) -> pandas.DataFrame:
        """The table as ``ChatML.table()``'s DataFrame (imports pandas)."""
        from .table import session_frame

        return session_frame(self.rows, self.include_archived)

    @property
    def styler(self) -> Styler:
        """The pandas Styler of the same table (imports pandas)."""
        from .style import style_table

        return style_table(self.data)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        from ..render.table import LIST_COLUMNS, format_rows

        return format_rows(self.rows, LIST_COLUMNS)
