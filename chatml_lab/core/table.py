"""The session table's rows, and the facade's ways to DataFrames (which the reports layer builds: pandas stays out of the core).

The core hands out plain rows (``ChatML.rows()``, ``ChatML.conflict_rows()``, review finding rows);
turning them into a DataFrame is presentation, done by :mod:`chatml_lab.reports`. ``ChatML.table()``,
``ChatML.conflicts()`` and ``Session.findings()`` stay on the facade for users, so these functions
reach up a layer, lazily: importing the core never imports pandas or the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import Priority

if TYPE_CHECKING:
    import pandas

    from .manager import ChatML


def session_rows(manager: ChatML, include_archived: bool = False) -> list[dict[str, Any]]:
    """The session table's rows as plain dicts, sorted (see :meth:`ChatML.rows`)."""
    workspaces = manager.workspaces()
    names = {ws.id: ws.name for ws in workspaces}
    records = manager.records.reconciled(include_archived, workspaces)
    states = manager.agents.session_states([rec.id for rec in records], {r.id: r.machine for r in records})
    writable = {rec.id for rec in manager.owners.writable(records)}  # one query, when others' are shown
    rows: list[dict[str, Any]] = []
    for rec in records:
        rows.append({
            "name": rec.name, "workspace": names.get(rec.workspace_id, "?"),
            "priority": rec.priority.value, "task_status": rec.task_status.value,
            "pinned": rec.pinned, "pr_status": rec.pr_status.value, "branch": rec.branch,
            "ahead": rec.ahead, "behind": rec.behind, "agent_state": states[rec.id].value,
            "cost_usd": rec.cost_usd, "updated_at": rec.updated_at, "archived": rec.archived,
            "health": rec.health, "id": rec.id, "drift_checked_at": rec.drift_checked_at,
            "pr_number": rec.pr_number, "pr_url": rec.pr_url, "machine": rec.machine or manager.config.machine,
            "owner": rec.owner, "writable": rec.id in writable,
        })  # fmt: skip
    prs = manager.store.pr_states([str(r["id"]) for r in rows])
    for row in rows:
        pr = prs[str(row["id"])]
        row.update(checks=pr.checks.value, pr_draft=pr.draft, pr_mergeable=pr.mergeable, pr_title=pr.title)
    rank = {p.value: p.rank for p in Priority}
    rows.sort(key=lambda r: (not r["pinned"], rank[str(r["priority"])], -float(r["updated_at"])))
    return rows


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
