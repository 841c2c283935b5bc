"""Per-repository setup and archive scripts from ``.chatml/config.json`` (DESIGN §4).

Accepted shapes (ChatML's and a short one)::

    {"setupScripts": [{"name": "deps", "command": "pip install -e ."}],
     "archiveScripts": [{"name": "stop", "command": "make stop"}]}
    {"setup": "cp .env.example .env", "archive": ["make stop"]}
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..events import EventType
from ..models import SessionRecord, Workspace
from ..storage.store import Store

CONFIG_PATH = Path(".chatml") / "config.json"
OUTPUT_LIMIT = 64_000


@dataclass(frozen=True)
class Script:
    """One named shell command."""

    name: str
    command: str


@dataclass(frozen=True)
class ScriptResult:
    """What a script printed and how it ended."""

    script: Script
    output: str
    exit_code: int

    @property
    def ok(self) -> bool:
        """True when the script exited 0."""
        return self.exit_code == 0


def _scripts(config: dict[str, Any], long_key: str, short_key: str, source: Path) -> list[Script]:
    found: list[Script] = []
    for index, item in enumerate(config.get(long_key) or []):
        if not isinstance(item, dict) or not isinstance(item.get("command"), str):
            raise ConfigError(f"{source}: {long_key}[{index}] needs a string 'command'")
        found.append(Script(str(item.get("name") or f"{short_key}-{index + 1}"), item["command"]))
    short = config.get(short_key)
    commands = [short] if isinstance(short, str) else list(short or [])
    for index, command in enumerate(commands):
        if not isinstance(command, str):
            raise ConfigError(f"{source}: {short_key} must be a command or a list of commands")
        found.append(Script(f"{short_key}-{index + 1}", command))
    return found


def load_scripts(repo_root: Path, kind: str) -> list[Script]:
    """The ``setup`` or ``archive`` scripts the repository's config names (none without config)."""
    source = repo_root / CONFIG_PATH
    if not source.is_file():
        return []
    try:
        config = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}; fix or remove it") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{source} must hold a JSON object")
    return _scripts(config, f"{kind}Scripts", kind, source)


def script_env(session_name: str, worktree: Path, repo_root: Path, port: int) -> dict[str, str]:
    """The environment scripts (and agents) run with: the caller's plus ``CHATML_*``."""
    return {
        **os.environ,
        "CHATML_SESSION_NAME": session_name,
        "CHATML_ROOT_PATH": str(repo_root),
        "CHATML_WORKSPACE_PATH": str(worktree),
        "CHATML_PORT": str(port),
    }


def run_script(script: Script, cwd: Path, env: dict[str, str], timeout: float) -> ScriptResult:
    """Run one script in ``cwd``; output is capped, a timeout counts as exit code 124."""
    try:
        proc = subprocess.run(
            ["bash", "-c", script.command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
        )  # fmt: skip
        output, code = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"") + f"\n[timed out after {timeout:g} s]".encode()
        code = 124
    text = output.decode("utf-8", "replace")
    if len(text) > OUTPUT_LIMIT:
        text = text[:OUTPUT_LIMIT] + f"\n[... {len(text) - OUTPUT_LIMIT} more characters cut]"
    return ScriptResult(script, text, code)


class ScriptRunner:
    """Runs a session's setup or archive scripts and records each one's output as an event."""

    def __init__(self, store: Store, timeout: float, progress: Callable[[str], None]) -> None:
        self.store = store
        self.timeout = timeout
        self.progress = progress

    def run(
        self, kind: str, rec: SessionRecord, ws: Workspace, conversation: str, stop_at_failure: bool = True
    ) -> ScriptResult | None:
        """Run the repository's ``kind`` scripts in the worktree; return the first that failed.

        Each run is recorded as a ``setup_output`` event; None when all passed.
        """
        env = script_env(rec.name, rec.worktree_path, ws.path, rec.port_base)
        failed = None
        for script in load_scripts(ws.path, kind):
            self.progress(f"running {kind} script {script.name}")
            result = run_script(script, rec.worktree_path, env, self.timeout)
            self.store.append_event(conversation, EventType.SETUP_OUTPUT, {
                "script": script.name, "command": script.command, "output": result.output,
                "exit_code": result.exit_code,
            })  # fmt: skip
            if not result.ok:
                failed = failed or result
                if stop_at_failure:
                    break
        return failed
