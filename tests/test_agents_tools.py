"""The built-in tools: Claude Code's schemas, worktree confinement, and the Bash sandbox."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.agents.tools import OUTPUT_LIMIT, TOOL_DEFINITIONS, ToolRunner, sandbox_available

from .conftest import commit_file, git

needs_bwrap = pytest.mark.skipif(
    not sandbox_available(), reason="bubblewrap missing or unusable here (apt-get install bubblewrap)"
)


@pytest.fixture
def layout(repo: Path, tmp_path: Path) -> dict[str, Path]:
    """A session worktree plus things next to it that must never be touched."""
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "chatml/s1", str(worktree))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    sibling = tmp_path / "wt-other"  # the worktree's path is a string prefix of this one
    sibling.mkdir()
    (sibling / "notes.txt").write_text("sibling\n")
    (worktree / "link-file").symlink_to(outside / "secret.txt")
    (worktree / "link-dir").symlink_to(outside, target_is_directory=True)
    return {"worktree": worktree, "outside": outside, "sibling": sibling, "repo": repo}


@pytest.fixture
def runner(layout: dict[str, Path]) -> ToolRunner:
    return ToolRunner(layout["worktree"], layout["repo"] / ".git", dict(os.environ), bash_timeout=20)


def fingerprint(*roots: Path) -> str:
    """A digest of every file name and content under ``roots`` (without following links)."""
    digest = hashlib.sha256()
    for root in roots:
        for folder, dirs, names in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(names):
                path = Path(folder, name)
                digest.update(str(path).encode())
                if not path.is_symlink():
                    digest.update(path.read_bytes())
    return digest.hexdigest()


def test_definitions_use_claude_code_names_and_schemas() -> None:
    by_name = {d["name"]: d["input_schema"] for d in TOOL_DEFINITIONS}
    assert list(by_name) == ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
    assert by_name["Write"]["required"] == ["file_path", "content"]
    assert by_name["Edit"]["required"] == ["file_path", "old_string", "new_string"]
    assert "replace_all" in by_name["Edit"]["properties"]
    assert {"offset", "limit"} <= set(by_name["Read"]["properties"])
    assert {"path", "glob"} <= set(by_name["Grep"]["properties"])
    assert by_name["Bash"]["required"] == ["command"] and "timeout" in by_name["Bash"]["properties"]
    assert all(d["description"] for d in TOOL_DEFINITIONS)


ESCAPES: list[tuple[str, dict[str, Any]]] = [
    ("Write", {"file_path": "../x", "content": "pwned"}),
    ("Read", {"file_path": "/etc/passwd"}),
    ("Write", {"file_path": "{outside}/new.txt", "content": "pwned"}),
    ("Write", {"file_path": "link-file", "content": "pwned"}),
    ("Read", {"file_path": "link-file"}),
    ("Read", {"file_path": "~"}),
    ("Write", {"file_path": "~/x", "content": "pwned"}),
    ("Write", {"file_path": "a/../../x", "content": "pwned"}),
    ("Write", {"file_path": ".git/config", "content": "pwned"}),
    ("Write", {"file_path": "link-dir/new.txt", "content": "pwned"}),
    ("Write", {"file_path": "{sibling}/notes.txt", "content": "pwned"}),
    ("Write", {"file_path": "{worktree}/../outside/secret.txt", "content": "pwned"}),
    ("Edit", {"file_path": "link-file", "old_string": "secret", "new_string": "pwned"}),
    ("Write", {"file_path": "{repo}/.git/config", "content": "pwned"}),
    ("Write", {"file_path": "", "content": "pwned"}),
    ("Write", {"file_path": ".", "content": "pwned"}),
    ("Glob", {"pattern": "../*"}),
    ("Glob", {"pattern": "*", "path": "/etc"}),
    ("Grep", {"pattern": "secret", "path": "link-dir"}),
    ("Grep", {"pattern": "root", "path": "/etc/passwd"}),
]


@pytest.mark.parametrize(("tool", "raw"), ESCAPES, ids=[f"{t}:{i}" for t, i in ESCAPES])
def test_escapes_are_refused_and_change_nothing(
    runner: ToolRunner, layout: dict[str, Path], tool: str, raw: dict[str, Any]
) -> None:
    tool_input = {k: v.format(**layout) if isinstance(v, str) else v for k, v in raw.items()}
    watched = (layout["outside"], layout["sibling"], layout["repo"] / ".git")
    before = fingerprint(*watched)
    outcome = runner.run(tool, tool_input)
    assert not outcome.ok, outcome.output
    assert outcome.output.startswith("Error:")
    assert "secret" not in outcome.output.replace("secret.txt", "") and "root:" not in outcome.output
    assert fingerprint(*watched) == before
    assert not (layout["worktree"].parent / "x").exists()
    assert (layout["outside"] / "secret.txt").read_text() == "secret\n"


def test_writes_into_a_main_checkouts_git_dir_are_refused(repo: Path) -> None:
    runner = ToolRunner(repo, repo / ".git")
    config = (repo / ".git" / "config").read_text()
    outcome = runner.run("Write", {"file_path": ".git/config", "content": "pwned"})
    assert not outcome.ok and ".git" in outcome.output
    assert not runner.run("Edit", {"file_path": ".git/HEAD", "old_string": "ref", "new_string": "x"}).ok
    assert (repo / ".git" / "config").read_text() == config


def test_file_tools_inside_the_worktree(runner: ToolRunner, layout: dict[str, Path]) -> None:
    worktree = layout["worktree"]
    assert runner.run("Write", {"file_path": "pkg/mod.py", "content": "a = 1\nb = 1\n"}).ok
    absolute = runner.run("Write", {"file_path": str(worktree / "pkg" / "other.py"), "content": "x\n"})
    assert absolute.ok and "Created" in absolute.output
    read = runner.run("Read", {"file_path": "pkg/mod.py", "offset": 2, "limit": 1})
    assert read.ok and read.output == "     2\tb = 1"
    assert not runner.run("Edit", {"file_path": "pkg/mod.py", "old_string": "= 1", "new_string": "= 2"}).ok
    edited = runner.run(
        "Edit", {"file_path": "pkg/mod.py", "old_string": "= 1", "new_string": "= 2", "replace_all": True}
    )
    assert edited.ok and "2 replacements" in edited.output
    assert (worktree / "pkg" / "mod.py").read_text() == "a = 2\nb = 2\n"
    assert (
        "not found"
        in runner.run("Edit", {"file_path": "pkg/mod.py", "old_string": "zz", "new_string": "y"}).output
    )
    assert runner.run("Read", {"file_path": "pkg"}).output.startswith("Error: pkg is a directory")


def test_glob_and_grep(runner: ToolRunner, layout: dict[str, Path]) -> None:
    commit_file(layout["worktree"], "src/app.py", "def main():\n    return 'hello'\n")
    commit_file(layout["worktree"], "src/util.txt", "hello util\n")
    assert runner.run("Glob", {"pattern": "**/*.py"}).output == "src/app.py"
    assert set(runner.run("Glob", {"pattern": "src/*.{py,txt}"}).output.splitlines()) == {
        "src/app.py",
        "src/util.txt",
    }
    assert runner.run("Glob", {"pattern": "*.md"}).output == "README.md"
    assert runner.run("Glob", {"pattern": "nothing*"}).output == "No files found"
    files = runner.run("Grep", {"pattern": "hello"}).output.splitlines()
    assert sorted(files) == ["src/app.py", "src/util.txt"]  # not .git, not the symlinked secret
    content = runner.run("Grep", {"pattern": "HELLO", "-i": True, "glob": "*.py", "output_mode": "content"})
    assert content.output == "src/app.py:2:    return 'hello'"
    assert runner.run(
        "Grep", {"pattern": "hello", "path": "src/util.txt", "output_mode": "count"}
    ).output == ("src/util.txt:1")
    assert not runner.run("Grep", {"pattern": "("}).ok


def test_bad_inputs_are_tool_errors(runner: ToolRunner) -> None:
    assert "unknown tool" in runner.run("Delete", {}).output
    assert "must be a string" in runner.run("Write", {"file_path": 3, "content": "x"}).output
    assert "must be an integer" in runner.run("Read", {"file_path": "README.md", "offset": "2"}).output
    assert not runner.run("Bash", {"command": "  "}).ok


def test_bash_runs_in_the_worktree_and_reports_failures(runner: ToolRunner, layout: dict[str, Path]) -> None:
    outcome = runner.run("Bash", {"command": "pwd && echo made > made.txt"})
    assert outcome.ok and outcome.output == str(layout["worktree"].resolve())
    assert (layout["worktree"] / "made.txt").read_text() == "made\n"
    failed = runner.run("Bash", {"command": "echo oops >&2; exit 3"})
    assert not failed.ok and failed.output == "oops\n[exit code 3]"
    big = runner.run("Bash", {"command": "head -c 50000 /dev/zero | tr '\\0' x"})
    assert big.ok and len(big.output) < OUTPUT_LIMIT + 100 and "characters omitted" in big.output


def _gone_or_zombie(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" in status.read_text()


def _running_with_argument(argument: str) -> list[int]:
    """Live (not zombie) processes with ``argument`` on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or _gone_or_zombie(int(entry.name)):
                continue
            if argument.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("sandbox", [False, pytest.param(True, marks=needs_bwrap)])
def test_bash_timeout_kills_the_process_group(layout: dict[str, Path], sandbox: bool) -> None:
    runner = ToolRunner(layout["worktree"], layout["repo"] / ".git", dict(os.environ), sandbox=sandbox)
    assert runner.is_sandboxed() is sandbox
    started = time.monotonic()
    # The sandbox has a PID namespace of its own ($! means nothing outside): find the background
    # child by a command line no other process has.
    marker = f"30.{os.getpid()}{int(started * 1000) % 10**6}"
    outcome = runner.run("Bash", {"command": f"sleep {marker} & sleep 30", "timeout": 300})
    assert time.monotonic() - started < 5
    assert not outcome.ok and "timed out after 0.3 s" in outcome.output
    deadline = time.monotonic() + 2
    while _running_with_argument(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running_with_argument(marker)


def test_bash_interrupt_kills_the_command(runner: ToolRunner) -> None:
    cancelled = threading.Event()
    threading.Timer(0.2, cancelled.set).start()
    started = time.monotonic()
    outcome = runner.run("Bash", {"command": "sleep 30"}, cancelled)
    assert time.monotonic() - started < 5
    assert not outcome.ok and "interrupted by the user" in outcome.output


@needs_bwrap
def test_bash_sandbox_confines_writes(runner: ToolRunner, layout: dict[str, Path]) -> None:
    assert runner.is_sandboxed()
    host_tmp = Path("/tmp") / f"chatml-sandbox-probe-{os.getpid()}"
    visible = Path("/var/tmp") / f"chatml-sandbox-probe-{os.getpid()}"  # not hidden by the private /tmp
    command = (
        f"echo pwned > {layout['outside']}/x; echo pwned > {layout['sibling']}/notes.txt; "
        f"echo pwned > {visible}; "
        f"echo private > {host_tmp}; cat {host_tmp}; echo inside > inside.txt; "
        "git add inside.txt && git commit -q -m 'from the sandbox' && echo committed"
    )
    try:
        outcome = runner.run("Bash", {"command": command})
        assert not visible.exists() and "Read-only file system" in outcome.output
    finally:
        visible.unlink(missing_ok=True)
    assert "private" in outcome.output and "committed" in outcome.output
    assert not (layout["outside"] / "x").exists()
    assert (layout["sibling"] / "notes.txt").read_text() == "sibling\n"
    assert not host_tmp.exists()  # the sandbox's /tmp is its own
    assert (layout["worktree"] / "inside.txt").read_text() == "inside\n"
    assert git(layout["worktree"], "log", "-1", "--format=%s", "chatml/s1").strip() == "from the sandbox"
