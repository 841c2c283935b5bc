"""Reviews and conversations from every UI: the CLI, the magics, the chat's tabs and buttons, the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.testing import globalipapp

from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML
from chatml_lab.events import EventType
from chatml_lab.widgets.chat import ChatPanel
from chatml_lab.widgets.dashboard import Dashboard

from .agent_fixtures import agent_cm, kill_runners, wait_for, write_script
from .test_review import TASK_TURNS

__all__ = ["agent_cm"]


@pytest.fixture
def written(agent_cm: ChatML, repo: Path, tmp_path: Path) -> Any:
    """A session whose scripted task agent wrote fizzbuzz.py."""
    script = write_script(tmp_path / "task.json", TASK_TURNS)
    session = agent_cm.new_session(repo, name="fb", agent=f"scripted:{script}", permission_mode="bypass")
    session.send("write fizzbuzz")
    assert session.wait(timeout=60) == "idle"
    return session


def test_cli_review_findings_log_fix_resolve_and_report(
    agent_cm: ChatML, written: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "fb", "--kind", "quick", "--wait", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "Review #1: Quick review is idle" in out
    assert "F1   warning    open     fizzbuzz.py:6  fizzbuzz(0) and negatives return FizzBuzz" in out
    assert "F2   suggestion open     fizzbuzz.py:16  Move the test out of the module" in out

    assert main(["log", "fb", "--conversation", "review"]) == 0
    review_log = capsys.readouterr().out
    assert "you: Review: Quick review" in review_log and "write fizzbuzz" not in review_log
    assert main(["log", "fb"]) == 0
    mixed = capsys.readouterr().out
    assert "you: write fizzbuzz" in mixed and "[Review #1: Quick review] you: Review: Quick review" in mixed

    assert main(["resolve", "fb", "F2", "ignored", "--note", "on purpose"]) == 0
    assert "F2 is ignored" in capsys.readouterr().out
    assert main(["findings", "fb"]) == 0
    assert "F2" not in capsys.readouterr().out.replace("F2 ", "")  # only open ones by default
    assert main(["fix", "fb", "F1"]) == 0
    assert "task conversation" in capsys.readouterr().out
    session = agent_cm.session("fb")
    assert session.wait(timeout=60) == "idle"
    [last] = [e for e in session.events(conversation="task") if e.type is EventType.USER_MESSAGE][-1:]
    assert "F1" in last.data["text"] and "F2" not in last.data["text"]

    assert main(["send", "fb", "a word for the reviewer", "--conversation", "review"]) == 0
    capsys.readouterr()
    assert session.wait(timeout=60) == "idle"
    texts = [
        e.data["text"] for e in session.events(conversation="review") if e.type is EventType.USER_MESSAGE
    ]
    assert texts[-1] == "a word for the reviewer"

    with pytest.raises(SystemExit) as exited:
        main(["review", "fb", "--kind", "style"])
    assert exited.value.code == 1 and "invalid choice: 'style'" in capsys.readouterr().err
    assert main(["log", "fb", "--conversation", "nope"]) == 1
    assert "no conversation 'nope'" in capsys.readouterr().err

    assert main(["report", "fb", "--out", str(tmp_path / "rep")]) == 0
    assert "report HTML" in capsys.readouterr().out
    page = (tmp_path / "rep" / "fb-report.html").read_text()
    assert "Move the test out of the module" in page


@pytest.fixture
def ip(agent_cm: ChatML) -> Iterator[Any]:
    """The test IPython shell with the extension loaded, on the test's data dir."""
    shell = globalipapp.get_ipython()  # type: ignore[no-untyped-call]
    shell.run_line_magic("load_ext", "chatml_lab")
    magics = shell.magics_manager.registry["ChatMLMagics"]
    magics.settings.data_dir = str(agent_cm.data_dir)
    magics.settings.runner_idle_timeout = 3.0
    try:
        yield shell
    finally:
        if magics._manager is not None:
            kill_runners(magics._manager)
        magics.close()
        magics.settings.data_dir = None


def test_magics_review_and_findings(ip: Any, written: Any, capsys: pytest.CaptureFixture[str]) -> None:
    conv = ip.run_line_magic("chatml", "review fb --kind deep")
    assert "started Review #1: Deep review of fb" in capsys.readouterr().out
    assert written.wait_conversation(conv, timeout=60) == "idle"
    styler = ip.run_line_magic("chatml", "findings fb")
    html = styler.to_html()
    assert "fizzbuzz(0) and negatives return FizzBuzz" in html and "suggestion" in html
    ip.run_line_magic("chatml", "review fb --kind nope")
    assert "chatml: error: unknown review kind 'nope'" in capsys.readouterr().err


def test_chat_review_and_fix_buttons(agent_cm: ChatML, written: Any) -> None:
    panel = ChatPanel(written, autostart=False)
    try:
        panel.bar.kind.value = "security"
        panel.bar.review_button.click()
        review = written.conversation("review")
        assert review.title == "Review #1: Security review"
        assert panel.conversation_id == review.id and panel.bar.selected == review.id
        assert written.wait_conversation(review, timeout=60) == "idle"
        panel.refresh()
        shown = "".join(child.value for child in panel.transcript.children)
        assert shown.count('class="chatml-finding"') == 2
        panel.bar.fix_button.click()
        assert panel.conversation_id == written.conversation().id, "back on the task tab"
        assert written.wait(timeout=60) == "idle"
        panel.refresh()
        assert "Resolved both findings." in panel.text
        assert {f.status.value for f in written.finding_list()} == {"fixed", "ignored"}
        panel.bar.fix_button.click()
        assert "no open findings" in panel.banner.value
    finally:
        panel.close()


def test_dashboard_review_button_opens_the_review_tab(agent_cm: ChatML, written: Any) -> None:
    dash = Dashboard(agent_cm, autostart=False)
    try:
        row = dash.row("fb")
        assert row.review in row.actions.children
        row.review.click()
        dash.wait(timeout=30)
        review = written.conversation("review")
        assert dash.chat is not None and dash.chat.conversation_id == review.id
        wait_for(lambda: written.conversation_state(review) == "idle", timeout=60, what="review done")
    finally:
        dash.close()
