"""The review tools, with ChatML's names and inputs (its ``mcp__chatml__*`` comment tools).

- ``get_workspace_diff {file_path?, stat?}``: the session's changes against the merge-base with
  ``origin/<default>``, uncommitted and untracked work included; notebooks diffed cell by cell.
- ``add_review_comment {file_path, line_number, title, content, severity}``: file a finding.
- ``list_review_comments {}``, ``resolve_review_comment {id, resolution}`` (``fixed|ignored``),
  ``get_review_comment_stats {}``, ``submit_review_scorecard {scores, summary}`` (0-10 each).

Findings live in the store (``findings`` table), numbered ``F1``, ``F2``... per session. These tools
only read the worktree and write rows: they are allowed in plan mode, like ChatML's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ChatMLError
from ..gitops.workdiff import workspace_diff
from ..models import Finding, FindingStatus, Severity
from ..storage.store import Store
from .tools import ToolError, ToolOutcome, cap_output

MAX_TITLE = 120
MAX_SCORE = 10

_SEVERITIES = [s.value for s in Severity]

#: Anthropic tool definitions of the review tools, by name.
REVIEW_TOOL_DEFINITIONS: dict[str, dict[str, Any]] = {
    "get_workspace_diff": {
        "name": "get_workspace_diff",
        "description": (
            "The session's changes against the merge-base with origin's default branch, including "
            "uncommitted and untracked files. Notebooks (.ipynb) are diffed cell by cell. Call it "
            "first with stat=true for the list of files, then once per file with file_path."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Only this file or directory"},
                "stat": {"type": "boolean", "description": "A summary of files and line counts only"},
            },
        },
    },
    "add_review_comment": {
        "name": "add_review_comment",
        "description": (
            "File one review finding on a line of the diff. One issue per comment; do not repeat "
            "an existing comment (see list_review_comments). content is markdown: what is wrong, "
            "why it matters, and the fix."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Path relative to the worktree"},
                "line_number": {"type": "integer", "description": "1-based line in the new version"},
                "title": {"type": "string", "description": "Under 60 characters"},
                "content": {"type": "string", "description": "Markdown body"},
                "severity": {"type": "string", "enum": _SEVERITIES},
            },
            "required": ["file_path", "line_number", "title", "content", "severity"],
        },
    },
    "list_review_comments": {
        "name": "list_review_comments",
        "description": "Every review comment of this session with its id (F1, F2...), status and place.",
        "input_schema": {"type": "object", "properties": {}},
    },
    "resolve_review_comment": {
        "name": "resolve_review_comment",
        "description": (
            "Mark a review comment resolved: 'fixed' once the code is changed, 'ignored' when it "
            "will not be changed (say why in note)."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "The comment's id, e.g. F2"},
                "resolution": {"type": "string", "enum": ["fixed", "ignored"]},
                "note": {"type": "string", "description": "How it was fixed, or why it is ignored"},
            },
            "required": ["id", "resolution"],
        },
    },
    "get_review_comment_stats": {
        "name": "get_review_comment_stats",
        "description": "Counts of this session's review comments by status and by severity.",
        "input_schema": {"type": "object", "properties": {}},
    },
    "submit_review_scorecard": {
        "name": "submit_review_scorecard",
        "description": "Finish a review with a score from 0 to 10 per dimension and a short summary.",
        "input_schema": {
            "type": "object",
            "properties": {
                "scores": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "dimension": {"type": "string"},
                            "score": {"type": "number", "minimum": 0, "maximum": MAX_SCORE},
                            "notes": {"type": "string"},
                        },
                        "required": ["dimension", "score"],
                    },
                },
                "summary": {"type": "string"},
            },
            "required": ["scores", "summary"],
        },
    },
}

#: The tools a task conversation gets to act on findings (it resolves what it fixed).
FIXER_TOOLS = ("list_review_comments", "resolve_review_comment")


def finding_line(finding: Finding) -> str:
    """``F2 [warning] app.py:12 Title (open)``: one finding on one line."""
    place = finding.file_path + (f":{finding.line_number}" if finding.line_number else "")
    return f"{finding.id} [{finding.severity.value}] {place} {finding.title} ({finding.status.value})"


def _text(data: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ToolError(f"{key} must be a non-empty string")
    return value.strip()


class ReviewTools:
    """Run the review tools for one conversation of one session."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        conversation_id: str,
        worktree: Path,
        upstream: str | None,
        base_commit: str,
        review_kind: str = "review",
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.conversation_id = conversation_id
        self.worktree = Path(worktree)
        self.upstream = upstream
        self.base_commit = base_commit
        self.review_kind = review_kind

    def run(self, name: str, tool_input: Mapping[str, Any]) -> ToolOutcome:
        """Run review tool ``name``; bad input comes back as ``ok=False`` with the reason."""
        handler = {
            "get_workspace_diff": self._diff,
            "add_review_comment": self._add,
            "list_review_comments": self._list,
            "resolve_review_comment": self._resolve,
            "get_review_comment_stats": self._stats,
            "submit_review_scorecard": self._scorecard,
        }.get(name)
        try:
            if handler is None:
                raise ToolError(f"unknown review tool {name!r}")
            if not isinstance(tool_input, Mapping):
                raise ToolError("tool input must be a JSON object")
            return ToolOutcome(True, cap_output(handler(tool_input)))
        except ToolError as exc:
            return ToolOutcome(False, f"Error: {exc}")
        except ChatMLError as exc:
            return ToolOutcome(False, f"Error: {exc}")

    # -- the diff -------------------------------------------------------------------------------

    def _relative(self, raw: str) -> str:
        path = Path(raw)
        if path.is_absolute():
            try:
                path = path.relative_to(self.worktree)
            except ValueError:
                try:
                    path = path.relative_to(self.worktree.resolve())
                except ValueError:
                    raise ToolError(f"{raw} is outside the worktree {self.worktree}") from None
        if ".." in path.parts or raw.startswith("~"):
            raise ToolError(f"{raw}: use a path inside the worktree, without '..' or '~'")
        return path.as_posix()

    def _diff(self, data: Mapping[str, Any]) -> str:
        file_path = _text(data, "file_path", required=False)
        stat = bool(data.get("stat"))
        found = workspace_diff(
            self.worktree,
            self.upstream,
            self.base_commit,
            file_path=self._relative(file_path) if file_path else None,
            stat=stat,
        )
        against = found.upstream or "the session's base commit"
        head = f"Changes against the merge-base {found.base[:10]} with {against}"
        if not found.files:
            return f"{head}: no changes" + (f" in {file_path}" if file_path else "")
        listing = f"{len(found.files)} file{'s' if len(found.files) != 1 else ''} changed"
        return f"{head} ({listing}):\n\n{found.text}"

    # -- comments -------------------------------------------------------------------------------

    def _add(self, data: Mapping[str, Any]) -> str:
        file_path = self._relative(_text(data, "file_path"))
        line = data.get("line_number")
        if isinstance(line, bool) or not isinstance(line, int) or line < 0:
            raise ToolError("line_number must be a whole number (1-based; 0 for the whole file)")
        title = _text(data, "title")
        if len(title) > MAX_TITLE:
            raise ToolError(f"title is {len(title)} characters: keep it under 60")
        content = _text(data, "content")
        raw_severity = str(data.get("severity", ""))
        if raw_severity not in _SEVERITIES:
            raise ToolError(f"severity must be one of {', '.join(_SEVERITIES)}")
        for other in self.store.findings(self.session_id, status=FindingStatus.OPEN):
            if (other.file_path, other.line_number, other.title.lower()) == (file_path, line, title.lower()):
                raise ToolError(f"this repeats {other.id}: not filed again")
        finding = self.store.add_finding(
            self.session_id, self.conversation_id, file_path, line or None, title, content,
            Severity(raw_severity),
        )  # fmt: skip
        return f"Added {finding_line(finding)}"

    def _list(self, _data: Mapping[str, Any]) -> str:
        found = self.store.findings(self.session_id)
        if not found:
            return "No review comments yet."
        return "\n".join(finding_line(f) for f in found)

    def _resolve(self, data: Mapping[str, Any]) -> str:
        raw_id = data.get("id")
        if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
            raise ToolError("id must be a comment id such as F2")
        resolution = str(data.get("resolution", ""))
        if resolution not in (FindingStatus.FIXED.value, FindingStatus.IGNORED.value):
            raise ToolError("resolution must be fixed or ignored")
        note = _text(data, "note", required=False) or None
        if self.store.finding(self.session_id, raw_id) is None:
            known = ", ".join(f.id for f in self.store.findings(self.session_id)) or "none yet"
            raise ToolError(f"no review comment {raw_id!r} in this session (known: {known})")
        finding = self.store.resolve_finding(
            self.session_id, raw_id, FindingStatus(resolution), note, self.conversation_id
        )
        assert finding is not None
        return f"Resolved {finding_line(finding)}"

    def _stats(self, _data: Mapping[str, Any]) -> str:
        counts = self.store.finding_counts(self.session_id)
        total = sum(counts["status"].values())
        status = ", ".join(f"{n} {k}" for k, n in counts["status"].items())
        open_by = ", ".join(f"{n} {k}" for k, n in counts["open_by_severity"].items() if n) or "none"
        return f"{total} review comment{'s' if total != 1 else ''}: {status}. Open by severity: {open_by}."

    def _scorecard(self, data: Mapping[str, Any]) -> str:
        scores = data.get("scores")
        if not isinstance(scores, list) or not scores:
            raise ToolError("scores must be a non-empty list of {dimension, score, notes?}")
        clean: list[dict[str, Any]] = []
        for item in scores:
            if not isinstance(item, Mapping):
                raise ToolError("each score must be an object {dimension, score, notes?}")
            dimension = _text(item, "dimension")
            value = item.get("score")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ToolError(f"the score of {dimension!r} must be a number from 0 to {MAX_SCORE}")
            if not 0 <= value <= MAX_SCORE:
                raise ToolError(f"the score of {dimension!r} is {value}: use 0 to {MAX_SCORE}")
            entry: dict[str, Any] = {"dimension": dimension, "score": value, "max_score": MAX_SCORE}
            notes = _text(item, "notes", required=False)
            if notes:
                entry["notes"] = notes
            clean.append(entry)
        summary = _text(data, "summary")
        card = self.store.add_scorecard(
            self.session_id, self.conversation_id, self.review_kind, clean, summary
        )
        listed = ", ".join(f"{s['dimension']} {s['score']:g}/{MAX_SCORE}" for s in card.scores)
        return f"Scorecard saved: {listed}."
