"""Issue 8: a `chatml` command SIGKILLed at any git call loses no work, and the next command heals.

For create, rename, archive, unarchive and delete, the command is killed just before each git
command it runs, just after each one that changes something (after a read-only command the state
is the one "just before" the next command already covers), and at a few random moments. After
each kill:

- every byte of the work the session held is in its worktree or in a ref (blob ids compared);
- `chatml list --all` and `chatml gc --dry-run` run (every other time before the retry);
- running the same command again succeeds, and its result holds the work;
- the database and git agree (no open operation, no stray worktree, branch or directory).

The numbers of the evidence table (operation by kill points, lost, disagreements, failed retries)
are printed with `-s`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatml_lab.cli import main
from chatml_lab.core.manager import ChatML

from .conftest import commit_file, git
from .faults import Shim, Tally, Work, disagreements, forked, holds, killed, make_work, mutates, where_is

RANDOM_KILLS = 3


@dataclass
class World:
    cm: ChatML
    repo: Path
    shim: Shim
    capsys: pytest.CaptureFixture[str]

    def cli(self, *argv: str) -> tuple[int, str]:
        """Run `chatml ARGV` in this process: its exit code and everything it printed."""
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out + err


@pytest.fixture
def world(cm: ChatML, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[World]:
    commit_file(repo, ".worktreeinclude", ".env\n")
    git(repo, "push", "-q", "origin", "main")
    (repo / ".env").write_text("SECRET=main\n")
    cm.add_workspace(repo)
    yield World(cm, repo, Shim(tmp_path), capsys)


@dataclass
class Subject:
    """What one kill point acts on: the command, and the work it must not lose."""

    name: str
    argv: list[str]
    work: Work | None
    session_id: str | None


class Scenario:
    """How to prepare a subject for an operation, and what its successful end looks like."""

    def __init__(self, world: World, operation: str) -> None:
        self.world = world
        self.operation = operation
        self.made = 0

    def prepare(self) -> Subject:
        w, op = self.world, self.operation
        self.made += 1
        name = f"{op[:2]}{self.made}"
        if op == "create":
            return Subject(name, ["new", name, "--repo", str(w.repo)], None, None)
        work = make_work(w.cm, w.repo, name)
        argv = {"rename": ["set", name, "--rename", f"{name}-moved"], "archive": ["archive", name],
                "unarchive": ["unarchive", name], "delete": ["delete", name, "--force"]}[op]  # fmt: skip
        if op == "rename":
            work.branches.append(f"chatml/{name}-moved")
        if op == "unarchive":
            w.cm.archive(work.session_id)
        return Subject(name, argv, work, work.session_id)

    def began(self, subject: Subject) -> bool:
        """True when the operation wrote its row: something may have changed."""
        store = self.world.cm.store
        if subject.session_id is None:
            return any(op.session_name == subject.name for op in store.operations(kind="create"))
        return any(op.kind == self.operation for op in store.operations(session_id=subject.session_id))

    def finished(self, subject: Subject) -> list[str]:
        """Why the operation's end state is not what it should be (empty: it is)."""
        cm, repo, work = self.world.cm, self.world.repo, subject.work
        if self.operation == "create":
            found = cm.store.sessions_named(subject.name)
            return [] if len(found) == 1 and not found[0].archived else [f"{subject.name} not created"]
        assert work is not None and subject.session_id is not None
        rec = cm.store.session(subject.session_id)
        if self.operation == "delete":
            kept = where_is(repo, work)
            return [] if rec is None and kept and kept.startswith("refs/chatml/") else ["not deleted or lost"]
        if rec is None:
            return [f"{subject.name} vanished"]
        if self.operation == "archive":
            ok = rec.archived and rec.snapshot_ref and holds(repo, rec.snapshot_ref, work)
            return (
                [] if ok else [f"{subject.name}: archived={rec.archived}, {rec.snapshot_ref} lacks the work"]
            )
        if self.operation == "rename" and (rec.name, rec.branch) != (
            f"{subject.name}-moved",
            work.branches[-1],
        ):
            return [f"{subject.name}: named {rec.name} on {rec.branch}"]
        ok = not rec.archived and where_is(repo, work, rec.worktree_path) == "worktree"
        return [] if ok else [f"{subject.name}: the worktree lacks the work"]


def kill_points(world: World, scenario: Scenario) -> tuple[list[tuple[int, str]], float]:
    """Every kill point of the operation, from one run that counts its git commands (and must work)."""
    subject = scenario.prepare()
    started = time.monotonic()
    status = forked(subject.argv, world.shim.env(0, "before", log=True))
    took = time.monotonic() - started
    assert status == 0, f"{subject.argv} failed without any kill"
    assert scenario.finished(subject) == []
    calls = world.shim.calls()
    points = [(n, "before") for n in range(1, len(calls) + 1)]
    points += [(n, "after") for n, command in enumerate(calls, 1) if mutates(command)]
    return points, took


def reading_commands(world: World, tally: Tally, label: str) -> None:
    """`chatml list --all` and `chatml gc --dry-run` work: exit 0, no traceback."""
    for argv in (["list", "--all"], ["gc", "--dry-run"]):
        code, out = world.cli(*argv)
        if code != 0 or "Traceback" in out:
            tally.problems.append(f"{label}: `chatml {' '.join(argv)}` exited {code}: {out[-300:]}")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("operation", ["create", "rename", "archive", "unarchive", "delete"])
def test_a_kill_at_any_git_call_loses_nothing(world: World, operation: str) -> None:
    scenario = Scenario(world, operation)
    points, took = kill_points(world, scenario)
    rng = random.Random(8)
    schedule: list[tuple[int, str] | float] = [*points, *(rng.uniform(0, took) for _ in range(RANDOM_KILLS))]
    tally = Tally(operation)
    subject = scenario.prepare()
    for index, point in enumerate(schedule):
        tally.kill_points += 1
        if isinstance(point, float):
            status = forked(subject.argv, {}, kill_after=point)
        else:
            status = forked(subject.argv, world.shim.env(*point))
        label = f"{subject.name} killed at {point}"
        tally.kills += killed(status)
        if subject.work is not None and where_is(world.repo, subject.work) is None:
            tally.lost += 1
            tally.problems.append(f"{label}: work lost right after the kill")
        # The reading commands run on what the kill left (and settle it) at every other point; at
        # the others the retry meets the unsettled state first and they run after it.
        read_first = bool(index % 2) or not scenario.began(subject)
        if read_first:
            reading_commands(world, tally, label)
        if killed(status) and not scenario.began(subject):
            continue  # killed before the first change: the same subject serves the next point
        if killed(status) and not (operation == "create" and world.cm.store.sessions_named(subject.name)):
            code, out = world.cli(*subject.argv)
            if code != 0 or "Traceback" in out:
                tally.failed_retries += 1
                tally.problems.append(f"{label}: the retry exited {code}: {out[-300:]}")
        if not read_first:
            reading_commands(world, tally, label)
        wrong = disagreements(world.cm, world.repo)
        unfinished = scenario.finished(subject)
        if wrong:
            tally.disagreements += 1
            tally.problems.append(f"{label}: {wrong}")
        if unfinished:
            tally.failed_retries += 1
            tally.problems.append(f"{label}: {unfinished}")
        if subject.work is not None and where_is(world.repo, subject.work) is None:
            tally.lost += 1
            tally.problems.append(f"{label}: work lost after recovery")
        subject = scenario.prepare()
    print(f"\nkill table: {tally.row()}")
    assert tally.problems == [], "\n".join(tally.problems)
    assert tally.lost == tally.disagreements == tally.failed_retries == 0


def test_the_shim_kills_where_it_is_told(world: World) -> None:
    """The harness itself: a kill at call 1 stops `chatml new` before it made anything."""
    status = forked(["new", "never", "--repo", str(world.repo)], world.shim.env(1, "before"))
    assert killed(status)
    assert world.cm.store.sessions_named("never") == []
    assert disagreements(world.cm, world.repo) == []
