"""The facade's ways to DataFrames, which the reports layer builds (pandas stays out of the core).

The core hands out plain rows (``ChatML.rows()``, ``ChatML.conflict_rows()``, review finding rows);
turning them into a DataFrame is presentation, done by :mod:`chatml_lab.reports`. ``ChatML.table()``,
``ChatML.conflicts()`` and ``Session.findings()`` stay on the facade for users, so these functions
reach up a layer, lazily: importing the core never imports pandas or the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

    from .manager import ChatML


def session_table(manager: ChatML, include_archived: bool = False) -> pandas.DataFrame:
    """The session table as a DataFrame (see :func:`chatml_lab.reports.table.session_table`)."""
    from ..reports.table import session_table as build

    return build(manager, include_archived=include_archived)


def conflict_table(rows: list[dict[str, Any]]) -> pandas.DataFrame:
    """The conflict forecast's rows as a DataFrame (see :func:`chatml_lab.reports.conflicts.conflict_frame`)."""
    from ..reports.conflicts import conflict_frame

    return conflict_frame(rows)


def findings_table(manager: ChatML, session_id: str, status: str | None = None) -> pandas.DataFrame:
    """A session's review findings as a DataFrame (see :func:`chatml_lab.reports.findings.findings_frame`)."""
    from ..reports.findings import findings_frame
    from .review import finding_rows

    return findings_frame(finding_rows(manager, session_id, status))
