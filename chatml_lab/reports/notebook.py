"""Notebooks as shareable reports: build with nbformat, execute with nbclient, export HTML with nbconvert.

:func:`write_report` makes a session report (what was asked, what the agent did, the commits and
the diff, the session's row of the table), runs it in a fresh kernel so the outputs are real, and
writes ``<name>-report.ipynb`` and ``.html`` side by side. :func:`execute` runs any notebook the
same way (the demo uses it for the quickstart), keeping widget state in the executed copy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ChatMLError
from .offline import export_html

if TYPE_CHECKING:
    from ..core.session import Session


@dataclass(frozen=True)
class NotebookOutput:
    """Where an executed notebook and its HTML export were written."""

    notebook: Path
    html: Path


def build_report(session: Session) -> Any:
    """The report notebook of ``session`` (not executed)."""
    import nbformat.v4

    nbf: Any = nbformat.v4  # untyped package: keep its calls out of strict checking

    rec = session.record
    manager = session._manager
    ws = manager.workspace(rec.workspace_id)
    data_dir = str(manager.data_dir)
    intro = (
        f"# Session report: {rec.name}\n\n"
        f"| | |\n|---|---|\n| branch | `{rec.branch}` |\n| base | `{rec.base_ref}` (`{rec.base_commit[:10]}`) |\n"
        f"| workspace | {ws.name} (`{ws.path}`) |\n| priority | {rec.priority.value} |\n"
        f"| status | {rec.task_status.value.replace('_', ' ')} |\n| agent | {rec.agent_backend or 'default'} |\n"
    )
    if rec.agent_backend == "scripted":
        intro += "\nThe agent of this session was **scripted**: its output was replayed from a script, not written by a model.\n"
    cells = [
        nbf.new_markdown_cell(intro),
        nbf.new_code_cell(
            "from chatml_lab import ChatML\n"
            "from chatml_lab.reports.style import style_table\n"
            "from chatml_lab.widgets.render import diff_html, render_events\n"
            "from IPython.display import HTML\n"
            "import subprocess\n\n"
            f"cm = ChatML(data_dir={data_dir!r})\n"
            f"session = cm.session({rec.id!r})\n"
            "rec = session.record\n"
            "ws = cm.workspace(rec.workspace_id)"
        ),
        nbf.new_markdown_cell("## Conversation"),
        nbf.new_code_cell("HTML(render_events(session.events()))"),
        nbf.new_markdown_cell("## Commits on the branch"),
        nbf.new_code_cell(
            "def git(*args):\n"
            "    return subprocess.run(['git', *args], cwd=ws.path, capture_output=True, text=True).stdout\n\n"
            "print(git('log', '--format=%h %s (%an)', f'{rec.base_commit}..{rec.branch}') or 'no commits yet')"
        ),
        nbf.new_markdown_cell("## Diff against the base"),
        nbf.new_code_cell(
            "print(git('diff', '--stat', rec.base_commit, rec.branch))\n"
            "HTML(diff_html(git('diff', rec.base_commit, rec.branch)) or 'no changes')"
        ),
        nbf.new_markdown_cell("## In the session table"),
        nbf.new_code_cell(
            "table = cm.table(include_archived=True)\n"
            "style_table(table[(table['name'] == rec.name) & (table['workspace'] == ws.name)])"
        ),
    ]
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def write_report(
    session: Session, out_dir: Path | str | None = None, timeout: float = 120.0
) -> NotebookOutput:
    """Build, execute and export the report of ``session`` into ``out_dir`` (default: ``<data>/reports``)."""
    import nbformat as _nbformat

    nbformat: Any = _nbformat

    target = Path(out_dir).expanduser() if out_dir else session._manager.data_dir / "reports"
    source = target / f"{session.name}-report.ipynb"
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(build_report(session), source)
    return execute(source, target, timeout=timeout)


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
