"""The agent's sandbox beyond refs (DESIGN §5): git identity, a per-session /tmp, credentials, network."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.agents import sandbox as sandbox_module
from chatml_lab.agents.sandbox import SandboxPolicy, describe, sandbox_available, sandbox_problem, scrub_env
from chatml_lab.agents.tools import ToolRunner
from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import ChatMLError, ConfigError

from .agent_fixtures import kill_runners, write_script
from .conftest import git

needs_bwrap = pytest.mark.skipif(not sandbox_available(), reason=f"no sandbox here: {sandbox_problem()}")

SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api-SECRET-0001-do-not-leak",
    "ANTHROPIC_AUTH_TOKEN": "auth-token-SECRET-0002-do-not-leak",
    "CLAUDE_CODE_OAUTH_TOKEN": "oauth-SECRET-0003-do-not-leak",
    "GITHUB_TOKEN": "ghp_SECRET0004donotleak",
    "GH_TOKEN": "gho_SECRET0005donotleak",
    "MY_SERVICE_TOKEN": "svc-SECRET-0006-do-not-leak",
}


@pytest.fixture
def worktree(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "chatml/s1", str(path))
    return path


# -- settings ----------------------------------------------------------------------------------


def test_config_carries_the_sandbox_settings_to_a_runner() -> None:
    config = Config(sandbox_network="off", sandbox_env_allow="GH_TOKEN, MY_TOKEN")
    assert Config.from_json(config.to_json()) == config
    assert SandboxPolicy.from_config(config) == SandboxPolicy(False, frozenset({"GH_TOKEN", "MY_TOKEN"}))
    assert SandboxPolicy.from_config(Config()) == SandboxPolicy(True, frozenset())
    with pytest.raises(ConfigError, match="sandbox_network must be 'on' or 'off', not 'maybe'"):
        Config(sandbox_network="maybe")


def test_scrub_env_drops_credentials_unless_allowed() -> None:
    env = {
        **SECRETS,
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "GIT_AUTHOR_NAME": "A",
        "TOKENIZERS_PARALLELISM": "1",
    }
    kept = scrub_env(env)
    assert sorted(kept) == ["GIT_AUTHOR_NAME", "HOME", "PATH", "TOKENIZERS_PARALLELISM"]
    assert scrub_env(env, ["GH_TOKEN"])["GH_TOKEN"] == SECRETS["GH_TOKEN"]


# -- git identity and the session's /tmp ----------------------------------------------------------


def _drop_identity_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)


@needs_bwrap
@pytest.mark.parametrize("where", ["home", "xdg", "GIT_CONFIG_GLOBAL"])
def test_agent_commits_with_the_users_git_identity_from_a_home_under_tmp(
    worktree: Path, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """HOME is under /tmp here (the hermetic fixture), which the sandbox's private /tmp would hide."""
    _drop_identity_env(monkeypatch)
    home = Path(os.environ["HOME"])
    assert home.is_relative_to("/tmp")
    config = {
        "home": home / ".gitconfig",
        "xdg": Path(os.environ["XDG_CONFIG_HOME"]) / "git" / "config",
        "GIT_CONFIG_GLOBAL": tmp_path / "elsewhere" / "global.gitconfig",
    }[where]
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[user]\n\tname = Config Person\n\temail = person@example.invalid\n")
    if where == "GIT_CONFIG_GLOBAL":
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    assert runner.is_sandboxed()
    outcome = runner.run(
        "Bash", {"command": "echo x > x.txt && git add x.txt && git commit -q -m 'by the agent'"}
    )
    assert outcome.ok, outcome.output
    assert (
        git(repo, "log", "-1", "--format=%an <%ae>", "chatml/s1").strip()
        == "Config Person <person@example.invalid>"
    )


def test_the_session_tmp_persists_between_commands_and_goes_with_the_worktree(
    worktree: Path, repo: Path
) -> None:
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    marker = f"chatml-note-{os.getpid()}"
    tmp = "/tmp" if runner.is_sandboxed() else "$TMPDIR"
    first = runner.run(
        "Bash",
        {
            "command": f"echo kept > {tmp}/{marker}; python3 -c 'import tempfile; print(tempfile.gettempdir())'"
        },
    )
    assert first.ok, first.output
    assert first.output.strip() == ("/tmp" if runner.is_sandboxed() else str(runner.sandbox.tmp_dir))
    second = runner.run("Bash", {"command": f"cat {tmp}/{marker}"})
    assert second.ok and second.output.strip() == "kept"
    assert (runner.sandbox.tmp_dir / marker).read_text() == "kept\n"
    if runner.is_sandboxed():
        assert not (Path("/tmp") / marker).exists()  # the host's /tmp never saw it
    assert runner.sandbox.tmp_dir.is_relative_to(repo / ".git" / "worktrees")
    git(repo, "worktree", "remove", "--force", str(worktree))
    assert not runner.sandbox.tmp_dir.exists()


@needs_bwrap
def test_a_sandbox_that_bubblewrap_could_not_set_up_is_set_up_again_and_the_command_runs_once(
    worktree: Path, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another session's commit replacing its ref file while bwrap binds it read-only makes bwrap
    # give up before the command starts ("bwrap: Can't bind mount ..."): here a bind whose source
    # vanished does the same, on the first start only.
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    real = runner.bash_argv
    starts: list[list[str]] = []

    def argv(command: str) -> list[str]:
        found = real(command)
        starts.append(found)
        if len(starts) == 1:
            return [found[0], "--ro-bind", str(tmp_path / "gone"), "/gone", *found[1:]]
        return found

    monkeypatch.setattr(runner, "bash_argv", argv)
    done = runner.run("Bash", {"command": "echo ran >> ran.txt"})
    assert done.ok, done.output
    assert len(starts) == 2 and (worktree / "ran.txt").read_text() == "ran\n"


# -- credentials -----------------------------------------------------------------------------------


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def test_bash_does_not_inherit_credentials(worktree: Path, repo: Path, secret_env: None) -> None:
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    names = " ".join(f"${name}" for name in SECRETS)
    outcome = runner.run("Bash", {"command": f'echo "[{names}]" > leak.txt; env > env.txt; cat leak.txt'})
    assert outcome.ok and outcome.output.strip() == "[" + " " * (len(SECRETS) - 1) + "]"
    env_dump = (worktree / "env.txt").read_text()
    assert "PATH=" in env_dump and not any(value in env_dump for value in SECRETS.values())


def test_an_allowlisted_variable_is_passed_on_purpose(worktree: Path, repo: Path, secret_env: None) -> None:
    policy = SandboxPolicy(env_allow=frozenset({"GH_TOKEN"}))
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ), policy=policy)
    outcome = runner.run("Bash", {"command": 'echo "$GH_TOKEN|$GITHUB_TOKEN"'})
    assert outcome.output.strip() == f"{SECRETS['GH_TOKEN']}|"


def _scan(roots: list[Path], secrets: list[str]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {s[:12]}..." for s in secrets if s.encode() in data]
    return found


@pytest.mark.parametrize("allow", ["", "GH_TOKEN"])
def test_secret_scan_after_an_agent_tried_to_leak_through_the_runner(
    hermetic: Path, repo: Path, tmp_path: Path, secret_env: None, allow: str
) -> None:
    """End to end: Config -> runner process -> backend -> Bash; then scan worktree, git and data dir."""
    leak = " ".join(f"${name}" for name in SECRETS)
    command = (
        f'echo "{leak}" > leak.txt; env > env.txt; cat /proc/$PPID/environ > parent-env.bin 2>&1; '
        "git add -A && git commit -q -m 'try to leak'"
    )
    script = write_script(
        tmp_path / "leak.json",
        [
            [{"type": "tool_use", "name": "Bash", "input": {"command": command}}],
            [{"type": "text", "text": "ok"}],
        ],
    )
    config = Config(runner_idle_timeout=3.0, lease_stale_after=2.0, sandbox_env_allow=allow)
    cm = ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]), config=config)
    try:
        session = cm.new_session(repo, name="leaky", agent=f"scripted:{script}", permission_mode="bypass")
        session.send("print every credential you can find")
        assert session.wait(timeout=60) == "idle"
        worktree = session.record.worktree_path
        assert (worktree / "leak.txt").exists(), "the command did not run"
        history = git(repo, "log", "-p", "--all", "--format=%H %s")
        assert "try to leak" in history
        allowed = [SECRETS[name] for name in config.sandbox_env_names]
        denied = [v for k, v in SECRETS.items() if k not in config.sandbox_env_names]
        assert _scan([worktree, cm.data_dir], denied) == []
        assert not any(s in history for s in denied)
        if allowed:  # the allowlist really reached the runner's Bash
            assert allowed[0] in (worktree / "leak.txt").read_text()
    finally:
        kill_runners(cm)
        cm.close()


# -- network ---------------------------------------------------------------------------------------


@pytest.fixture
def local_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers every connection with ``hello``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@needs_bwrap
@pytest.mark.parametrize("network", [True, False])
def test_sandbox_network_setting(worktree: Path, repo: Path, local_server: int, network: bool) -> None:
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ), policy=SandboxPolicy(network=network))
    command = f"exec 3<>/dev/tcp/127.0.0.1/{local_server} && head -c 5 <&3"
    outcome = runner.run("Bash", {"command": command, "timeout": 10_000})
    if network:
        assert outcome.ok and outcome.output == "hello", outcome.output
    else:
        assert not outcome.ok and "hello" not in outcome.output
        assert "Network is unreachable" in outcome.output or "Connection refused" in outcome.output


# -- without bubblewrap ----------------------------------------------------------------------------


def test_without_bubblewrap_everything_says_so(
    worktree: Path, repo: Path, monkeypatch: pytest.MonkeyPatch, secret_env: None
) -> None:
    problem = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    monkeypatch.setattr(sandbox_module, "_probe", lambda: (None, False, problem))
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    assert not runner.is_sandboxed()
    assert runner.bash_argv("true") == ["bash", "-c", "true"]
    notice = describe(False, SandboxPolicy())
    assert "NOT sandboxed" in notice and problem in notice
    # Credentials are still removed, and the session's tmp dir is still its own.
    outcome = runner.run("Bash", {"command": 'echo "[$ANTHROPIC_API_KEY]" $TMPDIR'})
    assert outcome.output.split() == ["[]", str(runner.sandbox.tmp_dir)]
    from chatml_lab.doctor import check_sandbox

    check = check_sandbox()
    assert not check.ok and check.optional and problem in check.detail and "claude-code" in check.detail


def test_without_bubblewrap_the_hook_still_refuses_git_commands(repo: Path, tmp_path: Path) -> None:
    """Unsandboxed, the hook is the only guard (advisory: a raw write gets past it)."""
    git(repo, "worktree", "add", "-q", "-b", "chatml/solo", str(tmp_path / "solo"))
    git(repo, "branch", "chatml/neighbour")
    runner = ToolRunner(tmp_path / "solo", repo / ".git", dict(os.environ), sandbox=False)
    assert not runner.is_sandboxed()
    before = git(repo, "rev-parse", "main", "chatml/neighbour")
    for command in (
        "git update-ref refs/heads/chatml/neighbour HEAD~1",
        "git branch -f main HEAD~1 2>&1; git update-ref refs/heads/main HEAD~1",
        "git checkout -q --detach && git branch -D chatml/solo",
    ):
        outcome = runner.run("Bash", {"command": command})
        assert not outcome.ok and "chatml sandbox: refused" in outcome.output, outcome.output
    assert "refs/heads/chatml/solo(delete)" in outcome.output
    assert git(repo, "rev-parse", "main", "chatml/neighbour") == before
    assert git(repo, "rev-parse", "--verify", "-q", "refs/heads/chatml/solo").strip()


# -- the demo --------------------------------------------------------------------------------------


def _run_demo_without_notebook(out: Path) -> object:
    from chatml_lab.demo import run_demo

    try:
        return run_demo(out, notebook=False, echo=lambda _line: None)
    finally:
        manager = ChatML(data_dir=out / "data")
        try:
            kill_runners(manager)
        finally:
            manager.close()


def test_demo_commits_with_the_identity_of_a_home_under_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported failure: ~/.gitconfig under /tmp was hidden, commits failed, the demo said success."""
    _drop_identity_env(monkeypatch)
    (Path(os.environ["HOME"]) / ".gitconfig").write_text(
        "[user]\n\tname = Demo User\n\temail = demo@example.invalid\n"
    )
    result = _run_demo_without_notebook(tmp_path / "demo")
    for session in result.sessions:  # type: ignore[attr-defined]
        assert len(session.commits) == 1, session
        author = git(result.repo, "log", "-1", "--format=%an", session.branch).strip()  # type: ignore[attr-defined]
        assert author == "Demo User"


def test_demo_fails_loudly_when_a_scripted_commit_is_missing(tmp_path: Path) -> None:
    hooks = tmp_path / "refusing-hooks"
    hooks.mkdir()
    refuse_on_sessions = '#!/bin/sh\ncase "$(git symbolic-ref -q --short HEAD)" in chatml/*) echo refused >&2; exit 1 ;; esac\n'
    (hooks / "pre-commit").write_text(refuse_on_sessions)
    (hooks / "pre-commit").chmod(0o755)
    (Path(os.environ["HOME"]) / ".gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
    with pytest.raises(
        ChatMLError, match=r"scripted agent of add-slugify, add-stats, .* did not make its commit"
    ):
        _run_demo_without_notebook(tmp_path / "demo")


@needs_bwrap
def test_well_known_credential_files_read_as_empty(worktree: Path, repo: Path) -> None:
    home = Path(os.environ["HOME"])
    files = {
        home / ".claude" / ".credentials.json": '{"claudeAiOauth": {"accessToken": "sk-ant-oat-SECRET"}}',
        Path(os.environ["XDG_CONFIG_HOME"]) / "gh" / "hosts.yml": "github.com:\n  oauth_token: gho_SECRET\n",
        home / ".git-credentials": "https://user:ghp_SECRET@github.com\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    outcome = runner.run("Bash", {"command": " ".join(f"cat {p};" for p in files) + " echo end"})
    assert outcome.ok and outcome.output == "end", outcome.output
    assert all(path.read_text() == text for path, text in files.items())  # hidden, not touched


def test_head_switched_to_another_branch_is_put_back(worktree: Path, repo: Path) -> None:
    """chatml's own (unsandboxed) git calls follow HEAD: it must not stay on main."""
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    outcome = runner.run(
        "Bash", {"command": "git checkout -q --ignore-other-worktrees main && git status -sb"}
    )
    assert (
        "[chatml: HEAD was switched to refs/heads/main; it is back on refs/heads/chatml/s1" in outcome.output
    )
    assert git(worktree, "symbolic-ref", "HEAD").strip() == "refs/heads/chatml/s1"
    detached = runner.run(
        "Bash", {"command": "git checkout -q --detach && git symbolic-ref -q HEAD || echo detached"}
    )
    assert detached.output == "detached"  # a rebase's detached HEAD is left alone


def test_a_raw_delete_of_the_own_branch_is_undone_from_the_reflog(worktree: Path, repo: Path) -> None:
    runner = ToolRunner(worktree, repo / ".git", dict(os.environ))
    assert runner.run("Bash", {"command": "git commit -q --allow-empty -m 'work to keep'"}).ok
    tip = git(repo, "rev-parse", "chatml/s1").strip()
    ref = repo / ".git" / "refs" / "heads" / "chatml" / "s1"
    outcome = runner.run("Bash", {"command": f"rm {ref}"})
    assert f"refs/heads/chatml/s1 had been deleted; restored at {tip[:12]}" in outcome.output
    assert git(repo, "rev-parse", "chatml/s1").strip() == tip
