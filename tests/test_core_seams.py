"""The core's collaborators work from the small objects they are given, not from the facade;
the store names the writes the core needs."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.config import Config
from chatml_lab.core.archiver import Archiver
from chatml_lab.core.collector import Collector
from chatml_lab.core.creator import Creator, NewSession
from chatml_lab.core.manager import ChatML
from chatml_lab.core.operations import Operations
from chatml_lab.core.records import Records
from chatml_lab.core.scripts import ScriptRunner
from chatml_lab.core.settings import Settings
from chatml_lab.core.workspaces import Workspaces
from chatml_lab.errors import StorageError, WorkspaceExistsError
from chatml_lab.models import AgentState, Conversation, ConversationKind, SessionRecord, Workspace
from chatml_lab.storage.store import Store, new_id

from .conftest import commit_file, git


class NoAgents:
    """The agent side of a setup that starts no runner: the task conversation, nothing to stop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def conversation(self, session_id: str) -> Conversation:
        return next(c for c in self.store.conversations(session_id) if c.kind is ConversationKind.TASK)

    def quiesce(self, session_id: str, force: bool, action: str) -> None:
        """No runner was ever started here."""


@pytest.fixture(params=["sqlite", "postgresql"])
def store(hermetic: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The store on each engine: SQLite in the data dir, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        db = Store(Path(os.environ["CHATML_DATA_DIR"]) / "state" / "chatml.db")
    else:
        db = Store(request.getfixturevalue("postgres_url"))
    yield db
    db.close()


def _workspace(path: Path, name: str = "project") -> Workspace:
    return Workspace(new_id()[:12], name, path, "main", "origin", None, time.time())


def _record(ws: Workspace, name: str) -> SessionRecord:
    now = time.time()
    return SessionRecord(
        id=new_id(), workspace_id=ws.id, name=name, branch=f"chatml/{name}", worktree_path=ws.path / name,
        base_ref="main", base_commit="0" * 40, created_at=now, updated_at=now,
    )  # fmt: skip


def test_a_duplicate_workspace_is_a_chatml_error(store: Store, tmp_path: Path) -> None:
    store.add_workspace(_workspace(tmp_path / "a"))
    with pytest.raises(WorkspaceExistsError, match="was just added by another process: try again"):
        store.add_workspace(_workspace(tmp_path / "b"))  # same name
    with pytest.raises(WorkspaceExistsError):
        store.add_workspace(_workspace(tmp_path / "a", name="other"))  # same path
    assert [ws.name for ws in store.workspaces()] == ["project"]


def test_create_session_takes_free_port_blocks_and_makes_the_task_conversation(
    store: Store, tmp_path: Path
) -> None:
    ws = _workspace(tmp_path)
    store.add_workspace(ws)
    first, task = store.create_session(_record(ws, "one"), 41000, 10)
    second, _ = store.create_session(_record(ws, "two"), 41000, 10)
    assert (first.port_base, second.port_base) == (41000, 41010)
    assert [(c.id, c.kind) for c in store.conversations(first.id)] == [(task, ConversationKind.TASK)]
    assert store.session(first.id) == first


def test_create_session_is_all_or_nothing(store: Store, tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    store.add_workspace(ws)
    if store.engine == "sqlite":
        with sqlite3.connect(store.path) as db:  # the second of the two inserts fails
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON conversations BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
    else:
        with store._transaction() as conn:
            conn.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'no'; END $$"
            )
            conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON conversations EXECUTE FUNCTION refuse()")
    with pytest.raises(StorageError, match="could not record session 'one'"):
        store.create_session(_record(ws, "one"), 41000, 10)
    assert store.sessions(include_archived=True) == []


def test_collaborators_run_without_the_facade(store: Store, repo: Path, tmp_path: Path) -> None:
    """Create, archive, unarchive and collect with the small objects alone (no ChatML)."""
    config = Config()
    steps: list[str] = []
    settings = Settings(store, tmp_path / "data")
    workspaces = Workspaces(store, config, steps.append)
    agents = NoAgents(store)
    records = Records(store, workspaces, agents)
    scripts = ScriptRunner(store, config.script_timeout, steps.append)
    operations = Operations(store, workspaces, steps.append)
    creator = Creator(store, config, settings, workspaces, scripts, operations, steps.append)
    archiver = Archiver(store, records, workspaces, agents, scripts, operations, steps.append)
    collector = Collector(store, records, workspaces, settings, operations)

    rec = creator.create(NewSession(workspace=repo, name="Fix the login", priority="high"))
    assert (rec.name, rec.branch, rec.priority.value) == ("fix-the-login", "chatml/fix-the-login", "high")
    assert rec.worktree_path == tmp_path / "data" / "workspaces" / "project" / "fix-the-login"
    assert steps[:2] == ["fetching origin", "creating worktree"]
    commit_file(rec.worktree_path, "login.py", "ok = True\n")
    (rec.worktree_path / "notes.txt").write_text("unsaved\n")

    archived = archiver.archive(rec.id)
    assert archived.archived and not rec.worktree_path.exists()
    assert archiver.unarchive(rec.id).health == "ok"
    assert (rec.worktree_path / "notes.txt").read_text() == "unsaved\n"
    assert git(rec.worktree_path, "log", "-1", "--format=%s").strip() == "add login.py"
    report = collector.gc(dry_run=True)
    assert report.orphan_worktrees == [] and report.missing_worktrees == []


def test_a_progress_sink_swapped_on_the_facade_reaches_the_collaborators(cm: ChatML, repo: Path) -> None:
    """The dashboard swaps ``ChatML.progress`` around a call; creation must report to the new sink."""
    seen: list[str] = []
    cm.progress = seen.append
    cm.new_session(repo, name="watched")
    assert "creating worktree" in seen and "fetching origin" in seen


class IdleAgents(NoAgents):
    """No runner, so no agent is ever working."""

    def session_state(self, session_id: str) -> AgentState:
        return AgentState.IDLE


def test_shipping_runs_without_the_facade(store: Store, repo: Path, origin: Path, tmp_path: Path) -> None:
    """Branch update and conflict forecast with the small objects alone (no ChatML)."""
    from chatml_lab.core.forecast import conflict_rows
    from chatml_lab.core.shipping import Shipping

    config = Config()
    steps: list[str] = []
    settings = Settings(store, tmp_path / "data")
    workspaces = Workspaces(store, config, steps.append)
    agents = IdleAgents(store)
    records = Records(store, workspaces, agents)
    scripts = ScriptRunner(store, config.script_timeout, steps.append)
    operations = Operations(store, workspaces, steps.append)
    creator = Creator(store, config, settings, workspaces, scripts, operations, steps.append)
    archiver = Archiver(store, records, workspaces, agents, scripts, operations, steps.append)
    shipping = Shipping.build(
        store, config, settings, workspaces, records, agents, archiver.archive, steps.append
    )

    one = creator.create(NewSession(workspace=repo, name="one"))
    two = creator.create(NewSession(workspace=repo, name="two"))
    commit_file(one.worktree_path, "README.md", "# one\n")
    (two.worktree_path / "README.md").write_text("# two, not committed\n")
    rows = {r["session"]: r for r in conflict_rows(store, workspaces, steps.append)}
    assert rows["one"]["conflicts_with"] == ["two"] and rows["two"]["uncommitted"]

    upstream = tmp_path / "upstream"
    git(tmp_path, "clone", "-q", str(origin), str(upstream))
    commit_file(upstream, "new.txt", "from main\n")
    git(upstream, "push", "-q", "origin", "HEAD:main")
    rec = shipping.updater.update(one.id)
    assert (rec.ahead, rec.behind) == (1, 0)
    assert (one.worktree_path / "new.txt").read_text() == "from main\n"
    assert any(step.startswith("updated one onto origin/main by rebase") for step in steps)
    assert shipping.github_repo_name(workspaces.get(one.workspace_id)) is None  # a local origin: no GitHub
