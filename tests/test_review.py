"""Review conversations end to end: the scripted reviewer files findings, the task agent fixes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.agents.sandbox import sandbox_available, sandbox_problem
from chatml_lab.core.manager import ChatML
from chatml_lab.core.review import default_review_script, review_model, set_review_model
from chatml_lab.core.session import Session
from chatml_lab.errors import InvalidArgumentError, SessionError
from chatml_lab.events import Event, EventType
from chatml_lab.models import Conversation, ConversationKind, FindingStatus
from chatml_lab.render.blocks import fold
from chatml_lab.render.html import render_events
from chatml_lab.render.text import render_text
from chatml_lab.render.tool_calls import tool_summary
from chatml_lab.widgets.chat import ChatPanel
from chatml_lab.widgets.notebook_view import notebook_write_view

from .agent_fixtures import agent_cm, write_script
from .conftest import git

__all__ = ["agent_cm"]

FIZZBUZZ = 'def fizzbuzz(n: int) -> str:\n    if n % 15 == 0:\n        return "FizzBuzz"\n    return str(n)\n'
#: The task agent: writes fizzbuzz.py; after fix_findings, resolves F1 as fixed and F2 as ignored.
TASK_TURNS = [
    [{"type": "tool_use", "name": "Write", "input": {"file_path": "fizzbuzz.py", "content": FIZZBUZZ}}],
    [{"type": "text", "text": "Wrote fizzbuzz.py."}],
    [
        {"type": "tool_use", "name": "list_review_comments", "input": {}},
        {"type": "tool_use", "name": "resolve_review_comment", "input": {"id": "F1", "resolution": "fixed"}},
        {
            "type": "tool_use",
            "name": "resolve_review_comment",
            "input": {"id": "F2", "resolution": "ignored", "note": "tests stay next to the code here"},
        },
    ],
    [{"type": "text", "text": "Resolved both findings."}],
]


def _reviewed(agent_cm: ChatML, repo: Path, tmp_path: Path) -> tuple[Session, Conversation]:
    script = write_script(tmp_path / "task.json", TASK_TURNS)
    session = agent_cm.new_session(repo, name="fb", agent=f"scripted:{script}", permission_mode="bypass")
    session.send("write fizzbuzz")
    assert session.wait(timeout=60) == "idle"
    review = session.review()
    assert session.wait_conversation(review, timeout=60) == "idle"
    return session, review


def test_a_scripted_review_files_two_findings_shown_in_the_chat_and_fixed_by_the_task_agent(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    session, review = _reviewed(agent_cm, repo, tmp_path)
    assert review.kind is ConversationKind.REVIEW and review.title == "Review #1: Quick review"
    assert [c.kind.value for c in session.conversations()] == ["task", "review"]

    frame = session.findings()
    assert list(frame.columns) == [
        "id", "file", "line", "severity", "title", "body", "status", "conversation", "created_at",
    ]  # fmt: skip
    assert frame[["id", "file", "line", "severity", "status"]].values.tolist() == [
        ["F1", "fizzbuzz.py", 6, "warning", "open"],
        ["F2", "fizzbuzz.py", 16, "suggestion", "open"],
    ]
    assert set(frame["conversation"]) == {"Review #1: Quick review"}
    [card] = session.scorecards()
    assert [s["dimension"] for s in card.scores] == ["correctness", "tests", "readability"]
    assert card.review_kind == "quick" and card.conversation_id == review.id

    # Shown in the chat: the review conversation's tab renders each finding as a card.
    review_events = session.events(conversation=review)
    page = render_events(review_events)
    assert page.count('class="chatml-finding"') == 2 and 'class="chatml-scorecard"' in page
    assert "fizzbuzz(0) and negatives return FizzBuzz" in page and "Move the test out of the module" in page
    panel = ChatPanel(session, autostart=False)
    try:
        assert [label for label, _ in panel.bar.tabs.options] == ["Task", "Review #1: Quick review"]
        shown = "".join(child.value for child in panel.transcript.children)
        assert "chatml-finding" not in shown and "write fizzbuzz" in shown, "the task tab first"
        panel.bar.tabs.value = review.id  # a click on the review's tab
        shown = "".join(child.value for child in panel.transcript.children)
        assert shown.count('class="chatml-finding"') == 2 and "write fizzbuzz" not in shown
    finally:
        panel.close()
    # The review ran on its own: the task conversation has none of it.
    task_text = render_text(session.events(conversation="task"))
    assert "Finding" not in task_text and "write fizzbuzz" in task_text
    assert "Review: Quick review" in render_text(review_events)

    message = session.fix_findings()
    assert "F1" in message and "F2" in message and "fizzbuzz(0) and negatives" in message
    assert session.wait(timeout=60) == "idle"
    task_events = session.events(conversation="task")
    sent = [e.data["text"] for e in task_events if e.type is EventType.USER_MESSAGE]
    assert sent[-1] == message, "one message, into the task conversation"
    assert not [e for e in session.events(conversation=review) if e.data.get("text") == message]
    statuses = {f.id: (f.status, f.resolution_note) for f in session.finding_list()}
    assert statuses == {
        "F1": (FindingStatus.FIXED, None),
        "F2": (FindingStatus.IGNORED, "tests stay next to the code here"),
    }
    with pytest.raises(InvalidArgumentError, match="no open findings"):
        session.fix_findings()


def test_review_runs_read_only_with_the_review_model_and_its_prompt(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    writer = write_script(
        tmp_path / "review.json",
        [
            [{"type": "tool_use", "name": "Write", "input": {"file_path": "evil.txt", "content": "x"}}],
            [{"type": "tool_use", "name": "RunNotebook", "input": {"path": "nb.ipynb"}}],
            [{"type": "text", "text": "could not write"}],
        ],
    )
    task = write_script(tmp_path / "task.json", [[{"type": "text", "text": "ok"}]])
    session = agent_cm.new_session(
        repo, name="ro", agent=f"scripted:{task}", agent_options={"review_script": str(writer)},
        permission_mode="bypass",
    )  # fmt: skip
    set_review_model(agent_cm, "claude-haiku-test")
    assert review_model(agent_cm) == "claude-haiku-test"
    review = session.review("security", instructions="Focus on the login form.")
    assert session.wait_conversation(review, timeout=60) == "idle"
    assert not (session.worktree / "evil.txt").exists()
    ends = [e for e in session.events(conversation=review) if e.type is EventType.TOOL_END]
    assert [e.data["ok"] for e in ends] == [False, False]
    assert "plan mode" in ends[0].data["output"]
    assert "unknown tool" in ends[1].data["output"] or "plan mode" in ends[1].data["output"]
    options = agent_cm.store.conversation_options(review.id)
    assert options["permission_mode"] == "plan" and options["model"] == "claude-haiku-test"
    prompt = options["instructions"]
    for section in ("## Review strategy", "## Check for", "## Severity guidance", "## Do NOT flag",
                    "injection", "## Additional instructions\nFocus on the login form."):  # fmt: skip
        assert section in prompt
    # The transcript the reviewer's backend keeps has the kind's tools, not the editing ones.
    assert session.record.permission_mode.value == "bypass", "the session's own mode is untouched"
    assert review.title == "Review #1: Security review"


def test_review_kinds_and_errors(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="kinds", agent="scripted")
    with pytest.raises(InvalidArgumentError, match=r"unknown review kind 'style'.*quick, deep, security"):
        session.review("style")
    assert [c.kind.value for c in session.conversations()] == ["task"], "nothing half-made"
    with pytest.raises(InvalidArgumentError, match="one task conversation"):
        session.new_conversation("task")
    with pytest.raises(SessionError, match=r"no conversation 'nope'.*Task"):
        session.events(conversation="nope")
    with pytest.raises(InvalidArgumentError, match="no finding 'F9'"):
        session.fix_findings(["F9"])
    assert default_review_script().is_file()


def test_several_conversations_each_with_its_own_log(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "hello back"}]] * 3)
    session = agent_cm.new_session(repo, name="multi", agent=f"scripted:{script}")
    chat = session.new_conversation("chat")
    assert chat.title == "Chat #1" and session.new_conversation("chat").title == "Chat #2"
    session.send("to the chat", conversation=chat)
    session.send("to the task")
    assert session.wait(timeout=60) == "idle"
    chat_texts = [
        e.data["text"] for e in session.events(conversation=chat) if e.type is EventType.USER_MESSAGE
    ]
    task_texts = [
        e.data["text"] for e in session.events(conversation="task") if e.type is EventType.USER_MESSAGE
    ]
    assert chat_texts == ["to the chat"] and task_texts == ["to the task"]
    assert session.conversation("Chat #1").id == chat.id == session.conversation(chat.id[:8]).id
    assert session.conversation("chat").title == "Chat #2", "a kind names the newest of that kind"
    assert len(session.events()) > len(session.events(conversation=chat)), "no key: every conversation"


def test_review_tools_validate_their_input(cm: ChatML, repo: Path) -> None:
    from chatml_lab.agents.review_tools import ReviewTools

    session = cm.new_session(repo, name="tools")
    conv = session.new_conversation("review")
    tools = ReviewTools(cm.store, session.id, conv.id, session.worktree, "origin/main", session.base_commit)
    good = {"file_path": "a.py", "line_number": 3, "title": "T", "content": "c", "severity": "error"}
    assert tools.run("add_review_comment", good).output.startswith("Added F1 [error] a.py:3 T")
    for bad, reason in (
        ({**good, "severity": "fatal"}, "severity must be one of"),
        ({**good, "line_number": "3"}, "line_number must be"),
        ({**good, "title": "x" * 200}, "keep it under 60"),
        ({**good, "file_path": "../etc/passwd"}, "inside the worktree"),
        (good, "repeats F1"),
    ):
        outcome = tools.run("add_review_comment", bad)
        assert not outcome.ok and reason in outcome.output
    assert not tools.run("resolve_review_comment", {"id": "F7", "resolution": "fixed"}).ok
    assert (
        "resolution must be" in tools.run("resolve_review_comment", {"id": "F1", "resolution": "done"}).output
    )
    assert not tools.run(
        "submit_review_scorecard", {"scores": [{"dimension": "x", "score": 11}], "summary": "s"}
    ).ok
    assert not tools.run("submit_review_scorecard", {"scores": [], "summary": "s"}).ok
    assert tools.run("get_review_comment_stats", {}).output.startswith("1 review comment: 1 open")
    assert tools.run("resolve_review_comment", {"id": "f1", "resolution": "fixed"}).ok
    assert "F1 [error] a.py:3 T (fixed)" in tools.run("list_review_comments", {}).output
    # Numbers are per session.
    other = cm.new_session(repo, name="other")
    assert (
        cm.store.add_finding(
            other.id, None, "b.py", 1, "t", "c", cm.store.findings(session.id)[0].severity
        ).id
        == "F1"
    )


def _notebook(cells: list[str]) -> str:
    import nbformat

    nbf: Any = nbformat  # untyped package
    node = nbf.v4.new_notebook(cells=[nbf.v4.new_code_cell(src) for src in cells])
    node.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return str(nbf.writes(node))


def test_get_workspace_diff_shows_notebooks_cell_by_cell_with_uncommitted_work(
    cm: ChatML, repo: Path
) -> None:
    from chatml_lab.agents.review_tools import ReviewTools

    (repo / "analysis.ipynb").write_text(_notebook(["import math", "x = 1\nprint(x)"]))
    git(repo, "add", "analysis.ipynb")
    git(repo, "commit", "-qm", "add notebook")
    git(repo, "push", "-q", "origin", "main")
    session = cm.new_session(repo, name="nbdiff")
    wt = session.worktree
    (wt / "analysis.ipynb").write_text(_notebook(["import math", "x = 2\nprint(x)", "y = math.pi"]))
    git(wt, "commit", "-qam", "change the notebook")
    (wt / "notes.txt").write_text("untracked note\n")  # uncommitted, untracked: still in the diff
    conv = session.new_conversation("review")
    tools = ReviewTools(cm.store, session.id, conv.id, wt, "origin/main", session.base_commit)

    full = tools.run("get_workspace_diff", {})
    assert full.ok
    text = full.output
    assert "diff --nbdime a/analysis.ipynb b/analysis.ipynb" in text
    assert "## modified /cells/1/source:" in text and "-  x = 1" in text and "+  x = 2" in text
    assert "## inserted before /cells/2:" in text and "y = math.pi" in text
    assert '"cell_type"' not in text, "cells, not JSON"
    assert "+untracked note" in text
    stat = tools.run("get_workspace_diff", {"stat": True}).output
    assert "notes.txt" in stat and "analysis.ipynb (notebook): cells: 1 added, 1 modified" in stat
    only = tools.run("get_workspace_diff", {"file_path": "notes.txt"}).output
    assert "notes.txt" in only and "nbdime" not in only
    assert git(wt, "status", "--porcelain") == "?? notes.txt\n", "the real index is untouched"


def test_run_notebook_returns_the_error_and_traceback_to_the_agent(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    failing = _notebook(["x = 41\nprint('x is', x)", "def f(v):\n    return v / 0\nf(x)", "print('never')"])
    script = write_script(
        tmp_path / "s.json",
        [
            [{"type": "tool_use", "name": "Write", "input": {"file_path": "bad.ipynb", "content": failing}}],
            [{"type": "tool_use", "name": "RunNotebook", "input": {"path": "bad.ipynb", "timeout": 60}}],
            [{"type": "text", "text": "cell 2 divides by zero"}],
        ],
    )
    session = agent_cm.new_session(
        repo, name="runnb", agent=f"scripted:{script}", permission_mode="accept_edits"
    )
    session.send("run the notebook")
    assert session.wait(timeout=60) == "waiting", "RunNotebook runs code: it is approved like Bash"
    [request] = session.pending_approvals()
    assert request.data["tool"] == "RunNotebook"
    session.approve()
    assert session.wait(timeout=120) == "idle"
    [end] = [e for e in session.events() if e.type is EventType.TOOL_END and "cells" in e.data["output"]]
    output = end.data["output"]
    assert not end.data["ok"]
    assert "2 of 3 code cells ran" in output and "cell 2 raised ZeroDivisionError: division by zero" in output
    assert "Traceback" in output and "----> 3 f(x)" in output and "x is 41" in output
    assert "never" not in output.split("--- outputs")[1]
    # What the agent got back is that account, as a tool_result in its transcript.
    conv = agent_cm.agents.conversation(session.id)
    transcript = json.dumps(agent_cm.store.backend_state(conv.id)["messages"])
    assert "ZeroDivisionError" in transcript and "----> 3 f(x)" in transcript
    import nbformat

    stored = nbformat.read(session.worktree / "bad.ipynb", 4)  # type: ignore[no-untyped-call]
    assert not any(c.get("outputs") for c in stored.cells), "the notebook file is not modified"


def test_run_notebook_is_time_bounded_and_confined(cm: ChatML, repo: Path) -> None:
    from chatml_lab.agents.notebook_tool import NotebookTool
    from chatml_lab.agents.tools import ToolRunner

    session = cm.new_session(repo, name="slow")
    wt = session.worktree
    (wt / "slow.ipynb").write_text(_notebook(["print('started')", "import time\ntime.sleep(60)"]))
    tool = NotebookTool(ToolRunner(wt, Path(git(wt, "rev-parse", "--git-common-dir").strip()).resolve()))
    outcome = tool.run({"path": "slow.ipynb", "timeout": 4})
    assert (
        not outcome.ok and "timed out after 4 s in cell 2: 1 of 2 code cells had finished" in outcome.output
    )
    assert "started" in outcome.output
    for bad, reason in (
        ({"path": "../x.ipynb"}, "'..' is not allowed"),
        ({"path": "/etc/hosts"}, "outside the worktree"),
        ({"path": "README.md"}, "not a notebook"),
        ({"path": "slow.ipynb", "timeout": -1}, "positive number"),
    ):
        result = tool.run(bad)
        assert not result.ok and reason in result.output


@pytest.mark.skipif(not sandbox_available(), reason=f"no sandbox here: {sandbox_problem()}")
def test_run_notebook_runs_inside_the_bash_sandbox(
    cm: ChatML, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatml_lab.agents.notebook_tool import NotebookTool
    from chatml_lab.agents.tools import ToolRunner

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-the-notebook")
    session = cm.new_session(repo, name="boxed")
    wt = session.worktree
    outside = repo / "escaped.txt"
    (wt / "box.ipynb").write_text(
        _notebook(
            [
                "import os\nprint('key:', os.environ.get('ANTHROPIC_API_KEY'))",
                f"open({str(outside)!r}, 'w').write('out of the worktree')",
            ]
        )
    )
    common = Path(git(wt, "rev-parse", "--git-common-dir").strip()).resolve()
    runner = ToolRunner(wt, common, branch=session.branch)
    assert runner.is_sandboxed()
    outcome = NotebookTool(runner).run({"path": "box.ipynb", "timeout": 60})
    assert not outcome.ok and "cell 2 raised" in outcome.output, outcome.output
    assert "key: None" in outcome.output, "the kernel gets Bash's credential-free environment"
    assert not outside.exists(), "the kernel may write only in the worktree"
    (wt / "box.ipynb").write_text(_notebook(["open('inside.txt', 'w').write('in the worktree')"]))
    assert NotebookTool(runner).run({"path": "box.ipynb", "timeout": 60}).ok
    assert (wt / "inside.txt").read_text() == "in the worktree"


def test_a_notebook_write_shows_as_cells_where_a_view_is_given() -> None:
    content = _notebook(["import math", "x = math.pi"])
    call = {"file_path": "a.ipynb", "content": content}
    events = [
        Event(1, "c", EventType.TOOL_START, {"id": "t1", "tool": "Write", "input": call}, 0.0),
        Event(2, "c", EventType.TOOL_END, {"id": "t1", "ok": True, "output": "wrote a.ipynb"}, 0.0),
    ]
    viewed = render_events(events, notebook_write_view)
    assert 'class="chatml-nbdiff"' in viewed and "## inserted before /cells/0:" in viewed
    assert "x = math.pi" in viewed and "&quot;cell_type&quot;" not in viewed
    plain = render_events(events)
    assert "chatml-nbdiff" not in plain and "&quot;cell_type&quot;" in plain, "without it: the JSON text"
    assert tool_summary("Write", call) == "Write a.ipynb (2 cells)"
    text = {"file_path": "a.py", "content": "x = 1\n"}
    assert (
        notebook_write_view(
            fold([Event(1, "c", EventType.TOOL_START, {"id": "t", "tool": "Write", "input": text}, 0.0)])[0]
        )
        is None
    )
