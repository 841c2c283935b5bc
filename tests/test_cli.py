"""The `chatml` command line: every subcommand in-process, errors as one line, and one real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML

from .conftest import commit_file, git


class Cli:
    """Runs `chatml ARGS` in-process and captures what it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str, code: int = 0) -> str:
        got = main(list(args))
        out, err = self.capsys.readouterr()
        assert got == code, f"chatml {' '.join(args)} exited {got}: {err}"
        assert "Traceback" not in err
        self.err = err
        return out

    def error(self, *args: str) -> str:
        """Run a command that must fail: exit 1, one line on stderr; return the line without its prefix."""
        got = main(list(args))
        _out, err = self.capsys.readouterr()
        assert got == 1, f"chatml {' '.join(args)} exited {got}"
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("chatml: error: "), err
        assert "Traceback" not in err
        return lines[0].removeprefix("chatml: error: ")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def manager() -> ChatML:
    return ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]))


def test_workspace_commands(cli: Cli, repo: Path, tmp_path: Path) -> None:
    out = cli("workspace", "add", str(repo))
    assert "added workspace project" in out and "default branch main" in out and "remote origin" in out
    local = tmp_path / "local"
    git(tmp_path, "init", "-q", "-b", "main", str(local))
    commit_file(local, "a.txt", "a\n")
    assert "no remote" in cli("workspace", "add", str(local), "--name", "Side Project")

    listed = cli("workspace", "list").splitlines()
    assert [line.split("\t")[0] for line in listed] == ["project", "side-project"]
    data = json.loads(cli("workspace", "list", "--json"))
    assert data == [
        {"name": "project", "path": str(repo.resolve()), "default_branch": "main", "remote": "origin"},
        {"name": "side-project", "path": str(local.resolve()), "default_branch": "main", "remote": None},
    ]

    cli("new", "busy", "--repo", "side-project")
    assert "still has 1 session" in cli.error("workspace", "remove", "side-project")
    out = cli("workspace", "remove", "project")
    assert "removed workspace project" in out and "untouched" in out
    assert (repo / ".git").is_dir()
    cli("workspace", "remove", "side-project", "--force")
    assert "no workspaces" in cli("workspace", "list")


def test_new_list_show_set(cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / ".")  # `chatml new` without --repo uses the current repository
    out = cli("new", "Fix Login Bug", "--priority", "high", "--permission-mode", "plan")
    assert "created session fix-login-bug on branch chatml/fix-login-bug" in out
    assert "note: name 'Fix Login Bug' became 'fix-login-bug'" in cli.err
    cli("new", "second", "--repo", str(repo))
    generated = cli("new", "--repo", str(repo)).split()[2]
    assert generated and generated not in ("fix-login-bug", "second")

    table = cli("list").splitlines()
    assert table[0].split() == [
        "name", "workspace", "machine", "owner", "priority", "task_status", "pinned", "pr_status", "branch", "ahead", "behind",
        "agent_state", "cost_usd", "updated_at",
    ]  # fmt: skip
    assert table[1].startswith("fix-login-bug ")  # high priority sorts first
    assert " in progress " in table[1]  # labels for people; --json keeps the enum values
    assert len(table) == 4

    cli("set", "second", "--priority", "urgent", "--status", "in-review", "--pin")
    out = cli("set", "second", "--rename", "Second Try")
    assert "second-try: priority urgent, status in review, pinned, branch chatml/second-try" in out
    assert "not pinned" in cli("set", "second-try", "--unpin")
    assert "nothing to set" in cli.error("set", "second-try")

    shown = dict(line.split(None, 1) for line in cli("show", "fix-login-bug").splitlines() if line.strip())
    assert shown["name"] == "fix-login-bug" and shown["branch"] == "chatml/fix-login-bug"
    assert shown["priority"] == "high" and shown["task_status"] == "in progress"
    assert shown["health"] == "ok" and shown["base"].startswith("origin/main (")
    assert shown["ports"].count("-") == 1 and shown["disk"].endswith("B")


def test_json_fields_equal_the_table_columns(cli: Cli, repo: Path) -> None:
    cli("new", "one", "--repo", str(repo))
    cli("new", "two", "--repo", str(repo), "--priority", "low")
    cli("archive", "two")
    with manager() as cm:
        live_columns = list(cm.table().columns)
        all_columns = list(cm.table(include_archived=True).columns)
    live = json.loads(cli("list", "--json"))
    assert [row["name"] for row in live] == ["one"]
    assert list(live[0]) == live_columns
    everything = json.loads(cli("list", "--all", "--json"))
    assert {row["name"] for row in everything} == {"one", "two"}
    assert all(list(row) == all_columns for row in everything)
    assert live[0]["priority"] == "none" and live[0]["pinned"] is False
    assert live[0]["task_status"] == "in_progress" and live[0]["agent_state"] == "idle"
    assert live[0]["updated_at"].endswith("+00:00")  # ISO 8601 with the zone


def test_sync_archive_unarchive_delete(cli: Cli, repo: Path, origin: Path, tmp_path: Path) -> None:
    cli("new", "worker", "--repo", str(repo))
    with manager() as cm:
        worktree = cm.session("worker").worktree
    commit_file(worktree, "w.txt", "work\n")
    assert cli("sync", "worker").strip() == "worker: ahead 1, behind 0"
    assert "worker: ahead 1" in cli("sync", "--all")

    (worktree / "wip.txt").write_text("uncommitted\n")
    out = cli("archive", "worker")
    assert "archived worker" in out and "refs/chatml/snapshots/" in out
    assert not worktree.exists()
    assert "is archived" in cli.error("sync", "worker")
    assert "no live sessions" in cli("sync")
    assert "restored worker" in cli("unarchive", "worker")
    assert (worktree / "wip.txt").read_text() == "uncommitted\n"

    message = cli.error("delete", "worker")
    assert "would lose" in message and "force" in message
    assert worktree.exists()
    out = cli("delete", "worker", "--force")
    assert "deleted worker; its work is kept in refs/chatml/snapshots/" in out
    assert not worktree.exists()
    assert "no sessions" in cli("list", "--all")


def test_gc_du_settings(cli: Cli, repo: Path, tmp_path: Path) -> None:
    cli("new", "small", "--repo", str(repo))
    du = cli("du").splitlines()
    assert du[0].split()[-1] == "small" and du[-1].split()[-1] == "total"

    with manager() as cm:
        gone = cm.session("small").worktree
        orphan = cm.workspaces_dir / "project" / "orphan"
    git(repo, "worktree", "add", "-q", "-b", "orphan-branch", str(orphan))
    import shutil

    shutil.rmtree(gone)
    out = cli("gc", "--dry-run")
    assert f"orphan worktree (no session): {orphan}" in out
    assert "missing worktree (deleted by hand): session small" in out
    assert orphan.exists()
    # Without a terminal to confirm on, gc refuses to clean unless told --yes.
    assert "--yes" in cli.error("gc")
    assert orphan.exists()
    out = cli("gc", "--yes")
    assert f"removed orphan worktree {orphan}" in out and "archived small" in out
    assert not orphan.exists()
    assert cli("gc").strip() == "nothing to collect"

    listed = cli("list", "--all")
    assert "small" in listed
    settings = dict(line.split(": ", 1) for line in cli("settings").splitlines())
    assert settings["branch_prefix"] == "chatml"
    assert settings["data_dir"] == os.environ["CHATML_DATA_DIR"]
    elsewhere = tmp_path / "trees"
    settings = dict(
        line.split(": ", 1)
        for line in cli(
            "settings", "--workspaces-dir", str(elsewhere), "--branch-prefix", "none"
        ).splitlines()
    )
    assert settings == {**settings, "workspaces_dir": str(elsewhere), "branch_prefix": "(none)"}
    out = cli("new", "flat", "--repo", str(repo))
    assert f"on branch flat at {elsewhere / 'project' / 'flat'}" in out
    cli("settings", "--workspaces-dir", "", "--branch-prefix", "team")
    assert "on branch team/nested" in cli("new", "nested", "--repo", str(repo))
    assert "is not valid" in cli.error("settings", "--branch-prefix", "team.lock")


def test_new_from_pr_and_failing_setup(cli: Cli, repo: Path, origin: Path, tmp_path: Path) -> None:
    contributor = tmp_path / "contributor"
    git(tmp_path, "clone", "-q", str(origin), str(contributor))
    sha = commit_file(contributor, "pr.txt", "pr\n")
    git(contributor, "push", "-q", "origin", "HEAD:refs/pull/3/head")
    out = cli("new", "--repo", str(repo), "--from-pr", "3")
    assert "created session pr-3 on branch chatml/pr-3" in out
    with manager() as cm:
        assert git(cm.session("pr-3").worktree, "rev-parse", "HEAD").strip() == sha
    assert "#4 not found" in cli.error("new", "--repo", str(repo), "--from-pr", "4")

    (repo / ".chatml").mkdir()
    (repo / ".chatml" / "config.json").write_text(json.dumps({"setup": "exit 5"}))
    cli("new", "fragile", "--repo", str(repo))
    assert "warning: setup script setup-1 failed" in cli.err
    table = cli("list")
    assert table.splitlines()[0].split()[-1] == "health"
    assert "setup script setup-1 failed" in table


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["new", "x", "--repo", "/nonexistent/repo"], "does not exist"),
        (["new", "!!!"], "no letters or digits"),
        (["new", "x", "--priority", "asap"], "unknown priority 'asap'"),
        (["new", "x", "--base", "nope"], "no branch, tag or commit named 'nope'"),
        (["new", "x", "--from-pr", "1", "--base", "main"], "either --from-pr or --base"),
        (["show", "ghost"], "no session named 'ghost'"),
        (["set", "ghost", "--pin"], "no session named 'ghost'"),
        (["archive", "ghost"], "no session named 'ghost'"),
        (["unarchive", "ghost"], "no session named 'ghost'"),
        (["delete", "ghost"], "no session named 'ghost'"),
        (["sync", "ghost"], "no session named 'ghost'"),
        (["workspace", "remove", "ghost"], "no workspace 'ghost'"),
        (["settings", "--workspaces-dir", "/proc/nope"], "is not writable"),
    ],
)
def test_errors_are_one_line(
    cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(repo)
    assert expected in cli.error(*args)
    with manager() as cm:
        assert cm.store.sessions(include_archived=True) == []


def test_errors_on_existing_sessions(cli: Cli, repo: Path) -> None:
    cli("new", "live", "--repo", str(repo))
    assert "is not archived" in cli.error("unarchive", "live")
    assert "is taken" in cli.error("new", "live", "--repo", str(repo))
    assert "unknown task status 'wip'" in cli.error("set", "live", "--status", "wip")
    assert "is already the workspace" in cli.error("workspace", "add", str(repo))


def test_real_subprocess_of_the_entry_point(repo: Path, tmp_path: Path) -> None:
    chatml = Path(sys.executable).parent / "chatml"
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    made = subprocess.run(
        [str(chatml), "new", "from shell", "--repo", str(repo)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "created session from-shell" in made.stdout
    listed = subprocess.run(
        [str(chatml), "list", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert [row["name"] for row in json.loads(listed.stdout)] == ["from-shell"]
    failed = subprocess.run(
        [str(chatml), "show", "ghost"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert failed.returncode == 1
    assert failed.stderr == "chatml: error: no session named 'ghost': see `chatml list --all` for the names\n"
    assert failed.stdout == ""


def test_help_lists_every_session_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("workspace", "new", "list", "show", "set", "sync", "archive", "unarchive", "delete",
                    "gc", "du", "settings"):  # fmt: skip
        assert command in out


def test_a_command_imports_only_its_own_group(tmp_path: Path) -> None:
    """`chatml list` loads the session commands, not the demo, the doctor, the agent commands, pandas,
    git bindings or the SDK."""
    heavy = ("pandas", "nbformat", "ipywidgets", "chatml_lab.demo", "chatml_lab.doctor", "chatml_lab.cli.demo",
             "chatml_lab.cli.doctor", "chatml_lab.cli.agents", "chatml_lab.cli.workspaces", "git", "pygit2",
             "anthropic", "psutil")  # fmt: skip
    code = (
        "import sys\n"
        "from chatml_lab.cli import main\n"
        "status = main(['list', '--json'])\n"
        f"print(status, sorted(m for m in {heavy!r} if m in sys.modules), 'chatml_lab.cli.sessions' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[-1] == "0 [] True", done.stderr
    for command in ("doctor", "send", "workspace"):  # and each of those finds its own module when run
        helped = subprocess.run([sys.executable, "-m", "chatml_lab.cli", command, "--help"],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert helped.returncode == 0 and f"usage: chatml {command}" in helped.stdout, helped.stderr


def test_ambiguous_name_tells_the_ids_to_use(cli: Cli, repo: Path, origin: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    cli("new", "same", "--repo", str(repo))
    cli("new", "same", "--repo", str(other))
    message = cli.error("show", "same")
    assert "names sessions in workspaces other (id " in message and "project (id " in message
    first_id = message.split("(id ")[1].split(")")[0]
    shown = cli("show", first_id)
    assert "same" in shown and first_id in shown


def test_new_from_inside_a_session_worktree(cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal in a session's worktree: `chatml new` belongs to the same repository, not a new one."""
    cli("new", "first", "--repo", str(repo))
    with manager() as cm:
        first = cm.session("first").worktree
        assert cm.workspace(first).name == "project"
        assert cm.workspace(first / ".").path == repo.resolve()
    (first / "deeper").mkdir()
    monkeypatch.chdir(first / "deeper")
    assert "on branch chatml/second" in cli("new", "second")
    assert [line.split("\t")[0] for line in cli("workspace", "list").splitlines()] == ["project"]
    with manager() as cm:
        second = cm.session("second").record
    assert second.base_ref == "origin/main"
    assert second.worktree_path.parent == first.parent


def test_relative_data_and_workspaces_dirs(repo: Path, tmp_path: Path) -> None:
    """Relative CHATML_DATA_DIR / CHATML_WORKSPACES_DIR mean the caller's directory, never the repository."""
    chatml = Path(sys.executable).parent / "chatml"
    here = tmp_path / "here"
    here.mkdir()
    env = {**os.environ, "CHATML_DATA_DIR": "data", "CHATML_WORKSPACES_DIR": "trees"}
    made = subprocess.run([str(chatml), "new", "rel", "--repo", str(repo)], capture_output=True, text=True,
                          env=env, cwd=here, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (here / "trees" / "project" / "rel" / "README.md").is_file()
    assert (here / "data").is_dir()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    shown = subprocess.run([str(chatml), "show", "rel"], capture_output=True, text=True, env=env, cwd=here)
    assert f"worktree     {here / 'trees' / 'project' / 'rel'}" in shown.stdout
    assert "health       ok" in shown.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["new", "--from-pr", "seven"],
            "argument --from-pr: 'seven' is not a pull request number or URL (see `chatml new --help`)",
        ),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["set"], "the following arguments are required: name"),
        (["set", "x", "--pin", "--unpin"], "argument --unpin: not allowed with argument --pin"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_are_one_line_too(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chatml: error: ") and expected in err, err
