"""Notebooks as shareable reports: build with nbformat, execute with nbclient, export HTML with nbconvert.

:func:`execute` runs a notebook in a fresh kernel so the outputs are real and writes the executed
``.ipynb`` and its offline ``.html`` side by side, keeping widget state in the executed copy. The
session report (:func:`chatml_lab.reports.report.write_report`) and the demo's quickstart use it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ChatMLError
from .offline import export_html


@dataclass(frozen=True)
class NotebookOutput:
    """Where an executed notebook and its HTML export were written."""

    notebook: Path
    html: Path


def execute(
    notebook: Path | str,
    out_dir: Path | str,
    timeout: float = 300.0,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    html_options: dict[str, Any] | None = None,
) -> NotebookOutput:
    """Run ``notebook`` in a fresh kernel; write the executed copy and its HTML to ``out_dir``.

    Widget state is stored in the executed notebook (``store_widget_state``), so the widgets
    render in JupyterLab and in the HTML. ``env`` entries are set for the kernel process (it
    inherits this process's environment). The HTML renders offline (:mod:`.offline`: local
    widget renderer and loader beside it); ``html_options`` override nbconvert's ``HTMLExporter``.
    """
    import nbformat as _nbformat

    nbformat: Any = _nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = Path(notebook)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    node = nbformat.read(source, as_version=4)
    kernel_env = {**os.environ, **(env or {})}
    client = NotebookClient(
        node, timeout=int(timeout), kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(cwd or source.parent)}},
        # The kernel's start-up warning (TCP without encryption) is noise here.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )  # fmt: skip
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as exc:
        failed = target / source.name
        nbformat.write(node, failed)
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # tracebacks arrive ANSI-coloured
        first = text.splitlines()[-1] if text else "a cell failed"
        raise ChatMLError(f"{source.name} failed: {first} (partial output in {failed})") from None
    executed = target / source.name
    nbformat.write(node, executed)
    # Offline by default: the widget renderer and its loader are local copies, not a CDN.
    page = export_html(node, executed.with_suffix(".html"), html_options)
    return NotebookOutput(notebook=executed, html=page)
