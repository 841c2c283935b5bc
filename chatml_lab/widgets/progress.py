"""A progress line for long steps (fetch, worktree, setup scripts) in the notebook.

The manager reports steps through its ``progress`` callback; this sink shows them as one output
line updated in place (``display(..., display_id=...)``), which works in JupyterLab, the classic
notebook, nbclient and nbconvert without a widget manager. Outside a kernel it writes to stderr.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython") and _shell()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


class NotebookProgress:
    """Callable progress sink: ``progress("fetching origin")`` shows ``… fetching origin (0.3 s)``.

    Call :meth:`begin` before a command and :meth:`end` after it; steps reported in between update
    one display. Nothing is shown for a command that reports no step.
    """

    def __init__(self) -> None:
        self._handle: Any = None
        self._started = 0.0
        self._steps: list[str] = []

    def begin(self) -> None:
        """Start a new command: its first step opens a new display."""
        self._handle = None
        self._steps = []
        self._started = time.monotonic()

    def __call__(self, message: str) -> None:
        """Show ``message`` as the step under way."""
        self._steps.append(message)
        self._show(f"\N{HORIZONTAL ELLIPSIS} {message}", done=False)

    def end(self, summary: str | None = None) -> None:
        """Finish the command: replace the live line by a summary of the steps taken."""
        if not self._steps:
            return
        elapsed = time.monotonic() - self._started
        text = summary or "done: " + ", ".join(self._steps)
        self._show(f"\N{CHECK MARK} {text} ({elapsed:.1f} s)", done=True)
        self._handle = None
        self._steps = []

    def _show(self, text: str, done: bool) -> None:
        if not _in_kernel():
            if sys.stderr.isatty():  # a terminal IPython: like the CLI's "… step" lines
                print(text, file=sys.stderr, flush=True)
            return
        from IPython.display import HTML, display

        color = "#2e7d32" if done else "#616161"
        bundle = HTML(  # type: ignore[no-untyped-call]
            f'<span style="font-family:sans-serif;font-size:12px;color:{color}">{html.escape(text)}</span>'
        )
        if self._handle is None:
            self._handle = display(bundle, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self._handle.update(bundle)
