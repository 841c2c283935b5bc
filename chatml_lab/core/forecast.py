"""Conflict forecast (no peer tool has it): who merges cleanly, who conflicts, and a merge order.

Which sessions merge cleanly into the default branch, which conflict with each other, on which
files, and an order to merge them in.

Everything is computed in memory by one ``git merge-tree --stdin`` per repository: no worktree,
index or ref is touched. A session's uncommitted work counts too (a commit of its worktree, made
with a scratch index, stands in for the branch tip), since agents often have not committed yet.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from typing import Any

from ..gitops.integration import merge_forecasts, worktree_commit
from ..gitops.repo import GitRepo
from ..models import PRStatus
from ..storage.store import Store
from .workspaces import Workspaces
from .worktrees import read_head

COLUMNS = ["order", "session", "workspace", "branch", "clean_with_main", "main_conflicts",
           "conflicts_with", "conflict_files", "uncommitted", "checked_at"]  # fmt: skip


def conflict_rows(
    store: Store,
    workspaces: Workspaces,
    progress: Callable[[str], None],
    workspace: str | None = None,
    include_uncommitted: bool = True,
    fetch: bool = True,
) -> list[dict[str, Any]]:
    """One row per live, unmerged session (see :data:`COLUMNS`), in the suggested merge order.

    ``fetch`` first updates ``origin/<default>`` (a failed fetch is a warning: local refs are used).
    """
    chosen = [workspaces.get(workspace)] if workspace is not None else workspaces.here()
    rows: list[dict[str, Any]] = []
    for ws in chosen:
        # A merged session's work is in main already (squashed, so not by ancestry): leave it out.
        records = [r for r in store.sessions(include_archived=False, workspace_id=ws.id)
                   if read_head(r.worktree_path) is not None and r.pr_status is not PRStatus.MERGED]  # fmt: skip
        if not records:
            continue
        repo = GitRepo(ws.path)
        error = workspaces.fetch(repo, ws, force=True) if fetch else None
        if error:
            progress(f"warning: fetch of {ws.remote} failed, forecasting against local refs ({error})")
        main = workspaces.upstream(repo, ws)
        main_sha = repo.require(main)
        listed = repo.run("for-each-ref", "--format=%(refname) %(objectname) %(tree)", "refs/heads/")
        heads: dict[str, str] = {}
        trees: dict[str, str] = {}
        for line in listed.splitlines():
            name, sha, tree = line.split(" ")
            heads[name], trees[name] = sha, tree
        tips: dict[str, str] = {}
        dirty: dict[str, bool] = {}
        live = [r for r in records if f"refs/heads/{r.branch}" in heads]
        snapshots: list[str | None] = [None] * len(live)
        if include_uncommitted and live:
            # Independent scratch indexes: the worktrees are read in parallel.
            args = [(r.worktree_path, trees[f"refs/heads/{r.branch}"]) for r in live]
            with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 2, 4, len(live))) as pool:
                snapshots = list(pool.map(worktree_commit, *zip(*args, strict=True)))
        for rec, snapshot in zip(live, snapshots, strict=True):
            tips[rec.id], dirty[rec.id] = snapshot or heads[f"refs/heads/{rec.branch}"], snapshot is not None
        ids = [r.id for r in records if r.id in tips]
        pairs = [(main_sha, tips[i]) for i in ids] + [(tips[a], tips[b]) for a, b in combinations(ids, 2)]
        results = merge_forecasts(repo, pairs)
        with_main = dict(zip(ids, results[: len(ids)], strict=True))
        between: dict[str, dict[str, list[str]]] = {i: {} for i in ids}
        names = {r.id: r.name for r in records}
        for (a, b), result in zip(combinations(ids, 2), results[len(ids) :], strict=True):
            if not result.clean:
                between[a][names[b]] = result.files
                between[b][names[a]] = result.files
        now = time.time()
        for rec in records:
            if rec.id not in tips:
                continue
            forecast = with_main[rec.id]
            rows.append({
                "session": rec.name, "workspace": ws.name, "branch": rec.branch,
                "clean_with_main": forecast.clean, "main_conflicts": forecast.files,
                "conflicts_with": sorted(between[rec.id]), "conflict_files": between[rec.id],
                "uncommitted": dirty[rec.id], "checked_at": now, "_main": main,
            })  # fmt: skip
    return _ordered(rows)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the suggested merge order, numbered.

    Clean with main and conflicting with nobody first; then, greedily, whoever conflicts with the
    fewest sessions still unmerged; sessions that conflict with main last (they need an update first).
    """
    remaining = [r for r in rows if r["clean_with_main"]]
    blocked = sorted(
        (r for r in rows if not r["clean_with_main"]), key=lambda r: (r["workspace"], r["session"])
    )
    ordered: list[dict[str, Any]] = []
    while remaining:
        left = {(r["workspace"], r["session"]) for r in remaining}

        def weight(row: dict[str, Any], left: set[tuple[str, str]] = left) -> tuple[int, str, str]:
            live = sum((row["workspace"], other) in left for other in row["conflicts_with"])
            return live, row["workspace"], row["session"]

        best = min(remaining, key=weight)
        ordered.append(best)
        remaining.remove(best)
    for n, row in enumerate([*ordered, *blocked], start=1):
        row["order"] = n
        row.pop("_main", None)
    return [{key: row[key] for key in COLUMNS} for row in [*ordered, *blocked]]
