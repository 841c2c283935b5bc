"""``%chatml`` / ``%%chatml`` in-process: every subcommand, its errors, configuration, laziness."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.testing import globalipapp
from pandas.io.formats.style import Styler
from traitlets.config import Config as TraitletsConfig

from chatml_lab.events import EventType
from chatml_lab.ipython.config import ChatML as ChatMLSettings
from chatml_lab.ipython.magics import ChatMLMagics
from chatml_lab.reports.listing import SessionTable
from chatml_lab.widgets.chat import ChatPanel
from chatml_lab.widgets.dashboard import Dashboard

from .agent_fixtures import kill_runners, wait_for, write_script
from .conftest import commit_file, git

WRITE_THEN_DONE = [
    [
        {"type": "text", "text": "Writing notes."},
        {"type": "tool_use", "name": "Write", "input": {"file_path": "notes.md", "content": "hi\n"}},
    ],
    [{"type": "text", "text": "Done."}],
]


@pytest.fixture
def ip(hermetic: Path) -> Iterator[Any]:
    """The test IPython shell with the extension loaded, on this test's temp data dir."""
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "chatml_lab")
    magics = _magics(shell)
    magics.settings.data_dir = os.environ["CHATML_DATA_DIR"]
    magics.settings.runner_idle_timeout = 3.0
    magics.settings.refresh_interval = 0.1
    magics.settings.drift_interval = 0.0
    try:
        yield shell
    finally:
        if magics._manager is not None:
            kill_runners(magics._manager)
        magics.close()
        magics.settings.data_dir = None


def _magics(shell: Any) -> ChatMLMagics:
    found = shell.magics_manager.registry["ChatMLMagics"]
    assert isinstance(found, ChatMLMagics)
    return found


def run(shell: Any, line: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str, str]:
    """Run ``%chatml LINE``; return (result, stdout, stderr)."""
    result = shell.run_line_magic("chatml", line)
    out, err = capsys.readouterr()
    return result, out, err


def one_error(err: str, fragment: str) -> None:
    """The magic's error contract: exactly one line on stderr, no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chatml: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


# -- loading --------------------------------------------------------------------------------------------


def test_load_ext_imports_nothing_heavy(hermetic: Path) -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'chatml_lab')\n"
        "assert 'chatml' in ip.magics_manager.magics['line'] and 'chatml' in ip.magics_manager.magics['cell']\n"
        "heavy = [m for m in ('pandas', 'ipywidgets', 'git', 'anthropic', 'nbclient', 'chatml_lab.core.manager') if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "none"


def test_help(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result, out, _ = run(ip, "help", capsys)
    assert result is None
    assert "%chatml new" in out and "%%chatml" in out
    _, out, _ = run(ip, "help set", capsys)
    assert out.startswith("%chatml set")
    _, out, _ = run(ip, "", capsys)
    assert "%chatml dashboard" in out


def test_traitlets_configuration(hermetic: Path, tmp_path: Path) -> None:
    config = TraitletsConfig()
    config.ChatML.data_dir = str(tmp_path / "data")
    config.ChatML.default_agent = "scripted"
    config.ChatML.fetch_timeout = 3.5
    settings = ChatMLSettings(config=config)
    assert settings.core_config().fetch_timeout == 3.5
    assert settings.new_session_defaults() == {"agent": "scripted"}
    manager = settings.manager()
    try:
        assert manager.data_dir == tmp_path / "data"
        assert manager.config.fetch_timeout == 3.5
    finally:
        manager.close()


def test_config_magic_reaches_the_settings(ip: Any) -> None:
    ip.run_line_magic("config", "ChatML.refresh_interval = 0.25")
    assert _magics(ip).settings.refresh_interval == 0.25


# -- sessions: create, list, set, sync --------------------------------------------------------------------


def test_new_and_list(ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, err = run(ip, f"new first --repo {repo} --priority high", capsys)
    assert "created session first on branch chatml/first" in out and err == ""
    run(ip, f"new second --repo {repo}", capsys)
    shown, _, _ = run(ip, "list", capsys)
    assert isinstance(shown, SessionTable)  # drawn without pandas; the DataFrame and Styler on demand
    assert list(shown.data["name"]) == ["first", "second"]  # high priority first
    html = shown._repr_html_()
    assert "first" in html and "high" in html
    assert isinstance(shown.styler, Styler)
    assert list(shown.styler.data["name"]) == ["first", "second"]  # type: ignore[attr-defined]


def test_new_defaults_to_the_repository_of_the_working_directory(
    ip: Any, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    _, out, _ = run(ip, "new here", capsys)
    assert "created session here" in out
    assert _magics(ip).manager.workspaces()[0].path == repo


def test_new_outside_a_repository_is_one_line(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result, _, err = run(ip, "new nowhere", capsys)
    assert result is None
    one_error(err, "git")


def test_set_changes_priority_status_pin_and_name(
    ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, f"new one --repo {repo}", capsys)
    _, out, _ = run(ip, "set one --priority urgent --status in_review --pin", capsys)
    assert "priority urgent, status in review, pinned" in out
    _, out, _ = run(ip, "set one --rename renamed --unpin", capsys)
    assert "renamed" in out and "not pinned" in out
    rec = _magics(ip).manager.session("renamed").record
    assert (rec.priority.value, rec.task_status.value, rec.pinned, rec.branch) == (
        "urgent", "in_review", False, "chatml/renamed",
    )  # fmt: skip


def test_sync_one_and_all(ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, f"new drifty --repo {repo}", capsys)
    _, out, _ = run(ip, "sync drifty", capsys)
    assert out.strip() == "drifty: ahead 0, behind 0"
    commit_file(repo, "later.txt", "x\n")
    git(repo, "push", "-q", "origin", "main")
    _magics(ip).manager.config = _magics(ip).manager.config.__class__(fetch_throttle=0)
    _, out, _ = run(ip, "sync --all", capsys)
    assert out.strip() == "drifty: ahead 0, behind 1"


def test_sync_without_sessions(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(ip, "sync", capsys)
    assert out.strip() == "no live sessions to sync"


# -- archive, unarchive, delete ------------------------------------------------------------------------------


def test_archive_unarchive_delete(ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, f"new keep --repo {repo}", capsys)
    worktree = _magics(ip).manager.session("keep").worktree
    (worktree / "draft.txt").write_text("unsaved\n")
    _, out, _ = run(ip, "archive keep", capsys)
    assert "archived keep" in out and "refs/chatml/" in out
    assert not worktree.exists()
    styled, _, _ = run(ip, "list --all", capsys)
    assert bool(styled.data.loc[styled.data["name"] == "keep", "archived"].iloc[0])
    _, out, _ = run(ip, "unarchive keep", capsys)
    assert "restored keep" in out
    assert (worktree / "draft.txt").read_text() == "unsaved\n"
    _, _, err = run(ip, "delete keep", capsys)
    one_error(err, "would lose")
    _, out, _ = run(ip, "delete keep --force", capsys)
    assert "deleted keep" in out and "until `chatml gc`" in out


def test_errors_are_one_line_without_traceback(
    ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for line, fragment in [
        ("chat ghost", "no session named 'ghost'"),
        ("bogus", "unknown subcommand"),
        ("set ghost --pin", "no session named"),
        ("new --priority sky-high", "unknown priority"),
        ("unarchive ghost", "no session named"),
        (f"new dup --repo {repo} --base no-such-ref", "no-such-ref"),
    ]:
        result, _, err = run(ip, line, capsys)
        assert result is None
        one_error(err, fragment)
    run(ip, f"new live --repo {repo}", capsys)
    _, _, err = run(ip, "unarchive live", capsys)
    one_error(err, "is not archived")


# -- settings and doctor ---------------------------------------------------------------------------------------


def test_settings(ip: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, out, _ = run(ip, "settings", capsys)
    assert os.environ["CHATML_DATA_DIR"] in out and "branch_prefix" in out and "refresh_interval" in out
    _, out, _ = run(ip, f"settings --branch-prefix none --workspaces-dir {tmp_path / 'wt'}", capsys)
    assert "(none)" in out and str(tmp_path / "wt") in out
    _, _, err = run(ip, "settings --branch-prefix 'bad..prefix'", capsys)
    one_error(err, "not valid")


def test_doctor_reports_without_leaking_the_key(
    ip: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value-123")
    _, out, _ = run(ip, "doctor", capsys)
    assert "sk-ant-secret-value-123" not in out
    for name in ("git", "bubblewrap", "API key", "claude-code SDK", "data dir", "workspaces dir"):
        assert name in out
    assert "ANTHROPIC_API_KEY is set" in out
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    _, out, _ = run(ip, "doctor", capsys)
    assert "ANTHROPIC_API_KEY is not set" in out


# -- widgets from magics -----------------------------------------------------------------------------------------


def test_dashboard_is_one_live_widget(ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, f"new shown --repo {repo}", capsys)
    board, _, _ = run(ip, "dashboard", capsys)
    assert isinstance(board, Dashboard)
    assert board.polling
    assert [r["name"] for r in board.visible] == ["shown"]
    again, _, _ = run(ip, "dashboard", capsys)
    assert again is board  # a second display is a second view, not a second poller
    _magics(ip).close()
    assert not board.polling


def test_unload_ext_stops_the_threads_the_extension_started(
    ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, f"new watched --repo {repo}", capsys)
    before = set(threading.enumerate())
    board, _, _ = run(ip, "dashboard", capsys)
    board.row("watched").chat.click()  # a chat opened from the dashboard, polling too
    panel, _, _ = run(ip, "chat watched", capsys)
    nested = board.chat
    assert nested is not None and board.polling and nested.polling and panel.polling
    started = {t.name for t in set(threading.enumerate()) - before}
    assert {"chatml-dashboard", f"chatml-chat-{panel.session.id[:8]}"} <= started
    ip.run_line_magic("unload_ext", "chatml_lab")
    assert not board.polling and not nested.polling and not panel.polling
    assert board.comm is None and panel.comm is None
    assert [t.name for t in set(threading.enumerate()) - before if t.name.startswith("chatml-")] == []
    assert (
        "chatml" not in ip.magics_manager.magics["line"] and "chatml" not in ip.magics_manager.magics["cell"]
    )
    assert "ChatMLMagics" not in ip.magics_manager.registry
    ip.run_line_magic("load_ext", "chatml_lab")  # and it loads again
    assert "chatml" in ip.magics_manager.magics["line"]


def test_chat_panel(ip: Any, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, f"new talk --repo {repo}", capsys)
    panel, _, _ = run(ip, "chat talk", capsys)
    assert isinstance(panel, ChatPanel)
    assert panel.polling
    assert run(ip, "chat talk", capsys)[0] is panel
    panel.close()
    assert not panel.polling
    assert run(ip, "chat talk", capsys)[0] is not panel  # a closed panel is replaced


# -- agents: send, approve, deny, stop, interrupt, cell magic ----------------------------------------------------


def _events(ip: Any, name: str) -> list[Any]:
    return list(_magics(ip).manager.session(name).events())


def test_send_runs_the_agent(ip: Any, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_path / "s.json", WRITE_THEN_DONE)
    run(ip, f"new worker --repo {repo} --agent scripted:{script} --permission-mode bypass", capsys)
    _, out, _ = run(ip, "send worker please write notes", capsys)
    assert "sent to worker" in out
    session = _magics(ip).manager.session("worker")
    assert session.wait(timeout=60) == "idle"
    texts = [e.data["text"] for e in _events(ip, "worker") if e.type is EventType.ASSISTANT_TEXT]
    assert texts == ["Writing notes.", "Done."]
    assert (session.worktree / "notes.md").read_text() == "hi\n"
    user = [e.data["text"] for e in _events(ip, "worker") if e.type is EventType.USER_MESSAGE]
    assert user == ["please write notes"]


def test_approve_and_deny(ip: Any, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = [{"type": "tool_use", "name": "Write", "input": {"file_path": "more.md", "content": "x\n"}}]
    script = write_script(tmp_path / "s.json", [*WRITE_THEN_DONE, second, [{"type": "text", "text": "Ok."}]])
    _, _, err = run(ip, "approve nobody", capsys)
    one_error(err, "no session named")
    run(ip, f"new asker --repo {repo} --agent scripted:{script} --prompt go", capsys)
    session = _magics(ip).manager.session("asker")
    wait_for(session.pending_approvals, timeout=60, what="an approval request")
    _, out, _ = run(ip, "approve asker", capsys)
    assert "asker: approved request" in out
    assert session.wait(timeout=60) == "idle"
    assert (session.worktree / "notes.md").exists()
    _, _, err = run(ip, "deny asker", capsys)
    one_error(err, "no pending approval")
    run(ip, "send asker again", capsys)  # the script's second Write asks again
    wait_for(session.pending_approvals, timeout=60, what="a second approval request")
    _, out, _ = run(ip, "deny asker", capsys)
    assert "asker: denied request" in out
    session.wait(timeout=60)
    responses = [e.data["approved"] for e in session.events() if e.type is EventType.APPROVAL_RESPONSE]
    assert responses == [True, False]


def test_stop_and_interrupt(ip: Any, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_path / "s.json", WRITE_THEN_DONE)
    run(ip, f"new halt --repo {repo} --agent scripted:{script} --prompt go", capsys)
    session = _magics(ip).manager.session("halt")
    wait_for(session.pending_approvals, timeout=60, what="an approval request")
    _, out, _ = run(ip, "interrupt halt", capsys)
    assert out.strip() == "halt: interrupt requested"
    _, out, _ = run(ip, "stop halt", capsys)
    assert out.strip() == "halt: stop requested"
    # wait() may return at once while the runner has not read the stop yet: poll the state.
    wait_for(lambda: session.agent_state in ("idle", "stopped"), timeout=60, what="the agent to stop")
    _, _, err = run(ip, "stop ghost", capsys)
    one_error(err, "no session named")


def test_cell_magic_new_session_and_follow_up(
    ip: Any, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "Hello from the script."}]] * 2)
    monkeypatch.chdir(repo)
    panel = ip.run_cell_magic("chatml", f"celly --agent scripted:{script}", "Say hello\n")
    out, err = capsys.readouterr()
    assert isinstance(panel, ChatPanel) and err == ""
    assert "created session celly" in out
    session = _magics(ip).manager.session("celly")
    assert session.wait(timeout=60) == "idle"
    again = ip.run_cell_magic("chatml", "celly", "And again")
    assert again is panel
    session.wait(timeout=60)
    panel.refresh()
    assert [b for b in panel.text.splitlines() if b.startswith("you:")] == [
        "you: Say hello",
        "you: And again",
    ]
    assert "agent [scripted]: Hello from the script." in panel.text


def test_cell_magic_without_name_creates_a_session(
    ip: Any, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "Hi."}]])
    monkeypatch.chdir(repo)
    panel = ip.run_cell_magic("chatml", f"--agent scripted:{script}", "Start something")
    out, _ = capsys.readouterr()
    assert isinstance(panel, ChatPanel)
    assert "created session" in out
    assert panel.session.wait(timeout=60) == "idle"


def test_cell_magic_errors(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.run_cell_magic("chatml", "name", "   ") is None
    one_error(capsys.readouterr().err, "the cell is empty")
