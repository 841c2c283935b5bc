"""The built-in agent's tools, with Claude Code's names and input schemas.

``Read``, ``Write``, ``Edit``, ``Glob``, ``Grep`` and ``Bash`` take the inputs Claude Code's tools
take, so scripts and habits carry over between the ``anthropic`` and ``claude-code`` backends.
:data:`TOOL_DEFINITIONS` (:mod:`.toolspec`) is what the Messages API is sent; :class:`ToolRunner`
executes a call. The file tools live in :mod:`.filetools`, their confinement in :mod:`.paths`.

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
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .filetools import FileTools
from .paths import Confinement
from .sandbox import Sandbox, SandboxPolicy, sandbox_available
from .toolspec import (
    EDIT_TOOLS,
    EXEC_TOOLS,
    OUTPUT_LIMIT,
    READ_ONLY_TOOLS,
    TOOL_DEFINITIONS,
    ToolError,
    ToolOutcome,
    cap_output,
)
from .toolspec import integer_arg as _integer
from .toolspec import string_arg as _string

__all__ = [
    "EDIT_TOOLS",
    "EXEC_TOOLS",
    "MAX_BASH_TIMEOUT_MS",
    "OUTPUT_LIMIT",
    "READ_ONLY_TOOLS",
    "TOOL_DEFINITIONS",
    "ToolError",
    "ToolOutcome",
    "ToolRunner",
    "cap_output",
    "sandbox_available",
]

MAX_BASH_TIMEOUT_MS = 600_000
#: Times a sandboxed command is started when bubblewrap fails to set the sandbox up (see ``_bash``).
SANDBOX_SETUP_ATTEMPTS = 3


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
        self.paths = Confinement(worktree, git_common_dir)
        self.worktree = self.paths.worktree
        self.root = self.paths.root
        self.git_common_dir = self.paths.git_common_dir
        self.files = FileTools(self.paths)
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
        handler = self.files.handler(name)
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

    def resolve(self, raw: str, write: bool = False) -> Path:
        """The real path for ``raw`` inside the worktree, or :class:`ToolError` saying why not."""
        return self.paths.resolve(raw, write)

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
        for attempt in range(SANDBOX_SETUP_ATTEMPTS):
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
            # bubblewrap binds each sibling of the session's branch ref read-only; another session
            # committing at that moment replaces its ref file under the mount, and bwrap gives up
            # before the command starts. Nothing ran, so the command is started again.
            if not (self.sandbox.active and proc.returncode == 1 and output.startswith("bwrap: Can't")):
                break
            if attempt + 1 < SANDBOX_SETUP_ATTEMPTS:
                time.sleep(0.05 * (attempt + 1))
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
