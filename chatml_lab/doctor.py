"""What is installed and configured, one line per check (``chatml doctor``, ``%chatml doctor``).

Each check says whether the thing works and, when it does not, what to do. Versions are read
from package metadata (importing ``anthropic`` or ``claude_agent_sdk`` would cost a second). The
API key is reported as present or absent, never printed.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core.manager import ChatML


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report. ``optional`` checks do not make the report fail."""

    name: str
    ok: bool
    detail: str
    optional: bool = False


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_git() -> Check:
    """Git is on PATH and new enough for worktrees (2.20+)."""
    done = _run(["git", "--version"])
    if done is None or done.returncode != 0:
        return Check("git", False, "not found: install git 2.20 or newer")
    text = done.stdout.strip().removeprefix("git version ")
    parts = [int(p) for p in text.split(".")[:2] if p.isdigit()]
    ok = parts >= [2, 20]
    return Check("git", ok, text if ok else f"{text} is too old: worktree support needs git 2.20+")


def check_sandbox() -> Check:
    """Whether agents' commands run in the bubblewrap sandbox (DESIGN §5), for both backends."""
    from .agents.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is not None:
        return Check(
            "bubblewrap",
            False,
            f"{problem}: Bash tool calls are NOT sandboxed, and claude-code is UNSANDBOXED",
            True,
        )
    bwrap = shutil.which("bwrap") or "bwrap"
    version_text = _run([bwrap, "--version"])
    shown = version_text.stdout.strip() if version_text and version_text.returncode == 0 else bwrap
    return Check(
        "bubblewrap",
        True,
        f"{shown}: Bash tool calls and claude-code's tools are sandboxed "
        "(claude-code keeps the network and can read its own credential)",
        True,
    )


def check_api_key() -> Check:
    """Whether an Anthropic API key is configured (the value is never shown)."""
    key = os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")
    base = os.environ.get("ANTHROPIC_BASE_URL")
    where = f"; API base URL {base}" if base else ""
    if key:
        return Check("API key", True, f"ANTHROPIC_API_KEY is set{where}", True)
    return Check(
        "API key", False,
        "ANTHROPIC_API_KEY is not set: only the scripted agent can run (set it to use the anthropic agent)" + where,
        True,
    )  # fmt: skip


def check_packages() -> list[Check]:
    """The agent SDKs and the notebook front-end packages."""
    anthropic = _package("anthropic")
    claude = _package("claude-agent-sdk")
    widgets = _package("ipywidgets")
    lab_widgets = _package("jupyterlab_widgets")
    return [
        Check("anthropic SDK", anthropic is not None, anthropic or "not installed: pip install anthropic"),
        Check(
            "claude-code SDK",
            claude is not None,
            f"claude-agent-sdk {claude}"
            if claude
            else "not installed: pip install 'chatml-lab[claude-code]'",
            True,
        ),
        Check("ipywidgets", widgets is not None, widgets or "not installed: pip install ipywidgets"),
        Check(
            "widget front-end",
            lab_widgets is not None,
            f"jupyterlab_widgets {lab_widgets}"
            if lab_widgets
            else "jupyterlab_widgets missing: widgets will not render in JupyterLab",
            True,
        ),
    ]


def _writable(path: Path) -> str | None:
    """None when ``path`` (or its nearest existing parent) is writable, else why not."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return None if os.access(probe, os.W_OK) else f"{probe} is not writable"


def check_dirs(manager: ChatML) -> list[Check]:
    """Data dir and workspaces dir exist (or can be made) and are writable."""
    checks = []
    for name, path in (("data dir", manager.data_dir), ("workspaces dir", manager.workspaces_dir)):
        problem = _writable(path)
        checks.append(Check(name, problem is None, str(path) if problem is None else f"{path}: {problem}"))
    return checks


def check_database(manager: ChatML) -> Check:
    """Where the session store is (a SQLite file, or a PostgreSQL URL without its password)."""
    store = manager.store
    if store.read_only is not None:
        return Check("database", False, f"{store.location}: {store.read_only}")
    return Check("database", True, f"{store.location} ({store.engine}, schema {store.schema_version()})")


def check_default_agent() -> Check:
    """Which backend a session gets when none is named, and whether it can run."""
    try:
        from .agents.context import default_agent, resolve_agent

        name = default_agent()
        resolve_agent(name)
    except ImportError:
        return Check("default agent", False, "the agent layer is not installed", True)
    except Exception as exc:  # any failure here is a finding to report, not a crash
        return Check("default agent", False, str(exc).splitlines()[0], True)
    return Check("default agent", True, name, True)


def run_checks(manager: ChatML) -> list[Check]:
    """Every check, in report order."""
    return [
        Check("python", True, f"{platform.python_version()} ({platform.python_implementation()})"),
        Check(
            "chatml_lab", True, _package("chatml-lab") or "not installed as a package (running from source)"
        ),
        check_git(),
        check_sandbox(),
        check_api_key(),
        *check_packages(),
        check_default_agent(),
        *check_dirs(manager),
        check_database(manager),
    ]


def format_checks(checks: list[Check]) -> str:
    """``✓ git  2.39.5`` lines; a failed required check is marked ✗, a missing optional one ○."""
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        mark = "\N{CHECK MARK}" if check.ok else ("\N{WHITE CIRCLE}" if check.optional else "\N{BALLOT X}")
        lines.append(f"{mark} {check.name.ljust(width)}  {check.detail}")
    problems = failed(checks)
    lines.append("all required checks passed" if not problems else f"problems: {', '.join(problems)}")
    return "\n".join(lines)


def failed(checks: list[Check]) -> list[str]:
    """Names of the required checks that failed (a missing optional one is not a problem)."""
    return [c.name for c in checks if not c.ok and not c.optional]
