"""Agent features above the runner: default agent, auto-naming, archive summaries, agent CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chatml_lab.agents import lease
from chatml_lab.agents.scripted_server import ScriptedServer
from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import AgentUnavailableError, ApprovalNotFoundError
from chatml_lab.events import EventType
from chatml_lab.models import SummaryState

from .agent_fixtures import agent_cm, wait_for, write_script
from .conftest import git

__all__ = ["agent_cm"]

TEXT_ONLY = [[{"type": "text", "text": "ok"}], [{"type": "text", "text": "again"}]]


def test_no_agent_configured_is_one_clear_error_and_creates_nothing(
    cm: ChatML, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-claude"))  # installed but not logged in
    with pytest.raises(AgentUnavailableError) as info:
        cm.new_session(repo, name="nokey", prompt="do something")
    message = str(info.value)
    assert "\n" not in message
    for option in ("ANTHROPIC_API_KEY", "chatml-lab[claude-code]", "scripted"):
        assert option in message
    assert cm.store.sessions(include_archived=True) == []
    assert "chatml/nokey" not in git(repo, "branch", "--list")

    session = cm.new_session(repo, name="later")  # no prompt: the agent is chosen on first send
    with pytest.raises(AgentUnavailableError):
        session.send("hello")
    assert session.events() == []


def test_unknown_agent_is_refused(cm: ChatML, repo: Path) -> None:
    with pytest.raises(AgentUnavailableError, match="unknown agent 'gpt'"):
        cm.new_session(repo, agent="gpt")
    assert cm.store.sessions(include_archived=True) == []


def test_auto_name_from_first_message_renames_branch_once(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", TEXT_ONLY)
    session = agent_cm.new_session(repo, agent=f"scripted:{script}")  # generated name
    generated = session.name
    session.send("Please fix the flaky login test in CI")
    assert session.wait(timeout=60) == "idle"
    assert session.name == "fix-flaky-login-test"
    assert session.branch == "chatml/fix-flaky-login-test"
    assert git(session.worktree, "branch", "--show-current").strip() == "chatml/fix-flaky-login-test"
    assert f"chatml/{generated}" not in git(repo, "branch", "--list")
    [suggestion] = [e for e in session.events() if e.type is EventType.NAME_SUGGESTION]
    assert suggestion.data["source"] == "fallback"
    assert session.record.auto_named

    session.send("Now something completely different")
    assert session.wait(timeout=60) == "idle"
    assert session.name == "fix-flaky-login-test"  # named once


def test_user_given_names_are_not_auto_renamed(agent_cm: ChatML, repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.json", TEXT_ONLY)
    session = agent_cm.new_session(repo, name="mine", agent=f"scripted:{script}")
    session.send("Refactor the payment module")
    assert session.wait(timeout=60) == "idle"
    assert session.name == "mine"
    assert not [e for e in session.events() if e.type is EventType.NAME_SUGGESTION]


def test_auto_name_uses_the_model_and_retries_after_a_failure(
    agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", TEXT_ONLY)
    session = agent_cm.new_session(repo, agent=f"scripted:{script}")
    generated = session.name
    os.environ["ANTHROPIC_API_KEY"] = "sk-test-title-key-123456"
    os.environ["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens: the title call fails
    try:
        session.send("Add a dark mode toggle to settings")
        assert session.wait(timeout=60) == "idle"
        assert session.name == generated and not session.record.auto_named  # not settled: retry later
        # A runner keeps the environment it started with: let this one exit before the next send.
        conv = agent_cm.agents.conversation(session.id)
        wait_for(lambda: lease.read_lease(agent_cm.store, conv.id) is None, timeout=15, what="idle exit")
        with ScriptedServer({"turns": [[{"type": "text", "text": "Add dark mode toggle"}]]}) as titles:
            os.environ["ANTHROPIC_BASE_URL"] = titles.url
            session.send("Also make it remember the choice")
            assert session.wait(timeout=60) == "idle"
    finally:
        del os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"]
    assert session.name == "add-dark-mode-toggle"
    [suggestion] = [e for e in session.events() if e.type is EventType.NAME_SUGGESTION]
    assert suggestion.data["source"] == "model"


def test_archive_summary_fallback_and_model(cm: ChatML, repo: Path) -> None:
    plain = cm.new_session(repo, name="plain")
    (plain.worktree / "work.txt").write_text("draft\n")
    plain.archive()
    rec = plain.record
    assert rec.archive_summary_state is SummaryState.COMPLETED
    assert "1 uncommitted path" in (rec.archive_summary or "")
    assert [e.data["source"] for e in plain.events() if e.type is EventType.ARCHIVE_SUMMARY] == ["fallback"]

    words = " ".join(["restore"] * 250)
    with ScriptedServer({"turns": [[{"type": "text", "text": words}]]}) as server:
        os.environ["ANTHROPIC_API_KEY"] = "sk-test-summary-key-123456"
        os.environ["ANTHROPIC_BASE_URL"] = server.url
        try:
            modeled = cm.new_session(repo, name="modeled")
            modeled.archive()
        finally:
            del os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"]
        request = server.requests[-1]
    assert modeled.record.archive_summary == words
    assert modeled.record.archive_summary_state is SummaryState.COMPLETED
    assert "deciding whether to restore" in json.dumps(request)


def test_agent_cli_commands(
    agent_cm: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(
        tmp_path / "s.json",
        [
            [{"type": "tool_use", "name": "Write", "input": {"file_path": "x.txt", "content": "x\n"}}],
            [{"type": "text", "text": "wrote x"}],
            [{"type": "text", "text": "more"}],
        ],
    )
    assert main(["new", "clirun", "--repo", str(repo), "--agent", f"scripted:{script}"]) == 0
    assert main(["send", "clirun", "write x"]) == 0
    assert "sent to clirun" in capsys.readouterr().out
    session = agent_cm.session("clirun")
    assert session.wait(timeout=60) == "waiting"
    assert main(["log", "clirun"]) == 0
    log = capsys.readouterr().out
    assert "you: write x" in log and "? approval" in log and "Write" in log
    [request] = session.pending_approvals()
    assert main(["approve", "clirun", str(request.data["id"])]) == 0
    assert f"approved {request.data['id']}" in capsys.readouterr().out
    assert session.wait(timeout=60) == "idle"
    assert (session.worktree / "x.txt").read_text() == "x\n"
    assert main(["deny", "clirun"]) == 1
    assert "chatml: error: no pending approval" in capsys.readouterr().err
    assert main(["send", "clirun", "more please", "--wait", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "agent: [scripted] more" in out and "agent is idle" in out
    assert main(["log", "clirun", "--follow"]) == 0  # returns once the agent is idle
    assert "turn done" in capsys.readouterr().out
    assert main(["stop", "clirun"]) == 0
    assert main(["interrupt", "clirun"]) == 0
    assert main(["send", "ghost", "hi"]) == 1
    assert capsys.readouterr().err.startswith("chatml: error: no session named 'ghost'")


def test_approve_without_pending_request(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="calm")
    with pytest.raises(ApprovalNotFoundError, match="no pending approval"):
        session.approve()
