"""The notebooks under notebooks/ run in a real kernel (nbclient) with the package installed.

Each is executed headless, outputs kept, no cell errors, widget state saved in the executed copy,
and its HTML exported. The kernel inherits the hermetic environment (HOME, CHATML_DATA_DIR,
JUPYTER_*, IPYTHONDIR point at temp dirs), and every runner it started is stopped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.demo import quickstart_notebook
from chatml_lab.events import EventType
from chatml_lab.reports.notebook import execute
from chatml_lab.reports.report import write_report

from .agent_fixtures import kill_runners

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: Text each executed notebook must show somewhere in its outputs.
EXPECTED = {
    # "creating worktree" is the progress line the manager's callback drew while %chatml new ran.
    "01-quickstart.ipynb": [
        "creating worktree",
        "agent state: idle",
        "agent [scripted]:",
        "fizzbuzz: ahead 1, behind 0",
        "Add fizzbuzz",
    ],
    "02-dashboard.ipynb": [
        "agent state: idle",
        "fix-login: ahead 0, behind 1",
        "fizzbuzz: ahead 1, behind 1",
    ],
    "03-archive-and-restore.ipynb": [
        "worktree exists: False",
        "refs/chatml/snapshots/",
        "restored feature",
        "would lose",
        "gc would delete",
    ],
    "04-review.ipynb": [
        "agent state: idle",
        "## modified /cells/1/source:",
        "Review #1: Quick review -> idle",
        "fizzbuzz(0) and negatives return FizzBuzz",
        "correctness",
        "### F1 [warning] fizzbuzz.py:6",
        "Resolve F1: fixed",
        "report HTML",
    ],
}


@pytest.fixture
def stop_runners(hermetic: Path) -> Iterator[None]:
    """Kill the agent runners the notebook's kernel left behind (they outlive kernels by design)."""
    yield
    manager = ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]))
    try:
        kill_runners(manager)
    finally:
        manager.close()


def _outputs(notebook: Any) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(str(output.get("text", "")))
            texts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(texts)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_in_a_real_kernel(name: str, tmp_path: Path, stop_runners: None) -> None:
    result = execute(NOTEBOOKS / name, tmp_path / "out", timeout=300, cwd=tmp_path)
    executed = nbformat.read(result.notebook, as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every code cell ran"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    text = _outputs(executed)
    for fragment in EXPECTED[name]:
        assert fragment in text, f"{name}: {fragment!r} not in the outputs"
    assert os.environ["CHATML_DATA_DIR"] in text, "the notebook used the data dir it was given"
    if name != "03-archive-and-restore.ipynb":  # 01 and 02 display widgets
        state = executed.metadata["widgets"][WIDGET_STATE]["state"]
        models = {entry["model_name"] for entry in state.values()}
        assert {"VBoxModel", "HTMLModel", "ButtonModel"} <= models
        views = [
            o
            for c in code
            for o in c.outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert views, "a widget view is in the outputs"
    page = result.html.read_text()
    assert "<table" in page or name == "03-archive-and-restore.ipynb"
    assert "Traceback" not in page


def test_quickstart_file_is_the_demo_builder_output() -> None:
    stored = nbformat.read(NOTEBOOKS / "01-quickstart.ipynb", as_version=4)
    built = quickstart_notebook()
    assert [(c.cell_type, c.source) for c in stored.cells] == [(c.cell_type, c.source) for c in built.cells]
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
            "stored without outputs"
        )
        first_code = next(c.source for c in notebook.cells if c.cell_type == "code")
        assert "USE_REAL_MODEL = False" in first_code
        assert 'os.environ.setdefault("CHATML_DATA_DIR"' in first_code


def test_session_report_notebook(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    session = cm.new_session(repo, name="reported", priority="high")
    conv = cm.store.conversations(session.id)[0].id
    cm.store.append_event(conv, EventType.USER_MESSAGE, {"text": "Write the changelog"})
    cm.store.append_event(conv, EventType.ASSISTANT_TEXT, {"text": "Wrote **CHANGELOG.md**."})
    (session.worktree / "CHANGELOG.md").write_text("# Changes\n")
    os.system(f"cd {session.worktree} && git add -A && git commit -qm 'Add changelog'")
    report = write_report(session, out_dir=tmp_path / "report")
    assert report.notebook.name == "reported-report.ipynb" and report.html.exists()
    page = report.html.read_text()
    for fragment in ("Session report: reported", "Write the changelog", "<strong>CHANGELOG.md</strong>",
                     "Add changelog", "+# Changes", "chatml/reported"):  # fmt: skip
        assert fragment in page
