"""Notebooks diffed as notebooks: nbdime's cell-level diff instead of a JSON line diff.

:func:`notebook_diff_text` gives what ``nbdiff`` prints (``## modified /cells/1/source:``
followed by the changed lines, outputs and cells added or removed), headed like a git diff so
a reader of a whole change set sees where each notebook starts. Text that is not a notebook
falls back to a plain unified diff. nbdime and nbformat are imported on first use: the agent
runner imports this package and must stay light.
"""

from __future__ import annotations

import difflib
import io
import json
from typing import Any

HEADER = "diff --nbdime a/{path} b/{path}"


def _empty() -> dict[str, Any]:
    return {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def parse(text: str | None) -> dict[str, Any] | None:
    """A notebook dict (nbformat 4) from JSON text; an empty notebook for None; None if not a notebook."""
    if text is None or not text.strip():
        return _empty()
    import nbformat as _nbformat

    nbformat: Any = _nbformat
    try:
        node = nbformat.reads(text, as_version=4)
    except Exception:  # nbformat raises several unrelated types for text that is not a notebook
        return None
    # A plain dict: nbdime walks it generically, and cell ids only add noise to the diff.
    data: dict[str, Any] = json.loads(json.dumps(node))
    for cell in data.get("cells", []):
        cell.pop("id", None)
    return data


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[Any]:
    import nbdime

    result: list[Any] = nbdime.diff_notebooks(old, new)
    return result


def notebook_diff_text(old: str | None, new: str | None, path: str) -> str:
    """Nbdime's text diff of two versions of a notebook (None: the file did not exist)."""
    header = HEADER.format(path=path)
    if old is None:
        header += "\nnew notebook"
    elif new is None:
        header += "\ndeleted notebook"
    a, b = parse(old), parse(new)
    if a is None or b is None:
        lines = difflib.unified_diff(
            (old or "").splitlines(), (new or "").splitlines(), f"a/{path}", f"b/{path}", lineterm=""
        )
        return header + "\n(not a valid notebook: line diff)\n" + "\n".join(lines)
    diff = _diff(a, b)
    if not diff:
        return header + "\n(no changes to cells, outputs or metadata)"
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    out = io.StringIO()
    config = PrettyPrintConfig(out=out, use_git=False, use_diff=False, use_color=False)
    pretty_print_diff(a, diff, "", config)
    return header + "\n" + out.getvalue().rstrip("\n")


def cell_changes(old: str | None, new: str | None) -> dict[str, int] | None:
    """``{"added", "removed", "modified"}`` cell counts, or None when either side is not a notebook."""
    a, b = parse(old), parse(new)
    if a is None or b is None:
        return None
    counts = {"added": 0, "removed": 0, "modified": 0}
    for entry in _diff(a, b):
        if entry.get("key") != "cells":
            continue
        for op in entry.get("diff", []):
            if op["op"] == "addrange":
                counts["added"] += len(op["valuelist"])
            elif op["op"] == "removerange":
                counts["removed"] += int(op["length"])
            elif op["op"] == "patch":
                counts["modified"] += 1
    return counts


def summary(old: str | None, new: str | None) -> str:
    """``2 cells added, 1 modified`` (what ``--stat`` adds for a notebook)."""
    counts = cell_changes(old, new)
    if counts is None:
        return "not a valid notebook"
    parts = [f"{value} {key}" for key, value in counts.items() if value]
    return ("cells: " + ", ".join(parts)) if parts else "metadata only"
