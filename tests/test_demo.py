"""``chatml demo`` end to end: three scripted agents commit on their branches, the notebook is executed."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from chatml_lab import cli, demo
from chatml_lab.core.manager import ChatML
from chatml_lab.demo import REAL_MODEL_HINT, SCRIPTED_NOTE, TASKS, run_demo

from .agent_fixtures import kill_runners
from .conftest import git


def _stop_runners(data_dir: Path) -> None:
    manager = ChatML(data_dir=data_dir)
    try:
        kill_runners(manager)
    finally:
        manager.close()


def test_run_demo_commits_on_every_branch_and_executes_the_quickstart(tmp_path: Path) -> None:
    lines: list[str] = []
    data_dir_before = os.environ["CHATML_DATA_DIR"]
    try:
        result = run_demo(tmp_path / "demo", echo=lines.append)
    finally:
        _stop_runners(tmp_path / "demo" / "data")
    assert os.environ["CHATML_DATA_DIR"] == data_dir_before, "the demo restores the environment"
    assert [s.name for s in result.sessions] == [task[0] for task in TASKS]
    for session, (_name, _prio, _prompt, module, source, message) in zip(result.sessions, TASKS, strict=True):
        assert session.agent_state == "idle"
        assert [c.split(" ", 1)[1] for c in session.commits] == [message]
        assert session.files == [module]
        assert git(result.repo, "show", f"{session.branch}:{module}") == source
        assert (session.ahead, session.behind) == (1, 1)  # a commit landed on origin/main meanwhile
    assert git(result.repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main", (
        "the main checkout is untouched"
    )
    assert "add-slugify" in result.table and "behind" in result.table
    output = "\n".join(lines)
    assert SCRIPTED_NOTE in output and REAL_MODEL_HINT in output
    assert result.notebook is not None and result.html is not None and result.html.exists()
    executed = nbformat.read(result.notebook, as_version=4)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")
    assert "widgets" in executed.metadata
    assert result.data_dir == tmp_path / "demo" / "data"


def test_cli_demo_without_notebook_keeps_the_user_data_dir_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_data = tmp_path / "user-data"
    monkeypatch.setenv("CHATML_DATA_DIR", str(user_data))
    real = demo.run_demo  # the notebook part is covered above; here the CLI path, faster
    monkeypatch.setattr(demo, "run_demo", lambda out=None: real(out, notebook=False))
    try:
        assert cli.main(["demo", str(tmp_path / "cli-demo")]) == 0
    finally:
        _stop_runners(tmp_path / "cli-demo" / "data")
    out = capsys.readouterr().out
    assert "SCRIPTED" in out and "ANTHROPIC_API_KEY" in out
    for name, *_ in TASKS:
        assert git(tmp_path / "cli-demo" / "sample-app", "log", "--oneline", f"main..chatml/{name}").strip()
    assert not user_data.exists(), "chatml demo never opens the user's store"


def test_cli_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "git" in out and "all required checks passed" in out
