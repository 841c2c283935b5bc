"""What the built-in agent's tools look like from outside: schemas, inputs and outcomes.

:data:`TOOL_DEFINITIONS` is what the Messages API is sent (Claude Code's names and input
schemas); :class:`ToolOutcome` is what a call gives back and :class:`ToolError` a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OUTPUT_LIMIT = 30_000

#: Tools that change the worktree's files.
EDIT_TOOLS = frozenset({"Write", "Edit"})
#: Tools that run commands.
EXEC_TOOLS = frozenset({"Bash"})
#: Tools that only look.
READ_ONLY_TOOLS = frozenset({"Read", "Glob", "Grep"})

_PATH = {"type": "string", "description": "Path relative to the worktree, or absolute inside it"}

#: Anthropic tool definitions (``tools=`` of ``messages.create``).
TOOL_DEFINITIONS: list[dict[str, Any]] = [
    {
        "name": "Read",
        "description": (
            "Read a text file from the worktree. Output has line numbers (cat -n style). "
            "Use offset (1-based line) and limit for long files."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "file_path": _PATH,
                "offset": {"type": "integer", "description": "First line to read (1-based)"},
                "limit": {"type": "integer", "description": "Number of lines to read"},
            },
            "required": ["file_path"],
        },
    },
    {
        "name": "Write",
        "description": "Create or overwrite a file in the worktree with the given content.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": _PATH, "content": {"type": "string"}},
            "required": ["file_path", "content"],
        },
    },
    {
        "name": "Edit",
        "description": (
            "Replace old_string with new_string in a file. old_string must occur exactly once "
            "unless replace_all is true; include surrounding lines to make it unique."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "file_path": _PATH,
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
                "replace_all": {"type": "boolean", "default": False},
            },
            "required": ["file_path", "old_string", "new_string"],
        },
    },
    {
        "name": "Glob",
        "description": "Find files by glob pattern (e.g. '**/*.py'), newest first.",
        "input_schema": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "description": "Directory to search (default: the worktree)"},
            },
            "required": ["pattern"],
        },
    },
    {
        "name": "Grep",
        "description": (
            "Search file contents with a regular expression (Python syntax). output_mode: "
            "'files_with_matches' (default), 'content' (path:line:text) or 'count'."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "description": "File or directory (default: the worktree)"},
                "glob": {"type": "string", "description": "Only files matching this glob, e.g. '*.py'"},
                "output_mode": {"type": "string", "enum": ["files_with_matches", "content", "count"]},
                "-i": {"type": "boolean", "description": "Case-insensitive"},
            },
            "required": ["pattern"],
        },
    },
    {
        "name": "Bash",
        "description": (
            "Run a bash command with the worktree as the current directory. Writes outside the "
            "worktree fail where the sandbox is active. timeout is in milliseconds (max 600000)."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string"},
                "timeout": {"type": "integer", "description": "Timeout in milliseconds"},
                "description": {"type": "string", "description": "What the command does, in a few words"},
            },
            "required": ["command"],
        },
    },
]


@dataclass(frozen=True)
class ToolOutcome:
    """The result of one tool call: ``ok`` is False for refusals and failures."""

    ok: bool
    output: str


class ToolError(Exception):
    """A tool call the agent must fix (bad input, refused path): becomes a tool error result.

    It never leaves :meth:`chatml_lab.agents.tools.ToolRunner.run`, so it stays out of the public exception tree.
    """


def cap_output(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the head and tail of long output, with a note saying how much was dropped."""
    if len(text) <= limit:
        return text
    half = limit // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n\n[... {dropped} characters omitted ...]\n\n{text[-half:]}"


def string_arg(data: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    """``data[key]`` as a string (None when absent and not ``required``), else :class:`ToolError`."""
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ToolError(f"{key} must be a string")
    return value


def integer_arg(data: Mapping[str, Any], key: str) -> int | None:
    """``data[key]`` as an integer (None when absent), else :class:`ToolError`."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"{key} must be an integer")
    return value
