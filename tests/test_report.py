"""Session reports carry their data: they re-execute elsewhere, scrubbed, and export offline HTML."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType
from chatml_lab.reports.offline import STATIC_DIR_NAME
from chatml_lab.reports.report import build_report, collect, write_report
from chatml_lab.reports.scrub import scrub

from .agent_fixtures import agent_cm, write_script
from .conftest import git
from .test_review import TASK_TURNS, _notebook

__all__ = ["agent_cm"]

KEY = "sk-ant-api03-" + "A1b2C3d4" * 6


def _outputs(node: object) -> str:
    text = []
    for cell in node.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs") or []:
            text.append(json.dumps(out.get("data", {})) + str(out.get("text", "")))
    return "\n".join(text)


def test_report_reexecutes_under_another_data_dir_and_home_with_secrets_scrubbed(
    agent_cm: ChatML, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "analysis.ipynb").write_text(_notebook(["x = 1"]))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notebook")
    git(repo, "push", "-q", "origin", "main")
    script = write_script(tmp_path / "task.json", TASK_TURNS)
    session = agent_cm.new_session(repo, name="shared", agent=f"scripted:{script}", permission_mode="bypass")
    session.send("write fizzbuzz")
    assert session.wait(timeout=60) == "idle"
    review = session.review()
    assert session.wait_conversation(review, timeout=60) == "idle"
    (session.worktree / "analysis.ipynb").write_text(_notebook(["x = 2", "print(x)"]))
    # A secret that leaked into the log: by value (the configured key) and by shape.
    monkeypatch.setenv("GITHUB_TOKEN", "gho_" + "z" * 36)
    conv = agent_cm.agents.conversation(session.id)
    agent_cm.store.append_event(
        conv.id, EventType.ASSISTANT_TEXT,
        {"text": f"the key is {KEY} and the token {os.environ['GITHUB_TOKEN']}; see https://bob:hunter2@example.com/x"},
    )  # fmt: skip

    author_data = agent_cm.data_dir
    out = write_report(session, out_dir=tmp_path / "report")
    source = out.notebook.read_text()
    for private in (KEY, "gho_zzzz", "hunter2", str(author_data), session.id, str(repo)):
        assert private not in source, f"{private!r} leaked into the report"
    page = out.html.read_text()
    assert KEY not in page and "hunter2" not in page
    assert (out.html.parent / STATIC_DIR_NAME / "embed-amd.js").is_file()
    assert (
        'src="_chatml_static/require.js"' in page
        and "cdn.jsdelivr" not in page
        and "mathjax" not in page.lower()
    )
    for fragment in ("Session report: shared", "write fizzbuzz", "Review #1: Quick review",
                     "fizzbuzz(0) and negatives return FizzBuzz", 'class="chatml-finding"', "Review scorecard",
                     "diff --nbdime a/analysis.ipynb", "## modified /cells/0/source",
                     "uncommitted work included", "Archive summary"):  # fmt: skip
        assert fragment in page, fragment

    # Somewhere else: the author's data dir and repository are gone, HOME and data dir are new.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    copy = moved / out.notebook.name
    shutil.copy(out.notebook, copy)
    shutil.rmtree(author_data)
    shutil.move(str(repo), str(tmp_path / "repo-gone"))
    other_home, other_data = tmp_path / "other-home", tmp_path / "other-data"
    other_home.mkdir()
    node = nbformat.read(copy, as_version=4)  # type: ignore[no-untyped-call]
    for cell in node.cells:
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    env = {**os.environ, "HOME": str(other_home), "CHATML_DATA_DIR": str(other_data)}
    NotebookClient(node, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(moved)}},
                   extra_arguments=["--IPKernelApp.log_level=ERROR"]).execute(env=env)  # fmt: skip
    outputs = _outputs(node)
    for fragment in ("write fizzbuzz", "Move the test out of the module", "F1", "Review: Quick review",
                     "## modified /cells/0/source", "fizzbuzz.py"):  # fmt: skip
        assert fragment in outputs, fragment
    assert not other_data.exists(), "re-running the report never opens a store"
    assert KEY not in outputs


def test_scrub_patterns() -> None:
    assert scrub(f"x {KEY} y") == "x *** y"
    assert scrub("ghp_" + "a" * 36) == "***"
    assert scrub("AKIAABCDEFGHIJKLMNOP") == "***"
    assert scrub("https://user:pa55@host/repo.git") == "https://user:***@host/repo.git"
    assert scrub("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----") == "***"
    assert scrub("plain text, sk-short") == "plain text, sk-short"


def test_report_of_an_archived_session_uses_the_branch(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="gone")
    (session.worktree / "a.txt").write_text("committed\n")
    git(session.worktree, "add", "a.txt")
    git(session.worktree, "commit", "-qm", "add a")
    session.archive()
    data = collect(session)
    assert data["diff"]["includes_uncommitted"] is False
    assert "+committed" in data["diff"]["text"]
    assert [c["subject"] for c in data["diff"]["commits"]] == ["add a"]
    assert data["session"]["archived"] is True
    notebook = build_report(session)
    assert any("load_report(" in c.source for c in notebook.cells if c.cell_type == "code")
