"""``chatml demo``: three scripted agents edit a sample repository in parallel, end to end.

Everything is real except the model: a sample repository with a bare ``origin`` in a temp
directory, a temp data dir, three sessions (worktree + branch each) whose runners drive the real
``anthropic`` SDK against the bundled scripted server, real tool calls that write modules and
commit them, a commit landing on ``origin/main`` meanwhile (so drift shows), the session table,
and an executed copy of the quickstart notebook with its HTML. The output says plainly that the
agent was scripted and how to use a real one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import ChatMLError

if TYPE_CHECKING:
    from .core.session import Session

REAL_MODEL_HINT = (
    "To use a real model: export ANTHROPIC_API_KEY=... and create sessions with agent='anthropic'"
    " (`%chatml new NAME --agent anthropic`, `chatml new NAME --agent anthropic`)."
)
SCRIPTED_NOTE = (
    "The agents in this demo were SCRIPTED: the real anthropic SDK, agent loop, tools, runner and"
    " database, talking to a local server that replays a script. No model wrote this code."
)

#: The three demo tasks: session name, priority, prompt, module path, module source, commit message.
TASKS: list[tuple[str, str, str, str, str, str]] = [
    (
        "add-slugify", "high", "Add a slugify() helper with a doctest",
        "sample_app/slugify.py",
        '"""URL slugs."""\n\nimport re\n\n\ndef slugify(text: str) -> str:\n'
        '    """Lower-case words joined by dashes.\n\n    >>> slugify("Hello, World!")\n    \'hello-world\'\n    """\n'
        '    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))\n',
        "Add slugify()",
    ),
    (
        "add-stats", "medium", "Add mean() and median() with a doctest",
        "sample_app/stats.py",
        '"""Small statistics."""\n\n\ndef mean(values: list[float]) -> float:\n'
        '    """The arithmetic mean.\n\n    >>> mean([1, 2, 3])\n    2.0\n    """\n'
        "    return sum(values) / len(values)\n\n\ndef median(values: list[float]) -> float:\n"
        '    """The middle value (mean of the two middle ones for an even count).\n\n'
        '    >>> median([3, 1, 4, 2])\n    2.5\n    """\n'
        "    ordered = sorted(values)\n    mid = len(ordered) // 2\n"
        "    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2\n",
        "Add mean() and median()",
    ),
    (
        "add-cli", "low", "Add a command line entry point that greets",
        "sample_app/cli.py",
        '"""The sample app\'s command line."""\n\nimport sys\n\nfrom sample_app.greet import greet\n\n\n'
        "def main(argv: list[str] | None = None) -> int:\n"
        '    """Print a greeting for each name given (or for the world)."""\n'
        "    for name in (argv if argv is not None else sys.argv[1:]) or [\"world\"]:\n"
        "        print(greet(name))\n    return 0\n",
        "Add a CLI entry point",
    ),
]  # fmt: skip


@dataclass(frozen=True)
class DemoSession:
    """One demo session after its agent finished."""

    name: str
    branch: str
    agent_state: str
    commits: list[str]
    files: list[str]
    ahead: int | None
    behind: int | None


@dataclass(frozen=True)
class DemoResult:
    """What ``run_demo`` made and where."""

    out_dir: Path
    repo: Path
    origin: Path
    data_dir: Path
    sessions: list[DemoSession]
    table: str
    notebook: Path | None = None
    html: Path | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ChatMLError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def _identity_env() -> dict[str, str]:
    """A git identity for the demo's commits when the user has none configured."""
    has_name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, check=False)
    if has_name.stdout.strip() or os.environ.get("GIT_AUTHOR_NAME"):
        return {}
    return {
        "GIT_AUTHOR_NAME": "ChatML Demo", "GIT_AUTHOR_EMAIL": "demo@chatml.invalid",
        "GIT_COMMITTER_NAME": "ChatML Demo", "GIT_COMMITTER_EMAIL": "demo@chatml.invalid",
    }  # fmt: skip


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    # Runners and the notebook kernel inherit os.environ: the demo's data dir and identity go there.
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def make_sample_repo(root: Path) -> tuple[Path, Path]:
    """A small Python project pushed to a bare ``origin``; returns (clone, origin)."""
    origin = root / "origin.git"
    repo = root / "sample-app"
    _git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(root, "clone", "-q", str(origin), str(repo))
    _git(repo, "checkout", "-q", "-b", "main")
    files = {
        "README.md": "# sample-app\n\nA tiny project for the chatml_lab demo.\n",
        ".gitignore": "__pycache__/\n.env\n",
        "sample_app/__init__.py": '"""The sample app."""\n',
        "sample_app/greet.py": '"""Greetings."""\n\n\ndef greet(name: str) -> str:\n    """Say hello."""\n    return f"Hello, {name}!"\n',
    }
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Initial sample app")
    _git(repo, "push", "-q", "-u", "origin", "main")
    _git(repo, "remote", "set-head", "origin", "main")
    return repo, origin


def write_scripts(directory: Path) -> dict[str, Path]:
    """One scripted-server script per demo task: write the module, commit it, say done."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, _priority, prompt, module, source, message in TASKS:
        turns = [
            [
                {"type": "text", "text": f"(Scripted demo, not a model.) {prompt}: I'll write {module}."},
                {"type": "tool_use", "name": "Write", "input": {"file_path": module, "content": source}},
            ],
            [
                {"type": "text", "text": "Now I'll commit it on this session's branch."},
                {
                    "type": "tool_use",
                    "name": "Bash",
                    "input": {"command": f"git add -A && git commit -q -m '{message}'"},
                },
            ],
            [{"type": "text", "text": f"Done: {module} is committed. (Scripted demo output.)"}],
        ]
        paths[name] = directory / f"{name}.json"
        paths[name].write_text(json.dumps({"turns": turns}, indent=2))
    return paths


def run_demo(
    out_dir: Path | None = None,
    notebook: bool = True,
    timeout: float = 120.0,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo into ``out_dir`` (a new temp dir by default) and return what it made."""
    from .core.manager import ChatML
    from .render.table import LIST_COLUMNS, format_rows

    started = time.monotonic()
    out = Path(out_dir).expanduser().resolve() if out_dir else Path(tempfile.mkdtemp(prefix="chatml-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    env = {"CHATML_DATA_DIR": str(data_dir), **_identity_env()}
    with _environ(env):
        echo(f"chatml demo in {out}")
        repo, origin = make_sample_repo(out)
        echo(f"  sample repository {repo} (origin {origin})")
        scripts = write_scripts(out / "scripts")
        cm = ChatML(data_dir=data_dir, config=Config(runner_idle_timeout=3.0, fetch_throttle=0.0))
        try:
            sessions = []
            for name, priority, prompt, *_ in TASKS:
                session = cm.new_session(
                    repo, name=name, prompt=prompt, priority=priority, agent="scripted",
                    agent_options={"script": str(scripts[name])}, permission_mode="bypass",
                )  # fmt: skip
                sessions.append(session)
                echo(f"  started {session.name} on {session.branch}: {prompt!r}")
            # Someone else lands a commit on main meanwhile: every session ends up 1 behind.
            (repo / "CHANGELOG.md").write_text("# Changelog\n\n- sample app started\n")
            _git(repo, "add", "CHANGELOG.md")
            _git(repo, "commit", "-q", "-m", "Add a changelog")
            _git(repo, "push", "-q", "origin", "main")
            echo("  meanwhile a commit landed on origin/main")
            states = {s.name: s.wait(timeout=timeout) for s in sessions}
            cm.sync_all()
            done = [_describe(repo, s, states[s.name]) for s in sessions]
            table = format_rows(cm.rows(), LIST_COLUMNS)
        finally:
            cm.close()
        echo("")
        echo(table)
        echo("")
        for item in done:
            echo(f"  {item.name}: {item.agent_state}, {len(item.commits)} commit(s) on {item.branch}: "
                 + "; ".join(item.commits))  # fmt: skip
        check_commits(done, data_dir)
        executed = html = None
        if notebook:
            from .reports.notebook import execute

            source = out / "01-quickstart.ipynb"
            write_quickstart(source)
            echo("\n  executing the quickstart notebook (a fresh kernel) …")
            result = execute(source, out / "executed", timeout=max(timeout, 300.0), cwd=out)
            executed, html = result.notebook, result.html
            echo(f"  executed notebook {executed}\n  HTML              {html}")
        echo("")
        echo(SCRIPTED_NOTE)
        echo(REAL_MODEL_HINT)
    return DemoResult(
        out_dir=out, repo=repo, origin=origin, data_dir=data_dir, sessions=done, table=table,
        notebook=executed, html=html, seconds=time.monotonic() - started, notes=[SCRIPTED_NOTE, REAL_MODEL_HINT],
    )  # fmt: skip


def check_commits(sessions: list[DemoSession], data_dir: Path) -> None:
    """Fail loudly when a scripted agent's commit is missing: a demo that lost it did not work."""
    missing = [s.name for s in sessions if len(s.commits) != 1]
    if missing:
        raise ChatMLError(
            f"the scripted agent of {', '.join(missing)} did not make its commit: see "
            f"`CHATML_DATA_DIR={data_dir} chatml log NAME` for the failed tool call"
        )


def _describe(repo: Path, session: Session, state: str) -> DemoSession:
    rec = session.record
    commits = _git(repo, "log", "--format=%h %s", f"{rec.base_commit}..{rec.branch}").splitlines()
    files = _git(repo, "diff", "--name-only", rec.base_commit, rec.branch).split()
    return DemoSession(rec.name, rec.branch, state, commits, files, rec.ahead, rec.behind)


# -- the quickstart notebook ----------------------------------------------------------------------------

#: The quickstart notebook shipped in the package (``notebooks/01-quickstart.ipynb`` links to it).
QUICKSTART = "notebooks/quickstart.ipynb"


def quickstart_notebook() -> Any:
    """The quickstart notebook, read from the package with nbformat."""
    import nbformat as _nbformat

    nbformat: Any = _nbformat  # untyped package: keep its calls out of strict checking

    with resources.files(__package__).joinpath(QUICKSTART).open(encoding="utf-8") as stream:
        return nbformat.read(stream, as_version=4)


def write_quickstart(path: Path) -> Path:
    """Write the quickstart notebook to ``path``."""
    import nbformat as _nbformat

    nbformat: Any = _nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(quickstart_notebook(), path)
    return path


if __name__ == "__main__":  # ``python -m chatml_lab.demo [OUT_DIR]`` is ``chatml demo [OUT_DIR]``
    from .cli import main

    sys.exit(main(["demo", *sys.argv[1:]]))
