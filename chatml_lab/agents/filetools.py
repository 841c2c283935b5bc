"""The file tools: ``Read``, ``Write``, ``Edit``, ``Glob`` and ``Grep``, confined to one worktree.

Inputs follow Claude Code's schemas (:mod:`.toolspec`); every path goes through
:class:`~chatml_lab.agents.paths.Confinement` first.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wcmatch import glob as wcglob

from .paths import Confinement
from .toolspec import ToolError, integer_arg, string_arg

READ_LINE_LIMIT = 2_000
LINE_CHAR_LIMIT = 2_000
_MAX_RESULTS = 500
_GREP_FILE_BYTES = 2_000_000
#: Claude Code's globs: ``**`` spans directories, ``*`` and ``?`` never cross ``/``, braces
#: expand, dotfiles match, and matching is case-sensitive on every platform.
_GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.DOTGLOB | wcglob.FORCEUNIX


def _text_lines(path: Path) -> list[str]:
    """The lines of a text file; nothing for binary, huge or unreadable files."""
    try:
        if path.stat().st_size > _GREP_FILE_BYTES:
            return []
        raw = path.read_bytes()
    except OSError:
        return []
    return [] if b"\0" in raw[:8192] else raw.decode("utf-8", "replace").splitlines()


class FileTools:
    """Run the file tools inside one :class:`~chatml_lab.agents.paths.Confinement`."""

    def __init__(self, paths: Confinement) -> None:
        self.paths = paths

    def handler(self, name: str) -> Callable[[Mapping[str, Any]], str] | None:
        """The function that runs file tool ``name`` (None when it is not a file tool)."""
        return {
            "Read": self.read,
            "Write": self.write,
            "Edit": self.edit,
            "Glob": self.glob,
            "Grep": self.grep,
        }.get(name)

    def read(self, data: Mapping[str, Any]) -> str:
        """``Read {file_path, offset?, limit?}``: numbered lines, ``cat -n`` style."""
        shown = self.paths.shown
        path = self.paths.resolve(string_arg(data, "file_path") or "")
        if path.is_dir():
            raise ToolError(f"{shown(path)} is a directory: use Glob to list it")
        if not path.exists():
            raise ToolError(f"{shown(path)} does not exist")
        raw = path.read_bytes()
        if b"\0" in raw[:8192]:
            return f"{shown(path)} is a binary file ({len(raw)} bytes)"
        lines = raw.decode("utf-8", errors="replace").splitlines()
        offset = max(1, integer_arg(data, "offset") or 1)
        limit = max(1, integer_arg(data, "limit") or READ_LINE_LIMIT)
        chosen = lines[offset - 1 : offset - 1 + limit]
        if not chosen:
            return f"{shown(path)} has {len(lines)} lines; nothing at offset {offset}"
        numbered = [f"{n:>6}\t{line[:LINE_CHAR_LIMIT]}" for n, line in enumerate(chosen, start=offset)]
        rest = len(lines) - (offset - 1 + len(chosen))
        if rest > 0:
            numbered.append(f"[{rest} more lines: read on with offset={offset + len(chosen)}]")
        return "\n".join(numbered)

    def write(self, data: Mapping[str, Any]) -> str:
        """``Write {file_path, content}``: create or overwrite a file."""
        path = self.paths.resolve(string_arg(data, "file_path") or "", write=True)
        content = string_arg(data, "content") or ""
        if path.is_dir():
            raise ToolError(f"{self.paths.shown(path)} is a directory")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        verb = "Overwrote" if existed else "Created"
        return f"{verb} {self.paths.shown(path)} ({len(content.encode())} bytes)"

    def edit(self, data: Mapping[str, Any]) -> str:
        """``Edit {file_path, old_string, new_string, replace_all?}``: an exact replacement."""
        shown = self.paths.shown
        path = self.paths.resolve(string_arg(data, "file_path") or "", write=True)
        old = string_arg(data, "old_string") or ""
        new = string_arg(data, "new_string") or ""
        if not path.is_file():
            raise ToolError(f"{shown(path)} does not exist: use Write to create it")
        if old == new:
            raise ToolError("old_string and new_string are the same: nothing to change")
        if not old:
            raise ToolError("old_string is empty: use Write to replace a whole file")
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count == 0:
            raise ToolError(f"old_string was not found in {shown(path)}")
        if count > 1 and not data.get("replace_all"):
            raise ToolError(
                f"old_string occurs {count} times: add context to make it unique or set replace_all"
            )
        path.write_text(text.replace(old, new), encoding="utf-8")
        return f"Edited {shown(path)}: {count} replacement{'s' if count > 1 else ''}"

    def glob(self, data: Mapping[str, Any]) -> str:
        """``Glob {pattern, path?}``: matching files, newest first."""
        pattern = string_arg(data, "pattern") or ""
        if not pattern or pattern.startswith(("/", "~")) or ".." in pattern.split("/"):
            raise ToolError("pattern must be relative to the search directory, without '..'")
        base = self.paths.resolve(string_arg(data, "path", required=False) or ".")
        if not base.is_dir():
            raise ToolError(f"{self.paths.shown(base)} is not a directory")
        try:
            matcher = wcglob.compile(pattern.strip("/"), flags=_GLOB_FLAGS)
        except Exception as exc:  # wcmatch's pattern errors (e.g. too many brace expansions)
            raise ToolError(f"bad glob pattern {pattern!r}: {exc}") from None
        found = [p for p in self.paths.walk(base) if matcher.match(p.relative_to(base).as_posix())]
        if not found:
            return "No files found"
        found.sort(key=lambda p: (-p.stat().st_mtime, str(p)))
        lines = [self.paths.shown(p) for p in found[:_MAX_RESULTS]]
        if len(found) > _MAX_RESULTS:
            lines.append(f"[{len(found) - _MAX_RESULTS} more: narrow the pattern]")
        return "\n".join(lines)

    def grep(self, data: Mapping[str, Any]) -> str:
        """``Grep {pattern, path?, glob?, output_mode?, -i?}``: a regex search over files."""
        flags = re.IGNORECASE if data.get("-i") else 0
        try:
            regex = re.compile(string_arg(data, "pattern") or "", flags)
        except re.error as exc:
            raise ToolError(f"bad regular expression: {exc}") from None
        mode = data.get("output_mode") or "files_with_matches"
        if mode not in ("files_with_matches", "content", "count"):
            raise ToolError("output_mode must be files_with_matches, content or count")
        name_glob = string_arg(data, "glob", required=False)
        base = self.paths.resolve(string_arg(data, "path", required=False) or ".")
        out: list[str] = []
        for path in [base] if base.is_file() else self.paths.walk(base):
            shown = self.paths.shown(path)
            if name_glob and not (fnmatch.fnmatch(path.name, name_glob) or fnmatch.fnmatch(shown, name_glob)):
                continue
            lines = _text_lines(path)
            hits = [(n, line) for n, line in enumerate(lines, 1) if regex.search(line)]
            if not hits:
                continue
            if mode == "files_with_matches":
                out.append(shown)
            elif mode == "count":
                out.append(f"{shown}:{len(hits)}")
            else:
                out.extend(f"{shown}:{n}:{line[:LINE_CHAR_LIMIT]}" for n, line in hits)
            if len(out) >= _MAX_RESULTS:
                out.append("[result limit reached: narrow the pattern or path]")
                break
        return "\n".join(out) if out else "No matches found"
