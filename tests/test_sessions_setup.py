"""Fresh worktrees made usable: setup scripts with CHATML_* variables and port blocks, `.worktreeinclude`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.errors import ChatMLError
from chatml_lab.events import EventType

from .conftest import git

ENV_DUMP = "env | grep '^CHATML_' | sort > chatml-env.txt && echo setup ran in $PWD"


def write_config(repo: Path, config: dict[str, object], commit: bool = True) -> None:
    """Write `.chatml/config.json` in the main checkout (and commit it)."""
    path = repo / ".chatml" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(config))
    if commit:
        git(repo, "add", ".chatml/config.json")
        git(repo, "commit", "-q", "-m", "chatml config")
        git(repo, "push", "-q", "origin", "main")


SCRIPT_VARS = ("CHATML_PORT", "CHATML_ROOT_PATH", "CHATML_SESSION_NAME", "CHATML_WORKSPACE_PATH")


def read_env_file(path: Path) -> dict[str, str]:
    """The four variables scripts get, as the script wrote them."""
    pairs = dict(line.split("=", 1) for line in path.read_text().splitlines())
    return {key: value for key, value in pairs.items() if key in SCRIPT_VARS}


def test_setup_script_sees_chatml_variables(cm: ChatML, repo: Path) -> None:
    write_config(repo, {"setupScripts": [{"name": "dump env", "command": ENV_DUMP}]})
    first = cm.new_session(repo, name="first")
    second = cm.new_session(repo, name="second")

    for session in (first, second):
        env = read_env_file(session.worktree / "chatml-env.txt")
        assert env == {
            "CHATML_PORT": str(session.port_base),
            "CHATML_ROOT_PATH": str(repo.resolve()),
            "CHATML_SESSION_NAME": session.name,
            "CHATML_WORKSPACE_PATH": str(session.worktree),
        }
        outputs = [e for e in session.events() if e.type is EventType.SETUP_OUTPUT]
        assert len(outputs) == 1
        assert outputs[0].data["script"] == "dump env"
        assert outputs[0].data["exit_code"] == 0
        assert f"setup ran in {session.worktree}" in outputs[0].data["output"]
        assert session.health == "ok"
    assert abs(first.port_base - second.port_base) >= cm.config.port_block
    # The main checkout got no file from the script.
    assert not (repo / "chatml-env.txt").exists()


def test_failing_setup_script_is_recorded_and_reported(cm: ChatML, repo: Path) -> None:
    write_config(repo, {"setup": ["echo installing; echo broken >&2; exit 3", "touch never-ran"]})
    session = cm.new_session(repo, name="broken")
    assert session.worktree.is_dir()  # kept, so the user can look at what went wrong
    assert not (session.worktree / "never-ran").exists()
    events = session.events()
    outputs = [e.data for e in events if e.type is EventType.SETUP_OUTPUT]
    assert [(o["script"], o["exit_code"]) for o in outputs] == [("setup-1", 3)]
    assert "installing" in outputs[0]["output"] and "broken" in outputs[0]["output"]
    errors = [e.data["message"] for e in events if e.type is EventType.ERROR]
    assert any("setup-1" in message and "exited 3" in message for message in errors)

    frame = cm.table().set_index("name")
    assert "setup script setup-1 failed" in str(frame.loc["broken", "health"])
    # The report survives later reconciliation (a table refresh must not reset it to ok).
    assert "setup script setup-1 failed" in str(cm.table().set_index("name").loc["broken", "health"])


def test_setup_script_from_uncommitted_config(cm: ChatML, repo: Path) -> None:
    """The main checkout's config counts even before it is committed (ChatML reads it from the repo root)."""
    write_config(repo, {"setup": "echo hello > hello.txt"}, commit=False)
    session = cm.new_session(repo, name="local-config")
    assert (session.worktree / "hello.txt").read_text() == "hello\n"


def test_worktreeinclude_copies_ignored_files_only(cm: ChatML, repo: Path) -> None:
    (repo / ".gitignore").write_text(".env\n*.log\nlocal.cfg\nsecrets/\n")
    (repo / "tracked.txt").write_text("committed\n")
    (repo / ".worktreeinclude").write_text(".env\nsecrets/\ntracked.txt\nnotes.txt\n")
    git(repo, "add", ".gitignore", "tracked.txt", ".worktreeinclude")
    git(repo, "commit", "-q", "-m", "include list")
    git(repo, "push", "-q", "origin", "main")
    (repo / ".env").write_text("TOKEN=abc\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".env").write_text("NESTED=1\n")
    (repo / "secrets").mkdir()
    (repo / "secrets" / "key.pem").write_text("KEY\n")
    (repo / "local.cfg").write_text("ignored but not listed\n")
    (repo / "debug.log").write_text("ignored but not listed\n")
    (repo / "notes.txt").write_text("listed but not ignored\n")
    (repo / "tracked.txt").write_text("changed in the main checkout\n")

    session = cm.new_session(repo, name="included")
    wt = session.worktree
    assert (wt / ".env").read_text() == "TOKEN=abc\n"
    assert (wt / "sub" / ".env").read_text() == "NESTED=1\n"
    assert (wt / "secrets" / "key.pem").read_text() == "KEY\n"
    assert not (wt / "local.cfg").exists()
    assert not (wt / "debug.log").exists()
    assert not (wt / "notes.txt").exists()
    assert (wt / "tracked.txt").read_text() == "committed\n"
    assert git(wt, "status", "--porcelain") == ""


def test_archive_scripts_run_before_the_worktree_goes(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "archived.log"
    write_config(repo, {"archive": [f"echo $CHATML_SESSION_NAME $CHATML_PORT $PWD >> {log}; echo stopped"]})
    session = cm.new_session(repo, name="tidy")
    worktree, port = session.worktree, session.port_base
    session.archive()
    assert log.read_text() == f"tidy {port} {worktree}\n"
    outputs = [e.data for e in session.events() if e.type is EventType.SETUP_OUTPUT]
    assert outputs[-1]["exit_code"] == 0 and "stopped" in outputs[-1]["output"]


def test_failing_archive_script_stops_archive_unless_forced(cm: ChatML, repo: Path) -> None:
    write_config(repo, {"archiveScripts": [{"name": "stop server", "command": "echo cannot stop; exit 2"}]})
    session = cm.new_session(repo, name="stubborn")
    (session.worktree / "wip.txt").write_text("wip\n")
    with pytest.raises(ChatMLError, match="archive script 'stop server' exited 2") as info:
        session.archive()
    assert "\n" not in str(info.value)
    assert not session.archived and (session.worktree / "wip.txt").exists()
    assert git(repo, "for-each-ref", "refs/chatml/") == ""
    session.archive(force=True)
    assert session.archived and not session.worktree.exists()
    session.unarchive()
    assert (session.worktree / "wip.txt").read_text() == "wip\n"
