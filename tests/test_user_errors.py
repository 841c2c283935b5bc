"""Issue 8, failures 6 and 9: what a user meets, each as one line in the UI's own syntax.

An answer to a crashed agent's request is refused (nobody would act on it); a missing script, a
vanished repository, a control character in a name are said plainly and change nothing; a session
made without an agent can be given one.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from IPython.testing import globalipapp

from chatml_lab.agents import lease
from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import AgentUnavailableError, InvalidNameError, WorkspaceRepositoryMissingError
from chatml_lab.events import EventType

from .agent_fixtures import agent_cm, kill_runners, wait_for, write_script
from .conftest import git

__all__ = ["agent_cm"]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def one_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, _, err = cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("chatml: error: "), err
    return lines[0]


def test_approving_a_crashed_agent_is_refused_and_says_how_to_resume(
    agent_cm: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "ask.json", [
        [{"type": "tool_use", "name": "Write", "input": {"file_path": "asked.txt", "content": "x\n"}}],
        [{"type": "text", "text": "Done."}],
    ])  # fmt: skip
    session = agent_cm.new_session(repo, name="asker", agent=f"scripted:{script}")
    session.send("write it")
    assert session.wait(timeout=60) == "waiting"
    conversation = agent_cm.agents.conversation(session.id).id
    held = lease.read_lease(agent_cm.store, conversation)
    assert held is not None and held.pid > 0
    os.kill(held.pid, signal.SIGKILL)
    wait_for(lambda: not lease.pid_is_runner(held.pid), what="the runner to die")

    for verb in ("approve", "deny"):
        line = one_error(capsys, verb, "asker")
        assert "is crashed" in line and "nobody would act on the answer" in line, line
        assert 'chatml send asker "go on"' in line
    assert session.agent_state == "crashed"
    assert not (session.worktree / "asked.txt").exists()
    assert not [e for e in session.events() if e.type is EventType.APPROVAL_RESPONSE]
    with pytest.raises(Exception, match=r'session\.send\("go on"\)'):
        session.approve()  # the Python API says it in its own words


def test_a_missing_agent_script_is_refused_at_new(
    cm: ChatML, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_error(capsys, "new", "x", "--repo", str(repo), "--agent", "scripted:/nonexistent.json")
    assert "/nonexistent.json cannot be read" in line and "--agent scripted" in line
    assert cm.store.sessions(include_archived=True) == []
    assert git(repo, "branch", "--list", "chatml/*").strip() == ""


def test_no_agent_configured_speaks_each_uis_syntax(
    cm: ChatML, repo: Path, capsys: pytest.CaptureFixture[str], hermetic: Path
) -> None:
    line = one_error(capsys, "new", "x", "--repo", str(repo), "--prompt", "hello")
    assert "--agent scripted" in line and "agent=" not in line
    with pytest.raises(AgentUnavailableError) as info:
        cm.new_session(repo, name="x", prompt="hello")
    assert 'agent="scripted"' in str(info.value) and "--agent" not in str(info.value)
    shell: Any = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "chatml_lab")
    magics = shell.magics_manager.registry["ChatMLMagics"]
    magics.settings.data_dir = os.environ["CHATML_DATA_DIR"]
    try:
        shell.run_line_magic("chatml", f"new x --repo {repo} --prompt hello")
        _, err = capsys.readouterr()
        assert "--agent scripted" in err and "agent=" not in err
    finally:
        magics.close()
        magics.settings.data_dir = None


def test_a_session_made_without_an_agent_can_get_one(
    cm: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "new", "plain", "--repo", str(repo))[0] == 0
    assert cm.session("plain").agent_backend is None
    code, out, _ = cli(capsys, "set", "plain", "--agent", "scripted", "--permission-mode", "bypass")
    assert code == 0 and "agent scripted (bypass)" in out
    rec = cm.session("plain").record
    assert (rec.agent_backend, rec.permission_mode.value) == ("scripted", "bypass")
    assert "cannot run" in one_error(capsys, "set", "plain", "--agent", "anthropic")  # no key here

    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "hi"}]])
    other = cm.new_session(repo, name="api")
    other.update(agent=f"scripted:{script}", permission_mode="accept_edits")
    rec = other.record
    assert rec.agent_backend == "scripted" and rec.agent_options["script"] == str(script)
    assert rec.permission_mode.value == "accept_edits"


def test_a_control_character_in_a_name_is_an_error_and_other_changes_a_note(cm: ChatML, repo: Path) -> None:
    with pytest.raises(InvalidNameError, match="control character U\\+0000"):
        cm.new_session(repo, name="fix\x00login")
    assert cm.store.sessions(include_archived=True) == []
    session = cm.new_session(repo, name="Fix/Login")
    assert session.name == "fix-login"
    notes = [e.data["message"] for e in session.events() if e.type is EventType.NOTICE]
    assert "name 'Fix/Login' became 'fix-login'" in notes


@pytest.fixture
def second(cm: ChatML, origin: Path, tmp_path: Path) -> Path:
    path = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(origin), str(path))
    cm.add_workspace(path)
    return path


def test_a_deleted_workspace_repository_is_named_as_such(
    cm: ChatML, repo: Path, second: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm.new_session(repo, name="here")
    cm.new_session(second, name="there")
    shutil.rmtree(second)
    code, out, err = cli(capsys, "sync", "--all")
    assert code == 0 and "here: ahead 0, behind 0" in out
    assert (
        "skipped there: the repository of workspace 'second' is missing" in err
    )  # reported, not skipped silently
    line = one_error(capsys, "new", "more", "--repo", "second")
    assert "the repository of workspace 'second' is missing" in line
    assert (
        "`chatml workspace set second --path NEW`" in line
        and "`chatml workspace remove second --force`" in line
    )
    with pytest.raises(WorkspaceRepositoryMissingError, match=r'cm\.update_workspace\("second", path=NEW\)'):
        cm.new_session("second", name="more")
    code, out, _ = cli(capsys, "list")
    assert "the repository of workspace 'second' is missing" in out


def test_a_moved_repository_is_re_pointed(
    cm: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = cm.new_session(repo, name="moving")
    (session.worktree / "wip.txt").write_text("wip\n")
    moved = tmp_path / "moved"
    shutil.move(str(repo), str(moved))
    code, out, _ = cli(capsys, "workspace", "set", "project", "--path", str(moved))
    assert code == 0 and f"is at {moved}" in out
    assert cm.workspace("project").path == moved.resolve()
    assert git(session.worktree, "status", "--porcelain").strip() == "?? wip.txt"  # re-linked
    code, out, _ = cli(capsys, "sync", "moving")
    assert code == 0 and "moving: ahead 0" in out
    assert cm.reconcile(session.record).health == "ok"
    kill_runners(cm)
