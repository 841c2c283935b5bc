"""``ChatML.table()``'s way to the DataFrame, which the reports layer builds (pandas stays out of the core).

The core hands out plain rows (``ChatML.rows()``); turning them into a DataFrame is presentation,
done by :mod:`chatml_lab.reports.table`. ``ChatML.table()`` stays on the facade for users, so this
one function reaches up a layer, lazily: importing the core never imports pandas or the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas

    from .manager import ChatML


def session_table(manager: ChatML, include_archived: bool = False) -> pandas.DataFrame:
    """The session table as a DataFrame (see :func:`chatml_lab.reports.table.session_table`)."""
    from ..reports.table import session_table as build

    return build(manager, include_archived=include_archived)
