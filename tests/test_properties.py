"""Property tests (hypothesis): names, slugs and branch names git accepts; the event log's order.

git itself is the oracle for branch names (`git check-ref-format --branch`), so those properties
draw fewer examples.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatml_lab.core import naming
from chatml_lab.errors import InvalidArgumentError, InvalidNameError
from chatml_lab.events import REQUIRED, EventType
from chatml_lab.models import ConversationKind, SessionRecord, Workspace
from chatml_lab.storage.store import Store, new_id

QUICK = settings(max_examples=300, deadline=None, database=None)
WITH_GIT = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
CONTROL = st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\u200b", "\u202e"])


def git_accepts(branch: str) -> bool:
    return (
        subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True).returncode == 0
    )


names = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co")), max_size=80)


@QUICK
@given(names)
@example("a-.lock")  # found by reading: removing ".lock" left a trailing dash
def test_a_slug_is_short_lower_case_ascii_and_stable(text: str) -> None:
    try:
        slug = naming.slugify(text)
    except InvalidNameError as exc:
        assert "no letters or digits" in str(exc) and "\n" not in str(exc)
        return
    assert SLUG.fullmatch(slug) and len(slug) <= naming.MAX_LENGTH
    assert ".." not in slug and "--" not in slug
    if not slug.endswith(".lock"):  # `x.lock.lock` loses one suffix; git's check catches the rest
        assert naming.slugify(slug) == slug


@QUICK
@given(names, CONTROL, names)
def test_a_control_character_is_refused_not_slugged(before: str, control: str, after: str) -> None:
    with pytest.raises(InvalidNameError, match="control character"):
        naming.slugify(before + control + after)


@WITH_GIT
@given(names)
def test_git_accepts_every_session_branch_made_from_a_slug(text: str) -> None:
    try:
        slug = naming.slugify(text)
    except InvalidNameError:
        return
    if not slug.endswith(".lock"):
        assert git_accepts(f"chatml/{slug}"), slug


@WITH_GIT
@given(st.text(st.sampled_from("abcXYZ019._-/"), min_size=1, max_size=30))
def test_a_prefix_we_accept_makes_branches_git_accepts(prefix: str) -> None:
    if naming.valid_prefix(prefix):
        assert git_accepts(f"{prefix}/name"), prefix


@QUICK
@given(st.integers(min_value=0, max_value=20))
def test_generated_names_are_slugs(attempt: int) -> None:
    name = naming.generated_name(attempt)
    assert naming.slugify(name) == name


@QUICK
@given(st.text(max_size=200))
def test_names_from_messages_are_slugs(text: str) -> None:
    name = naming.name_from_text(text)
    assert name is None or naming.slugify(name) == name


# -- the event log ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def events(draw: Any) -> tuple[int, EventType, dict[str, Any]]:
    kind = draw(st.sampled_from(list(EventType)))
    data = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    for key in REQUIRED[kind]:
        data[key] = draw(json_values)
    return draw(st.integers(0, 2)), kind, data


def _store_with_conversations(target: Path | str | None = None) -> tuple[Store, list[str]]:
    """A store (a new SQLite file, or ``target``) with one session's three conversations; the
    workspace is named afresh each time, so one PostgreSQL database serves many examples."""
    store = Store(target or Path(tempfile.mkdtemp()) / "chatml.db")
    ws = Workspace(
        new_id()[:12], f"w-{new_id()[:8]}", Path("/nowhere") / new_id(), "main", None, None, time.time()
    )
    store.add_workspace(ws)
    now = time.time()
    rec = SessionRecord(id=new_id(), workspace_id=ws.id, name="s", branch="chatml/s",
                        worktree_path=ws.path / "s", base_ref="main", base_commit="0" * 40,
                        created_at=now, updated_at=now)  # fmt: skip
    rec, task = store.create_session(rec, 41000, 10)
    return store, [task, *(store.add_conversation(rec.id, ConversationKind.CHAT, f"c{i}") for i in range(2))]


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(events(), max_size=25), st.integers(0, 30), st.integers(1, 10))
def test_the_event_log_keeps_order_and_data(
    appended: list[tuple[int, EventType, dict[str, Any]]], after_index: int, limit: int
) -> None:
    _check_event_log(None, appended, after_index, limit)


@pytest.fixture(scope="module")
def postgres_db(postgres_admin: str) -> Any:
    """One PostgreSQL database for every example of a property (each makes its own workspace)."""
    from . import postgres

    url = postgres.create_database(postgres_admin)
    yield url
    postgres.drop_database(postgres_admin, url)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), max_size=25), st.integers(0, 30), st.integers(1, 10))
def test_the_event_log_keeps_order_and_data_on_postgres(
    postgres_db: str, appended: list[tuple[int, EventType, dict[str, Any]]], after_index: int, limit: int
) -> None:
    _check_event_log(postgres_db, appended, after_index, limit)


def _check_event_log(
    target: Path | str | None,
    appended: list[tuple[int, EventType, dict[str, Any]]],
    after_index: int,
    limit: int,
) -> None:
    store, conversations = _store_with_conversations(target)
    try:
        seqs = [store.append_event(conversations[c], kind, data) for c, kind, data in appended]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # global and increasing
        read = store.events(conversations)
        assert [e.seq for e in read] == seqs
        assert [(e.conversation_id, e.type, e.data) for e in read] == [
            (conversations[c], kind, json.loads(json.dumps(data))) for c, kind, data in appended
        ]
        after = seqs[after_index] if after_index < len(seqs) else (seqs[-1] if seqs else 0)
        assert [e.seq for e in store.events(conversations, after=after)] == [s for s in seqs if s > after]
        assert store.events(conversations, limit=limit) == read[:limit]
        for index, conversation in enumerate(conversations):  # one conversation's log is its own
            mine = [s for s, (c, _, _) in zip(seqs, appended, strict=True) if c == index]
            assert [e.seq for e in store.events([conversation])] == mine
    finally:
        store.close()


@settings(max_examples=40, deadline=None, database=None)
@given(st.sampled_from([t for t in EventType if REQUIRED[t]]), st.data())
def test_an_event_missing_a_required_key_is_refused_and_not_stored(kind: EventType, data: Any) -> None:
    store, conversations = _store_with_conversations()
    try:
        drop = data.draw(st.sampled_from(REQUIRED[kind]))
        payload = {key: "x" for key in REQUIRED[kind] if key != drop}
        with pytest.raises(InvalidArgumentError, match=f"missing {drop}"):
            store.append_event(conversations[0], kind, payload)
        assert store.events(conversations) == []
    finally:
        store.close()
