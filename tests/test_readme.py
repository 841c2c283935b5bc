"""The README's notebook and Python examples run as written, without an API key (issue 8)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.testing import globalipapp

from chatml_lab.core.manager import ChatML
from chatml_lab.ipython.magics import ChatMLMagics

from .agent_fixtures import kill_runners

README = Path(__file__).resolve().parent.parent / "README.md"


def block_after(heading: str) -> str:
    """The first ```python block after ``heading`` in the README."""
    text = README.read_text()
    found = re.search(rf"^{re.escape(heading)}\n.*?```python\n(.*?)```", text, re.S | re.M)
    assert found, f"no python block after {heading!r}"
    return found.group(1)


@pytest.fixture
def shell(hermetic: Path) -> Iterator[Any]:
    ip = globalipapp.get_ipython()
    yield ip
    magics = ip.magics_manager.registry.get("ChatMLMagics")
    if isinstance(magics, ChatMLMagics):
        if magics._manager is not None:
            kill_runners(magics._manager)
        magics.close()
        magics.settings.data_dir = None


def test_the_notebook_example_works_without_a_key(
    shell: Any, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "ANTHROPIC_API_KEY" not in os.environ
    monkeypatch.chdir(repo)  # a notebook next to its repository
    block = block_after("## In a notebook")
    for line in block.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        shell.run_line_magic(*line.removeprefix("%").split(" ", 1))
        if line.startswith("%load_ext"):
            magics = shell.magics_manager.registry["ChatMLMagics"]
            magics.settings.data_dir = os.environ["CHATML_DATA_DIR"]
            magics.settings.runner_idle_timeout = 3.0
        _out, err = capsys.readouterr()
        assert "error" not in err, f"{line}: {err}"
    with ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"])) as cm:
        session = cm.session("fix-login")
        assert session.agent_backend == "scripted" and session.priority.value == "high"
        assert session.wait(timeout=60) in ("waiting", "idle")
        kill_runners(cm)


def test_the_python_example_works_without_a_key(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = block_after("## From Python").replace('"~/src/app"', repr(str(repo)))
    namespace: dict[str, Any] = {}
    try:
        exec(compile(code, "README.md", "exec"), namespace)
        session = namespace["s"]
        assert not session.archived and session.agent_state in ("idle", "stopped")
        assert (session.worktree / "fizzbuzz.py").exists()  # the approved Write ran, and came back
    finally:
        if "cm" in namespace:
            kill_runners(namespace["cm"])
            namespace["cm"].close()
