"""The built-in agent's tools, with Claude Code's names and input schemas.

``Read``, ``Write``, ``Edit``, ``Glob``, ``Grep`` and ``Bash`` take the inputs Claude Code's tools
take, so scripts and habits carry over between the ``anthropic`` and ``claude-code`` backends.
:data:`TOOL_DEFINITIONS` is what the Messages API is sent; :class:`ToolRunner` executes a call.

Confinement:

- File tools only touch the session's worktree. A path is refused, with a tool error and nothing
  written, when it starts with ``~``, has a ``..`` component, is absolute but outside the worktree,
  or resolves outside it through a symlink (a file or any parent directory). Writes into ``.git``
  are refused too: the worktree's ``.git`` file and the repository's git directory belong to git.
- ``Bash`` runs with cwd = the worktree, confined by :class:`~chatml_lab.agents.sandbox.Sandbox`:
  under bubblewrap (where :func:`sandbox_available`) it may write only the worktree, its private
  ``/tmp`` and what a commit on the session's own branch needs; its environment never holds
  credentials. Without bubblewrap it runs as a plain ``bash -c`` and confinement is only advisory.
  :meth:`ToolRunner.is_sandboxed` tells the UI which mode is active.
- A Bash timeout or an interrupt kills the whole process group; output is capped at
  :data:`OUTPUT_LIMIT` characters with a note saying how much was left out.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sandbox import Sandbox, SandboxPolicy, sandbox_available

__all__ = ["TOOL_DEFINITIONS", "ToolOutcome", "ToolRunner", "sandbox_available"]

OUTPUT_LIMIT = 30_000
READ_LINE_LIMIT = 2_000
LINE_CHAR_LIMIT = 2_000
MAX_BASH_TIMEOUT_MS = 600_000
_MAX_RESULTS = 500
_GREP_FILE_BYTES = 2_000_000

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

    It never leaves :meth:`ToolRunner.run`, so it stays out of the public exception tree.
    """


def cap_output(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the head and tail of long output, with a note saying how much was dropped."""
    if len(text) <= limit:
        return text
    half = limit // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n\n[... {dropped} characters omitted ...]\n\n{text[-half:]}"


def _string(data: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ToolError(f"{key} must be a string")
    return value


def _integer(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"{key} must be an integer")
    return value


def _expand_braces(pattern: str) -> list[str]:
    """``src/{a,b}/*.py`` -> ``src/a/*.py``, ``src/b/*.py`` (Claude Code's globs allow braces)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [p for option in match.group(1).split(",") for p in _expand_braces(head + option + tail)]


def _segment_regex(segment: str) -> str:
    """One path component of a glob: ``*`` and ``?`` never cross ``/``; ``[...]`` classes kept."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        end = segment.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif end > 0:
            body = segment[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a ``/``-separated glob where ``**`` spans directories and ``*`` does not."""
    out: list[str] = []
    segments = pattern.strip("/").split("/")
    for number, segment in enumerate(segments):
        last = number == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(out))


def _text_lines(path: Path) -> list[str]:
    """The lines of a text file; nothing for binary, huge or unreadable files."""
    try:
        if path.stat().st_size > _GREP_FILE_BYTES:
            return []
        raw = path.read_bytes()
    except OSError:
        return []
    return [] if b"\0" in raw[:8192] else raw.decode("utf-8", "replace").splitlines()


class ToolRunner:
    """Execute tool calls inside one worktree.

    ``sandbox=None`` uses bubblewrap when :func:`sandbox_available`; ``False`` never does.
    ``branch`` is the session's branch (the only one Bash may move; default: the checked-out one)
    and ``policy`` the sandbox settings (network, environment allowlist).
    """

    def __init__(
        self,
        worktree: Path,
        git_common_dir: Path,
        env: Mapping[str, str] | None = None,
        bash_timeout: float = 120.0,
        sandbox: bool | None = None,
        branch: str | None = None,
        policy: SandboxPolicy | None = None,
    ) -> None:
        self.worktree = Path(os.path.abspath(worktree))
        self.root = self.worktree.resolve()
        self.git_common_dir = Path(os.path.abspath(git_common_dir))
        self.env = dict(os.environ if env is None else env)
        self.bash_timeout = bash_timeout
        self.sandbox = Sandbox(self.worktree, branch, policy, sandbox, self.env)

    def is_sandboxed(self) -> bool:
        """True when Bash runs under bubblewrap; False means confinement is only advisory."""
        return self.sandbox.active

    def run(
        self, name: str, tool_input: Mapping[str, Any], cancelled: threading.Event | None = None
    ) -> ToolOutcome:
        """Run tool ``name``; refusals and failures come back as ``ok=False`` with the reason."""
        handler = {
            "Read": self._read,
            "Write": self._write,
            "Edit": self._edit,
            "Glob": self._glob,
            "Grep": self._grep,
        }.get(name)
        try:
            if not isinstance(tool_input, Mapping):
                raise ToolError("tool input must be a JSON object")
            if name == "Bash":
                return self._bash(tool_input, cancelled)
            if handler is None:
                known = ", ".join(d["name"] for d in TOOL_DEFINITIONS)
                raise ToolError(f"unknown tool {name!r}: use one of {known}")
            return ToolOutcome(True, cap_output(handler(tool_input)))
        except ToolError as exc:
            return ToolOutcome(False, f"Error: {exc}")
        except OSError as exc:
            return ToolOutcome(False, f"Error: {exc.strerror or exc}")
        except UnicodeError:
            return ToolOutcome(False, "Error: the file is not UTF-8 text")
        except ValueError as exc:  # e.g. a NUL byte in a path
            return ToolOutcome(False, f"Error: {exc}")

    # -- paths --------------------------------------------------------------------------------

    def resolve(self, raw: str, write: bool = False) -> Path:
        """The real path for ``raw`` inside the worktree, or :class:`ToolError` saying why not."""
        if not raw or not raw.strip():
            raise ToolError("file_path is empty")
        if raw.startswith("~"):
            raise ToolError(f"{raw}: home-relative paths are not allowed; use a path inside the worktree")
        path = Path(raw)
        if ".." in path.parts:
            raise ToolError(f"{raw}: '..' is not allowed; use a path inside the worktree")
        if path.is_absolute():
            if not (path.is_relative_to(self.worktree) or path.is_relative_to(self.root)):
                raise ToolError(f"{raw} is outside the worktree {self.worktree}")
            base = self.worktree if path.is_relative_to(self.worktree) else self.root
            path = path.relative_to(base)
        real = (self.root / path).resolve()
        if not real.is_relative_to(self.root):
            raise ToolError(f"{raw} leads outside the worktree through a symlink")
        if write:
            inside = real.relative_to(self.root).parts
            if not inside:
                raise ToolError(f"{raw} is the worktree itself, not a file")
            if ".git" in inside or real.is_relative_to(self.git_common_dir.resolve()):
                raise ToolError(f"{raw} is inside .git: git's files are not edited by hand")
        return real

    def _shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path != self.root else "."

    # -- file tools ---------------------------------------------------------------------------

    def _read(self, data: Mapping[str, Any]) -> str:
        path = self.resolve(_string(data, "file_path") or "")
        if path.is_dir():
            raise ToolError(f"{self._shown(path)} is a directory: use Glob to list it")
        if not path.exists():
            raise ToolError(f"{self._shown(path)} does not exist")
        raw = path.read_bytes()
        if b"\0" in raw[:8192]:
            return f"{self._shown(path)} is a binary file ({len(raw)} bytes)"
        lines = raw.decode("utf-8", errors="replace").splitlines()
        offset = max(1, _integer(data, "offset") or 1)
        limit = max(1, _integer(data, "limit") or READ_LINE_LIMIT)
        chosen = lines[offset - 1 : offset - 1 + limit]
        if not chosen:
            return f"{self._shown(path)} has {len(lines)} lines; nothing at offset {offset}"
        numbered = [f"{n:>6}\t{line[:LINE_CHAR_LIMIT]}" for n, line in enumerate(chosen, start=offset)]
        rest = len(lines) - (offset - 1 + len(chosen))
        if rest > 0:
            numbered.append(f"[{rest} more lines: read on with offset={offset + len(chosen)}]")
        return "\n".join(numbered)

    def _write(self, data: Mapping[str, Any]) -> str:
        path = self.resolve(_string(data, "file_path") or "", write=True)
        content = _string(data, "content") or ""
        if path.is_dir():
            raise ToolError(f"{self._shown(path)} is a directory")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        verb = "Overwrote" if existed else "Created"
        return f"{verb} {self._shown(path)} ({len(content.encode())} bytes)"

    def _edit(self, data: Mapping[str, Any]) -> str:
        path = self.resolve(_string(data, "file_path") or "", write=True)
        old = _string(data, "old_string") or ""
        new = _string(data, "new_string") or ""
        if not path.is_file():
            raise ToolError(f"{self._shown(path)} does not exist: use Write to create it")
        if old == new:
            raise ToolError("old_string and new_string are the same: nothing to change")
        if not old:
            raise ToolError("old_string is empty: use Write to replace a whole file")
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count == 0:
            raise ToolError(f"old_string was not found in {self._shown(path)}")
        if count > 1 and not data.get("replace_all"):
            raise ToolError(
                f"old_string occurs {count} times: add context to make it unique or set replace_all"
            )
        path.write_text(text.replace(old, new), encoding="utf-8")
        return f"Edited {self._shown(path)}: {count} replacement{'s' if count > 1 else ''}"

    def _walk(self, base: Path) -> Iterator[Path]:
        """Files under ``base``, skipping ``.git``; symlinked files count only if they stay inside.

        ``os.walk`` does not descend into symlinked directories, so a link loop cannot trap it.
        """
        for folder, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(names):
                path = Path(folder, name)
                real = path.resolve()
                if real.is_relative_to(self.root) and real.is_file():
                    yield path

    def _glob(self, data: Mapping[str, Any]) -> str:
        pattern = _string(data, "pattern") or ""
        if not pattern or pattern.startswith(("/", "~")) or ".." in pattern.split("/"):
            raise ToolError("pattern must be relative to the search directory, without '..'")
        base = self.resolve(_string(data, "path", required=False) or ".")
        if not base.is_dir():
            raise ToolError(f"{self._shown(base)} is not a directory")
        matchers = [_glob_regex(p) for p in _expand_braces(pattern)]
        found = [
            p for p in self._walk(base) if any(m.fullmatch(p.relative_to(base).as_posix()) for m in matchers)
        ]
        if not found:
            return "No files found"
        found.sort(key=lambda p: (-p.stat().st_mtime, str(p)))
        lines = [self._shown(p) for p in found[:_MAX_RESULTS]]
        if len(found) > _MAX_RESULTS:
            lines.append(f"[{len(found) - _MAX_RESULTS} more: narrow the pattern]")
        return "\n".join(lines)

    def _grep(self, data: Mapping[str, Any]) -> str:
        flags = re.IGNORECASE if data.get("-i") else 0
        try:
            regex = re.compile(_string(data, "pattern") or "", flags)
        except re.error as exc:
            raise ToolError(f"bad regular expression: {exc}") from None
        mode = data.get("output_mode") or "files_with_matches"
        if mode not in ("files_with_matches", "content", "count"):
            raise ToolError("output_mode must be files_with_matches, content or count")
        name_glob = _string(data, "glob", required=False)
        base = self.resolve(_string(data, "path", required=False) or ".")
        out: list[str] = []
        for path in [base] if base.is_file() else self._walk(base):
            shown = self._shown(path)
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

    # -- Bash ---------------------------------------------------------------------------------

    def bash_argv(self, command: str) -> list[str]:
        """The argv that runs ``command``: inside bubblewrap when sandboxed, else plain bash."""
        return self.sandbox.wrap(["bash", "-c", command])

    def _bash(self, data: Mapping[str, Any], cancelled: threading.Event | None) -> ToolOutcome:
        command = _string(data, "command") or ""
        if not command.strip():
            raise ToolError("command is empty")
        timeout_ms = _integer(data, "timeout")
        timeout = (
            self.bash_timeout if timeout_ms is None else min(max(timeout_ms, 1), MAX_BASH_TIMEOUT_MS) / 1000
        )
        self.sandbox.prepare()
        with tempfile.TemporaryFile() as sink:
            # A file, not a pipe: a chatty command cannot block on a full pipe while we poll.
            proc = subprocess.Popen(
                self.bash_argv(command),
                cwd=self.root,
                env=self.sandbox.env(self.env),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            stopped = self._wait(proc, time.monotonic() + timeout, cancelled)
            sink.seek(0)
            output = sink.read().decode("utf-8", errors="replace")
        output = cap_output(output.rstrip("\n"))
        note = self.sandbox.finish()
        if note:
            output = f"{output}\n{note}".lstrip()
        if stopped == "timeout":
            return ToolOutcome(
                False, f"{output}\n[timed out after {timeout:g} s: process group killed]".lstrip()
            )
        if stopped == "cancelled":
            return ToolOutcome(False, f"{output}\n[interrupted by the user: process group killed]".lstrip())
        if proc.returncode != 0:
            return ToolOutcome(False, f"{output}\n[exit code {proc.returncode}]".lstrip())
        return ToolOutcome(True, output or "(no output)")

    @staticmethod
    def _wait(
        proc: subprocess.Popen[bytes], deadline: float, cancelled: threading.Event | None
    ) -> str | None:
        """Wait for ``proc``; on timeout or interrupt kill its process group and say which."""
        while True:
            try:
                proc.wait(timeout=0.05)
                return None
            except subprocess.TimeoutExpired:
                pass
            reason = "cancelled" if cancelled is not None and cancelled.is_set() else None
            if reason is None and time.monotonic() >= deadline:
                reason = "timeout"
            if reason:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return reason
