"""Owners across machines (issue 13): asking another machine to change a session is the asker's
right to check, before the request travels — the machine that runs it acts as its own user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatml_lab.errors import NotOwnerError

from .machines import FakeMachine, wait_reachable


@pytest.fixture
def alice_a_bob_b(tmp_path: Path, hermetic: Path) -> Iterator[tuple[FakeMachine, FakeMachine]]:
    """Alice's machine ``a`` and Bob's machine ``b`` on one shared SQLite file."""
    url = f"sqlite:///{tmp_path / 'shared' / 'chatml.db'}"
    (tmp_path / "shared").mkdir()
    made: list[FakeMachine] = []
    try:
        made.append(FakeMachine.make("a", tmp_path, url, user="alice"))
        made.append(FakeMachine.make("b", tmp_path, url, user="bob"))
        yield made[0], made[1]
    finally:
        for machine in made:
            machine.stop()


def test_bob_on_b_cannot_have_a_change_alices_session_and_no_request_travels(
    alice_a_bob_b: tuple[FakeMachine, FakeMachine], repo: Path
) -> None:
    a, b = alice_a_bob_b
    made = a.cm.new_session(repo, name="hers")
    a.start_host()
    wait_reachable(a, b)

    for attempt in (
        lambda: b.cm.archive(made.id),
        lambda: b.cm.sync(made.id),
        lambda: b.cm.delete(made.id, force=True),
        lambda: b.cm.push(made.id),
        lambda: b.cm.update(made.id, name="mine-now"),
    ):
        with pytest.raises(NotOwnerError, match="belongs to alice"):
            attempt()
    assert b.cm.store.query("SELECT COUNT(*) FROM requests")[0][0] == 0  # nothing was asked of a
    rec = a.cm.record(made.id)
    assert (rec.name, rec.archived, made.worktree.is_dir()) == ("hers", False, True)

    assert b.cm.disk_usage(made.id) > 0  # reading is everyone's: measured on a, for bob
    a.cm.session(made.id).share("bob")
    assert b.cm.archive(made.id).archived  # shared with bob: a archives it for him
    assert not made.worktree.exists()
