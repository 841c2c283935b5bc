"""Tool calls in words and diffs: ``Edit app.py (+2 -1)``, the unified diff of an ``Edit`` or a ``Write``."""

from __future__ import annotations

import difflib
import json
from typing import Any

from . import review


def one_line(value: object, limit: int = 80) -> str:
    """``value`` (text, or anything JSON can show) on one line of at most ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def tool_summary(tool: str, tool_input: dict[str, Any]) -> str:
    """One line saying what a tool call does (``Edit app.py (+2 -1)``, ``Bash: pytest -q``)."""
    special = review.summary(tool, tool_input)  # review tools, RunNotebook, a notebook Write
    if special is not None:
        return special
    path = str(tool_input.get("file_path") or tool_input.get("path") or "")
    if tool in ("Edit", "MultiEdit"):
        added, removed = _diff_counts(edit_diff(tool_input))
        return f"{tool} {path} (+{added} \N{MINUS SIGN}{removed})"
    if tool == "Write":
        lines = len(str(tool_input.get("content", "")).splitlines())
        return f"Write {path} ({lines} line{'s' if lines != 1 else ''})"
    if tool == "Read":
        return f"Read {path}"
    if tool == "Bash":
        return f"Bash: {one_line(str(tool_input.get('command', '')), 120)}"
    if tool in ("Grep", "Glob"):
        where = f" in {tool_input['path']}" if tool_input.get("path") else ""
        return f"{tool} {tool_input.get('pattern', '')}{where}"
    return f"{tool} {one_line(json.dumps(tool_input, default=str), 120)}"


def edit_diff(tool_input: dict[str, Any]) -> str:
    """A unified diff of an ``Edit`` (old_string → new_string) or ``MultiEdit``; ``""`` for other input."""
    path = str(tool_input.get("file_path", "file"))
    edits = tool_input.get("edits")
    pairs: list[tuple[str, str]] = []
    if isinstance(edits, list):
        pairs = [
            (str(e.get("old_string", "")), str(e.get("new_string", ""))) for e in edits if isinstance(e, dict)
        ]
    elif "old_string" in tool_input or "new_string" in tool_input:
        pairs = [(str(tool_input.get("old_string", "")), str(tool_input.get("new_string", "")))]
    chunks: list[str] = []
    for old, new in pairs:
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"a/{path}",
            f"b/{path}",
            lineterm="\n",
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in diff))
    return "".join(chunks)


def write_diff(tool_input: dict[str, Any]) -> str:
    """A ``Write`` shown as a diff that adds every line of the new content."""
    path = str(tool_input.get("file_path", "file"))
    content = str(tool_input.get("content", "")).splitlines(keepends=True)
    diff = difflib.unified_diff([], content, "/dev/null", f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


def _diff_counts(diff: str) -> tuple[int, int]:
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return added, removed
