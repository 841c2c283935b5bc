"""Which tools a conversation gets, beyond the six file/shell tools of :mod:`chatml_lab.agents.tools`.

- ``task`` and ``chat`` conversations: every base tool, ``RunNotebook``, and the two review tools
  a fixer needs (``list_review_comments``, ``resolve_review_comment``);
- ``review`` conversations: the read-only base tools (``Read``, ``Glob``, ``Grep``) and all six
  review tools; they run in plan mode, so nothing in the worktree changes.

:class:`Toolset` is what the agent loop asks: the definitions to send, whether it handles a
name, and to run it. ``RunNotebook`` runs code, so it is approved like ``Bash``
(:data:`APPROVED_LIKE_BASH`); the review tools only write findings and are always allowed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import notebook_tool
from .review_tools import FIXER_TOOLS, REVIEW_TOOL_DEFINITIONS, ReviewTools
from .tools import READ_ONLY_TOOLS, TOOL_DEFINITIONS, ToolOutcome, ToolRunner

if TYPE_CHECKING:
    from .backend import AgentContext

#: Extra tools that run code: asked for like Bash, refused in plan mode.
APPROVED_LIKE_BASH = frozenset({notebook_tool.NAME})


class Toolset:
    """The tools of one conversation, by its kind."""

    def __init__(self, ctx: AgentContext, tools: ToolRunner) -> None:
        self.kind = ctx.conversation_kind
        self.is_review = self.kind == "review"
        self._notebook = notebook_tool.NotebookTool(tools)
        self._review: ReviewTools | None = None
        if ctx.store is not None and ctx.session_id:
            self._review = ReviewTools(
                ctx.store, ctx.session_id, ctx.conversation_id, ctx.worktree, ctx.upstream,
                ctx.base_commit or "HEAD", str(ctx.options.get("review_kind") or "review"),
            )  # fmt: skip
        self.instructions = ctx.instructions

    def _extra_names(self) -> list[str]:
        if self._review is None:
            return [] if self.is_review else [notebook_tool.NAME]
        if self.is_review:
            return list(REVIEW_TOOL_DEFINITIONS)
        return [notebook_tool.NAME, *FIXER_TOOLS]

    def definitions(self) -> list[dict[str, Any]]:
        """The ``tools=`` list of a request."""
        base = [d for d in TOOL_DEFINITIONS if not self.is_review or d["name"] in READ_ONLY_TOOLS]
        extra = [
            notebook_tool.DEFINITION if name == notebook_tool.NAME else REVIEW_TOOL_DEFINITIONS[name]
            for name in self._extra_names()
        ]
        return [*base, *extra]

    def handles(self, name: str) -> bool:
        """True for the extra tools this conversation has."""
        return name in self._extra_names()

    def run(self, name: str, tool_input: Any, cancelled: threading.Event | None = None) -> ToolOutcome:
        """Run one of the extra tools."""
        if not isinstance(tool_input, Mapping):
            return ToolOutcome(False, "Error: tool input must be a JSON object")
        if name == notebook_tool.NAME:
            return self._notebook.run(tool_input, cancelled)
        assert self._review is not None
        return self._review.run(name, tool_input)

    def system_prompt(self) -> str:
        """What this conversation adds to the system prompt (a review's instructions)."""
        lines = []
        if self.is_review:
            lines.append(
                "This is a REVIEW conversation: read the session's changes and file findings with "
                "add_review_comment; never edit files."
            )
        elif self._review is not None:
            lines.append(
                "Review findings of this session have ids F1, F2...: after fixing one, call "
                "resolve_review_comment with resolution 'fixed' (or 'ignored' with a note saying why)."
            )
        if self.instructions:
            lines += ["", self.instructions]
        return "\n".join(lines)
