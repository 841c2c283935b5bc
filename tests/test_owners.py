"""Owners (issue 13) in Python, on SQLite: others' sessions are read-only until their owner shares them.

Two users on one data dir (and so one database): ``alice`` makes a session, ``bob`` reads it, is
refused every change with one line naming the owner and the way in, and can change it once shared.
The same refusal by PostgreSQL itself is in ``test_owners_postgres.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.cli import main
from chatml_lab.config import Config, default_user
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import InvalidArgumentError, NotOwnerError
from chatml_lab.ipython import args as magic_args

from .agent_fixtures import kill_runners, write_script
from .conftest import git

TEXT = [
    [{"type": "text", "text": "ok"}],
    [{"type": "text", "text": "again"}],
    [{"type": "text", "text": "3"}],
]


def manager(user: str) -> ChatML:
    """A manager on the test's data dir acting as ``user`` (runners quick to exit)."""
    config = Config(user=user, runner_idle_timeout=3.0, lease_stale_after=2.0, fetch_throttle=0)
    return ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]), config=config)


@pytest.fixture
def alice(hermetic: Path) -> Iterator[ChatML]:
    cm = manager("alice")
    try:
        yield cm
    finally:
        kill_runners(cm)
        cm.close()


@pytest.fixture
def bob(alice: ChatML) -> Iterator[ChatML]:
    cm = manager("bob")
    try:
        yield cm
    finally:
        cm.close()


def test_user_comes_from_chatml_user_then_jupyterhub_then_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.delenv("CHATML_USER", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert default_user() == getpass.getuser() == Config().user
    monkeypatch.setenv("JUPYTERHUB_USER", "hubuser")
    assert Config().user == "hubuser"
    monkeypatch.setenv("CHATML_USER", "explicit")
    assert Config().user == "explicit"


def test_what_a_user_creates_is_theirs_and_listed_with_its_owner(
    alice: ChatML, bob: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = alice.add_workspace(repo)
    session = alice.new_session(repo, name="feat")
    assert (ws.owner, session.owner, session.record.owner) == ("alice", "alice", "alice")
    other = bob.new_session(repo, name="other")  # in alice's workspace: the session is bob's
    assert other.owner == "bob"
    with pytest.raises(NotOwnerError, match="holds sessions of bob"):
        alice.remove_workspace(ws.name, force=True)  # would take bob's session rows with it
    assert {(r["name"], r["owner"]) for r in bob.rows()} == {("feat", "alice"), ("other", "bob")}
    assert list(alice.table()["owner"]) == ["bob", "alice"] or list(alice.table()["owner"]) == [
        "alice",
        "bob",
    ]
    assert main(["list"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["name", "workspace", "machine", "owner"]
    assert sorted(line.split()[3] for line in lines) == ["alice", "bob"]


def _snapshot(cm: ChatML, name: str) -> tuple[Any, ...]:
    """Everything a refused change could have touched: the row, conversations, events, inbox, files."""
    rec = cm.session(name).record
    conversations = cm.store.conversations(rec.id)
    ids = [c.id for c in conversations]
    marks = ",".join("?" * len(ids))
    inbox = cm.store.query(f"SELECT id FROM inbox WHERE conversation_id IN ({marks})", ids)
    return (
        replace(rec, health="ok"), [(c.id, c.title, c.agent_state) for c in conversations],
        cm.store.last_seq(ids), len(inbox), cm.store.shares(rec.id), rec.worktree_path.is_dir(),
        cm.store.open_operations(rec.id),
    )  # fmt: skip


def test_someone_elses_session_is_read_only_until_shared(
    alice: ChatML, bob: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", TEXT)
    mine = alice.new_session(repo, name="feat", agent=f"scripted:{script}")
    mine.send("first")
    assert mine.wait(timeout=60) == "idle"
    before = _snapshot(alice, "feat")

    theirs = bob.session("feat")  # reading works: record, events, table, conversations, findings
    assert theirs.owner == "alice" and theirs.name == "feat"
    assert "user_message" in [e.type.value for e in theirs.events()]
    assert "feat" in list(bob.table()["name"])
    assert theirs.conversations() and theirs.agent_state == "idle" and theirs.finding_list() == []

    writes: dict[str, Callable[[], object]] = {
        "send": lambda: theirs.send("hijack"),
        "priority": lambda: theirs.update(priority="urgent"),
        "status": lambda: theirs.update(task_status="done"),
        "pin": theirs.pin,
        "rename": lambda: theirs.rename("stolen"),
        "agent": lambda: theirs.update(model="other-model"),
        "archive": theirs.archive,
        "delete": lambda: theirs.delete(force=True),
        "stop": theirs.stop,
        "interrupt": theirs.interrupt,
        "approve": theirs.approve,
        "deny": theirs.deny,
        "sync": theirs.sync,
        "push": theirs.push,
        "update_branch": theirs.update_branch,
        "abort_update": theirs.abort_update,
        "merge": theirs.merge_pr,
        "review": theirs.review,
        "chat": theirs.new_conversation,
        "resolve": lambda: theirs.resolve_finding("1"),
        "fix": theirs.fix_findings,
        "share": lambda: theirs.share("bob"),
        "unshare": lambda: theirs.unshare("carol"),
    }
    for what, write in writes.items():
        with pytest.raises(NotOwnerError) as info:
            write()
        message = str(info.value)
        assert "\n" not in message and "alice" in message, (what, message)
        if what not in ("share", "unshare"):
            assert '`cm.session("feat").share("bob")`' in message, (what, message)
            assert "`chatml share feat bob`" in info.value.for_ui("cli"), what
        else:
            assert "only alice" in message, message
    assert _snapshot(alice, "feat") == before  # nothing changed, nothing queued, nothing half-made

    mine.share("bob")
    assert mine.shares() == ["bob"]
    theirs.update(priority="high")
    theirs.rename("feat-two")
    theirs.send("second")
    assert theirs.wait(timeout=60) == "idle"
    rec = alice.session("feat-two").record
    assert (rec.owner, rec.priority.value) == ("alice", "high")
    assert [e.data["text"] for e in theirs.events() if e.type.value == "user_message"] == ["first", "second"]
    with pytest.raises(NotOwnerError, match="only alice"):
        theirs.share("carol")  # shared people change the session, its owner decides who may

    mine.unshare("bob")
    with pytest.raises(NotOwnerError):
        theirs.update(priority="low")
    assert alice.session("feat-two").priority.value == "high"


def test_a_user_sees_but_does_not_store_what_others_sessions_reconcile(
    alice: ChatML, bob: ChatML, repo: Path
) -> None:
    session = alice.new_session(repo, name="moved")
    events = alice.store.last_seq([c.id for c in alice.store.conversations(session.id)])
    shutil.rmtree(session.worktree)  # deleted by hand
    [row] = bob.rows()
    assert "worktree missing" in str(row["health"])  # bob is told ...
    assert alice.record(session.id).health == "ok"  # ... but alice's row is hers to update
    assert alice.store.last_seq([c.id for c in alice.store.conversations(session.id)]) == events
    assert bob.sync_all() == []  # others' sessions are their owners' to sync
    [row] = alice.rows()
    assert "worktree missing" in str(row["health"])
    assert "worktree missing" in alice.record(session.id).health


def test_rows_from_before_owners_are_claimed_by_the_first_user_to_open_the_store(
    alice: ChatML, repo: Path
) -> None:
    alice.new_session(repo, name="old")
    alice.store.execute("UPDATE sessions SET owner = ''")  # as migration 8 leaves older rows
    alice.store.execute("UPDATE workspaces SET owner = ''")
    with manager("carol") as carol:
        assert carol.session("old").owner == "carol" and carol.workspaces()[0].owner == "carol"
    with manager("dave") as dave:
        assert dave.session("old").owner == "carol"
        with pytest.raises(NotOwnerError, match="belongs to carol"):
            dave.session("old").pin()
        with pytest.raises(NotOwnerError, match="workspace 'project' belongs to carol"):
            dave.remove_workspace("project", force=True)


def test_share_names_are_checked(alice: ChatML, repo: Path) -> None:
    session = alice.new_session(repo, name="feat")
    for bad in ("", "two words", "a;drop", "-x"):
        with pytest.raises(InvalidArgumentError, match="is not a user name"):
            session.share(bad)
    assert session.shares() == []
    session.share("bob").share("bob").share("alice")  # twice is once; the owner needs no share
    assert session.shares() == ["bob"]


def test_cli_share_and_unshare(
    alice: ChatML, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice.new_session(repo, name="feat")

    def run(user: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CHATML_USER", user)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = run("bob", "set", "feat", "--priority", "high")
    assert code == 1 and err.count("\n") == 1
    assert "belongs to alice" in err and "`chatml share feat bob`" in err
    assert run("bob", "share", "feat", "bob")[0] == 1
    assert run("alice", "share", "feat", "bob")[1] == "feat: owned by alice; shared with bob\n"
    assert run("bob", "share", "feat")[1] == "feat: owned by alice; shared with bob\n"
    assert "owner        alice, shared with bob" in run("bob", "show", "feat")[1]
    assert run("bob", "set", "feat", "--priority", "high")[0] == 0
    assert run("alice", "unshare", "feat", "bob")[1] == "feat: shared with nobody else\n"
    assert run("bob", "set", "feat", "--priority", "low")[0] == 1
    assert alice.session("feat").priority.value == "high"


def test_magic_share_parses() -> None:
    assert magic_args.parse("share feat bob") == magic_args.Share("feat", "bob")
    assert magic_args.parse("share feat") == magic_args.Share("feat", None)
    assert magic_args.parse("unshare feat bob") == magic_args.Share("feat", "bob", remove=True)
    with pytest.raises(InvalidArgumentError):
        magic_args.parse("unshare feat")


def test_owner_and_share_rows_on_both_engines(store_target: Path | str, tmp_path: Path) -> None:
    """The rows under :class:`Owners`, the same on SQLite and PostgreSQL (as the superuser: no policy)."""
    import time

    from chatml_lab.models import SessionRecord, Workspace
    from chatml_lab.storage.store import Store, new_id

    store = Store(store_target)
    try:
        now = time.time()
        store.add_workspace(Workspace(id="w1", name="w", path=tmp_path, default_branch="main", remote=None,
                                      branch_prefix=None, created_at=now, owner="alice"))  # fmt: skip
        rec = SessionRecord(
            id=new_id(), workspace_id="w1", name="s", branch="chatml/s", worktree_path=tmp_path / "s",
            base_ref="main", base_commit="0" * 40, created_at=now, updated_at=now, owner="alice",
        )  # fmt: skip
        stored, _task = store.create_session(rec, 41000, 10)
        assert store.session(stored.id).owner == "alice" and store.workspace("w1").owner == "alice"  # type: ignore[union-attr]
        assert store.add_share(stored.id, "bob") and not store.add_share(stored.id, "bob")
        assert store.add_share(stored.id, "carol")
        assert store.shares(stored.id) == ["bob", "carol"] and store.is_shared(stored.id, "bob")
        assert store.shared_with("bob") == {stored.id} and store.shared_with("dave") == set()
        assert store.remove_share(stored.id, "bob") and not store.remove_share(stored.id, "bob")
        assert store.claim_ownerless("zed") == 0  # nothing unowned: nothing written
        store.execute("UPDATE sessions SET owner = ''")
        assert store.claim_ownerless("zed") == 1 and store.session(stored.id).owner == "zed"  # type: ignore[union-attr]
        store.delete_session(stored.id)
        assert store.shares(stored.id) == []  # shares go with their session
        assert (store.database_role() is None) == (store.engine == "sqlite")
    finally:
        store.close()


def test_the_dashboard_shows_others_sessions_read_only(alice: ChatML, bob: ChatML, repo: Path) -> None:
    from chatml_lab.widgets.dashboard import Dashboard

    session = alice.new_session(repo, name="feat")
    bob.new_session(repo, name="own")
    board = Dashboard(bob, autostart=False, background=False)
    try:
        board.refresh()
        theirs, mine = board._row_widgets[session.id], board._row_widgets[bob.session("own").id]
        assert "alice" in theirs.name.value and "bob" in mine.name.value
        locked = ("pin", "priority", "status", "sync", "archive", "review", "push", "open_pr")
        assert all(getattr(theirs, c).disabled for c in locked) and not theirs.chat.disabled
        assert not any(getattr(mine, c).disabled for c in locked)
        session.share("bob")
        board.refresh()
        assert not any(getattr(theirs, c).disabled for c in locked)
    finally:
        board.close()


def test_gc_leaves_others_sessions_and_repositories_alone(alice: ChatML, bob: ChatML, repo: Path) -> None:
    session = alice.new_session(repo, name="gone")
    shutil.rmtree(session.worktree)  # deleted by hand: gc would archive it ...
    orphan = alice.workspaces_dir / "project" / "orphan"
    git(repo, "worktree", "add", "-q", "-b", "chatml/orphan", str(orphan))
    report = bob.gc(dry_run=False)  # ... but not bob's gc: neither the session nor the repository
    assert report.missing_worktrees == [] and report.orphan_worktrees == [] and orphan.exists()
    assert not alice.record(session.id).archived
    report = alice.gc(dry_run=False)
    assert report.missing_worktrees == ["gone"] and report.orphan_worktrees == [orphan]
    assert alice.record(session.id).archived and not orphan.exists()


def test_magic_share(
    alice: ChatML, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.testing import globalipapp

    from chatml_lab.ipython.magics import ChatMLMagics

    alice.new_session(repo, name="feat")
    monkeypatch.setenv("CHATML_USER", "bob")
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "chatml_lab")
    magics = shell.magics_manager.registry["ChatMLMagics"]
    assert isinstance(magics, ChatMLMagics)
    magics.settings.data_dir = os.environ["CHATML_DATA_DIR"]
    try:
        capsys.readouterr()
        shell.run_line_magic("chatml", "set feat --priority high")
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "belongs to alice" in err and "`chatml share feat bob`" in err
        shell.run_line_magic("chatml", "share feat bob")  # bob is not its owner
        assert "only alice" in capsys.readouterr().err
        alice.session("feat").share("bob")
        shell.run_line_magic("chatml", "share feat")
        assert capsys.readouterr().out == "feat: owned by alice; shared with bob\n"
        shell.run_line_magic("chatml", "set feat --priority high")
        assert alice.session("feat").priority.value == "high"
    finally:
        magics.close()
        magics.settings.data_dir = None
