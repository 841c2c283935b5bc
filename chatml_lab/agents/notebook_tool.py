"""``RunNotebook {path, timeout?}``: the agent runs a notebook of its worktree and reads what happened.

The notebook is executed by nbclient in a fresh kernel, in a child process started through the
``Bash`` tool's machinery: same cwd (the worktree), same sandbox (bubblewrap: writes only in the
worktree, the git dir and a private ``/tmp``), same process-group kill on timeout or interrupt,
and the same approval (it runs code). The notebook file is not modified. The agent gets a short
account: how many code cells ran, the first error with its traceback, and each cell's output
trimmed.

``python -P -m chatml_lab.agents.notebook_tool PATH --timeout S`` is the child; ``-P`` keeps a
``chatml_lab`` directory inside the worktree from shadowing the installed package.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .tools import ToolError, ToolOutcome, ToolRunner

NAME = "RunNotebook"
DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 600.0
#: Seconds the child may take beyond the notebook's own budget (kernel start-up and shut-down).
GRACE = 30.0
OUTPUT_PER_CELL = 600
TRACEBACK_CHARS = 4_000
STATUS_PREFIX = "RunNotebook status: "

DEFINITION: dict[str, Any] = {
    "name": NAME,
    "description": (
        "Execute a Jupyter notebook of the worktree top to bottom in a fresh kernel (the file is not "
        "changed) and report: code cells run, the first error with its traceback, and each cell's "
        "output, trimmed. timeout is in seconds for the whole notebook (default 120, max 600)."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The .ipynb file, relative to the worktree"},
            "timeout": {"type": "number", "description": "Seconds for the whole run"},
        },
        "required": ["path"],
    },
}

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookTool:
    """Runs ``RunNotebook`` for one worktree through its :class:`ToolRunner`'s Bash."""

    def __init__(self, tools: ToolRunner) -> None:
        self.tools = tools

    def run(self, tool_input: Mapping[str, Any], cancelled: threading.Event | None = None) -> ToolOutcome:
        """Execute the notebook; a failing cell, a timeout or bad input give ``ok=False``."""
        try:
            raw = tool_input.get("path") or tool_input.get("file_path")
            if not isinstance(raw, str):
                raise ToolError("path must be the notebook's path, e.g. analysis.ipynb")
            path = self.tools.resolve(raw)
            if path.suffix != ".ipynb":
                raise ToolError(f"{raw} is not a notebook (.ipynb)")
            if not path.is_file():
                raise ToolError(f"{raw} does not exist")
            timeout = tool_input.get("timeout")
            if timeout is None:
                seconds = DEFAULT_TIMEOUT
            elif isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
                raise ToolError("timeout must be a positive number of seconds")
            else:
                seconds = min(float(timeout), MAX_TIMEOUT)
        except ToolError as exc:
            return ToolOutcome(False, f"Error: {exc}")
        command = shlex.join(
            [sys.executable, "-P", "-m", __name__, str(path.relative_to(self.tools.root)),
             "--timeout", f"{seconds:g}"]
        )  # fmt: skip
        outcome = self.tools.run(
            "Bash", {"command": command, "timeout": int((seconds + GRACE) * 1000)}, cancelled
        )
        lines = outcome.output.rstrip().splitlines()
        status = next((line for line in reversed(lines) if line.startswith(STATUS_PREFIX)), None)
        if status is None:  # killed from outside (timeout backstop, interrupt) or the child failed
            return ToolOutcome(False, outcome.output)
        body = "\n".join(line for line in lines if not line.startswith(STATUS_PREFIX)).rstrip()
        body = re.sub(r"\n\[exit code \d+\]$", "", body)
        return ToolOutcome(status == STATUS_PREFIX + "ok", body)


# -- the child: execute and account -----------------------------------------------------------------


def _trim(text: str, limit: int) -> str:
    text = _ANSI.sub("", text).rstrip()
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n[... {len(text) - limit} characters omitted ...]\n" + text[-limit // 2 :]


def _output_text(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        return "".join(text) if isinstance(text, list) else str(text)
    if kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        if "text/plain" in data:
            plain = data["text/plain"]
            return "".join(plain) if isinstance(plain, list) else str(plain)
        return f"<{', '.join(sorted(data))}>"
    if kind == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    return ""


def account(node: Any, seconds: float, timed_out: tuple[int, float] | None = None) -> tuple[str, str]:
    """``(text, status)`` for an executed (or partly executed) notebook node.

    ``timed_out`` is ``(cell number, budget in seconds)`` when the run was cut short.
    """
    code = [(n, c) for n, c in enumerate(node.cells, 1) if c.cell_type == "code"]
    ran = [(n, c) for n, c in code if c.get("execution_count") is not None or c.get("outputs")]
    failed = next(
        ((n, c, o) for n, c in ran for o in c.get("outputs", []) if o.get("output_type") == "error"), None
    )
    lines: list[str] = []
    if timed_out is not None:
        cell, budget = timed_out
        done = sum(1 for n, _ in ran if n < cell)
        lines.append(
            f"timed out after {budget:g} s in cell {cell}: {done} of {len(code)} code cells had finished"
        )
        status = "timeout"
    elif failed is not None:
        n, cell_node, error = failed
        lines.append(
            f"{len(ran)} of {len(code)} code cells ran in {seconds:.1f} s; cell {n} raised "
            f"{error.get('ename')}: {error.get('evalue')}"
        )
        lines += [f"\n--- cell {n} source ---", _trim(str(cell_node.source), 1_500)]
        lines += ["--- traceback ---", _trim("\n".join(error.get("traceback", [])), TRACEBACK_CHARS)]
        status = "error"
    else:
        lines.append(f"all {len(code)} code cells ran without error in {seconds:.1f} s")
        status = "ok"
    outputs = [(n, "\n".join(filter(None, map(_output_text, c.get("outputs", []))))) for n, c in ran]
    shown = [(n, text) for n, text in outputs if text.strip()]
    if shown:
        lines.append("\n--- outputs (trimmed) ---")
        lines += [f"[cell {n}]\n{_trim(text, OUTPUT_PER_CELL)}" for n, text in shown]
    return "\n".join(lines), status


def execute(path: Path, timeout: float) -> tuple[str, str]:
    """Run the notebook at ``path`` (not saved back) and return its account and status.

    The budget covers the whole notebook: each cell gets what is left of it (nbclient's
    ``timeout_func``), so a slow cell is stopped by nbclient itself and the kernel shut down
    cleanly, and the account says which cell it was.
    """
    import nbformat as _nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nbformat: Any = _nbformat
    node = nbformat.read(path, as_version=4)
    kernel = (node.metadata.get("kernelspec") or {}).get("name") or "python3"
    started = time.monotonic()
    deadline = started + timeout
    current = {"cell": 0}

    def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        current["cell"] = cell_index + 1

    client = NotebookClient(
        node, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}},
        timeout_func=lambda _cell: max(1, int(deadline - time.monotonic())),
        on_cell_start=on_cell_start, extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
    )  # fmt: skip
    try:
        client.execute()
    except CellExecutionError:
        pass  # the failing cell's error output is in the node: the account reports it
    except CellTimeoutError:
        return account(node, time.monotonic() - started, timed_out=(current["cell"], timeout))
    except DeadKernelError as exc:
        text, _ = account(node, time.monotonic() - started)
        return f"the kernel died: {exc}\n{text}", "error"
    return account(node, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process: print the account and a status line."""
    parser = argparse.ArgumentParser(prog="chatml-run-notebook")
    parser.add_argument("path", type=Path)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    # The sandbox leaves only the worktree and a private /tmp writable: the kernel's connection
    # file and IPython's profile go to /tmp, never into the user's home.
    scratch = Path(tempfile.mkdtemp(prefix="chatml-notebook-"))
    for name in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        os.environ[name] = str(scratch / name.lower())
    try:
        text, status = execute(args.path, args.timeout)
    except Exception as exc:  # unreadable notebook, missing kernel: one line for the agent
        text, status = f"could not run {args.path}: {type(exc).__name__}: {exc}", "failed"
    print(text)
    print(STATUS_PREFIX + status, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
