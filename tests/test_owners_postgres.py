"""Owners enforced by PostgreSQL itself (issue 13): row-level security with one role per person.

Each test gets a fresh database (``postgres_url``: migrated by the superuser, who is exempt) and two
login roles made by ``chatml db add-person`` / :func:`chatml_lab.storage.rls.add_person`. ``bob``
cannot write ``alice``'s session: not through the package with its Python check switched off, not
with plain SQL as his own role; he reads it; once ``alice`` shares it, his role can write it.
"""

from __future__ import annotations

import io
import os
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chatml_lab.cli import main
from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.core.owners import Owners
from chatml_lab.errors import ConfigError, NotOwnerError, StorageError
from chatml_lab.storage.rls import BY_CONVERSATION, BY_SESSION, add_person

from .agent_fixtures import write_script

PASSWORD = "s3cret-pw"


def role_url(admin_url: str, role: str) -> str:
    """``admin_url`` connecting as ``role`` (with its password: works under trust and scram alike)."""
    parts = urllib.parse.urlsplit(admin_url)
    netloc = f"{role}:{PASSWORD}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class People:
    """Two people with roles on the test's database, and their managers on one data dir."""

    def __init__(self, admin_url: str) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.admin_url = admin_url
        self.alice, self.bob = f"alice_{suffix}", f"bob_{suffix}"
        self.managers: list[ChatML] = []

    def url(self, person: str) -> str:
        return role_url(self.admin_url, person)

    def manager(self, person: str) -> ChatML:
        config = Config(user=person, database_url=self.url(person), database_retry_for=2.0)
        cm = ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]), config=config)
        self.managers.append(cm)
        return cm

    def drop(self) -> None:
        for cm in self.managers:
            cm.close()
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for role in (self.alice, self.bob):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{role}"')
                    conn.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def people(postgres_url: str, hermetic: Path) -> Iterator[People]:
    ChatML(data_dir=hermetic / "admin", config=Config(database_url=postgres_url)).close()  # migrates
    found = People(postgres_url)
    try:
        for person in (found.alice, found.bob):
            assert add_person(postgres_url, person, PASSWORD) is True
        yield found
    finally:
        found.drop()


def test_every_session_table_is_row_level_secured(people: People) -> None:
    with psycopg.connect(people.admin_url) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace"
        ).fetchall()
    secured = {name for name, on, forced in rows if on and forced}
    expected = {"workspaces", "sessions", "session_shares", *BY_SESSION, *BY_CONVERSATION}
    assert expected <= secured
    assert {"settings", "github_etags", "chatml_schema"}.isdisjoint(secured)


def test_the_database_refuses_bobs_writes_through_the_package(
    people: People, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alice, bob = people.manager(people.alice), people.manager(people.bob)
    script = write_script(tmp_path / "s.json", [[{"type": "text", "text": "ok"}]])
    session = alice.new_session(repo, name="feat", agent=f"scripted:{script}")
    task = alice.agents.conversation(session.id).id
    assert (session.owner, alice.workspaces()[0].owner) == (people.alice, people.alice)

    theirs = bob.session("feat")  # bob reads it: record, table, events
    assert theirs.owner == people.alice and [r["name"] for r in bob.rows()] == ["feat"]
    with pytest.raises(NotOwnerError, match=f"belongs to {people.alice}"):
        theirs.update(priority="urgent")  # Python says no first ...

    monkeypatch.setattr(Owners, "may_write", lambda *args, **kwargs: True)  # ... switched off:
    theirs.update(priority="urgent")  # the database updates no row ...
    with pytest.raises(NotOwnerError, match="row-level security"):
        theirs.update(task_status="done")  # ... and refuses the hand-set status note's insert
    with pytest.raises(NotOwnerError, match="row-level security"):
        theirs.send("do my bidding")  # the inbox insert is refused by PostgreSQL
    with pytest.raises(NotOwnerError, match="row-level security"):
        bob.store.append_event(task, "notice", {"message": "forged"})
    with pytest.raises(NotOwnerError, match="row-level security"):
        bob.store.add_share(session.id, people.bob)  # nobody shares himself in
    bob.store.delete_session(session.id)  # deletes nothing
    rec = alice.record(session.id)
    assert (rec.priority.value, rec.task_status.value, rec.owner) == ("none", "in_progress", people.alice)
    assert all(e.data.get("message") != "forged" for e in alice.store.events([task]))
    assert alice.store.query("SELECT count(*) FROM inbox")[0][0] == 0
    monkeypatch.undo()

    session.share(people.bob)  # alice lets bob in: his role may now write the session
    theirs.update(priority="high")
    bob.store.append_event(task, "notice", {"message": "bob was here"})
    assert alice.record(session.id).priority.value == "high"
    assert alice.store.events([task])[-1].data == {"message": "bob was here"}


def test_plain_sql_as_bobs_role_reads_but_cannot_write(people: People, repo: Path) -> None:
    alice = people.manager(people.alice)
    session = alice.new_session(repo, name="feat")
    task = alice.agents.conversation(session.id).id

    with psycopg.connect(people.url(people.bob), autocommit=True) as bob:
        assert bob.execute("SELECT name, owner FROM sessions").fetchall() == [("feat", people.alice)]
        assert bob.execute("SELECT count(*) FROM conversations").fetchone() == (1,)
        assert bob.execute("UPDATE sessions SET priority = 'urgent'").rowcount == 0
        assert bob.execute("UPDATE sessions SET owner = %s", (people.bob,)).rowcount == 0
        assert bob.execute("DELETE FROM sessions").rowcount == 0
        assert bob.execute("DELETE FROM conversations").rowcount == 0
        assert bob.execute("UPDATE workspaces SET path = '/elsewhere'").rowcount == 0
        refused = [
            ("INSERT INTO inbox (conversation_id, kind, data, created_at) VALUES (%s, 'message', '{}', 0)", (task,)),
            ("INSERT INTO events (conversation_id, type, data, created_at) VALUES (%s, 'notice', '{}', 0)", (task,)),
            ("INSERT INTO conversations (id, session_id, kind, title, created_at, updated_at)"
             " VALUES ('x', %s, 'chat', 'mine now', 0, 0)", (session.id,)),
            ("INSERT INTO session_shares (session_id, person, shared_at) VALUES (%s, %s, 0)", (session.id, people.bob)),
            ("INSERT INTO findings (session_id, number, file_path, title, content, severity, created_at)"
             " VALUES (%s, 1, 'a.py', 't', 'c', 'low', 0)", (session.id,)),
        ]  # fmt: skip
        for statement, params in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                bob.execute(statement, params)
        rec = alice.record(session.id)
        assert (rec.priority.value, rec.owner) == ("none", people.alice)

        session.share(people.bob)
        assert bob.execute("UPDATE sessions SET priority = 'high' WHERE id = %s", (session.id,)).rowcount == 1
        bob.execute(refused[0][0], refused[0][1])  # the inbox takes his message now
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # shared is not owned: no giving away
            bob.execute("UPDATE sessions SET owner = %s WHERE id = %s", (people.bob, session.id))
        assert bob.execute("DELETE FROM session_shares").rowcount == 0  # only the owner unshares
        session.unshare(people.bob)
        assert bob.execute("UPDATE sessions SET priority = 'low'").rowcount == 0
    assert alice.record(session.id).priority.value == "high"


def test_a_user_must_be_the_role_they_connect_as(people: People) -> None:
    config = Config(user="someone-else", database_url=people.url(people.bob))
    with pytest.raises(ConfigError, match=f"reached as role '{people.bob}'.*CHATML_USER={people.bob}"):
        ChatML(data_dir=Path(os.environ["CHATML_DATA_DIR"]), config=config)


def test_cli_add_person(
    postgres_url: str, hermetic: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    person = f"carol_{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("CHATML_DATABASE_URL", postgres_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    try:
        assert main(["db", "add-person", person, "--password-stdin"]) == 0
        assert capsys.readouterr().out.startswith(f"created role {person}:")
        with psycopg.connect(role_url(postgres_url, person)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (person,)
            assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        monkeypatch.setenv("CHATML_DATABASE_URL", role_url(postgres_url, person))
        monkeypatch.setenv("CHATML_USER", person)
        assert main(["list"]) == 0  # the person opens the store: nothing to migrate, nothing refused
        assert main(["db", "add-person", "x y"]) == 1
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{person}"')
            conn.execute(f'DROP ROLE "{person}"')


def test_only_the_administrator_upgrades_the_schema(people: People) -> None:
    from chatml_lab.storage.schema import MIGRATIONS

    people.manager(people.bob).close()  # the schema as migrated: a person opens it
    MIGRATIONS.append("CREATE TABLE later_table (x TEXT);")  # a later chatml's next migration
    try:
        with pytest.raises(StorageError, match=r"no right to it .*upgrades the schema with their own URL"):
            people.manager(people.bob)
        ChatML(
            data_dir=Path(os.environ["CHATML_DATA_DIR"]), config=Config(database_url=people.admin_url)
        ).close()
        people.manager(people.bob)  # upgraded by the administrator: the person opens it again
    finally:
        MIGRATIONS.pop()
