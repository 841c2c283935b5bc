"""Bad input: each case raises its own typed error with a one-line message and changes nothing.

After every case: no new worktree, branch or ref, no new or changed session or workspace row, no
changed setting and no new directory under the workspaces dir.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.core.session import Session
from chatml_lab.errors import (
    AmbiguousSessionError,
    BareRepositoryError,
    ChatMLError,
    ConfigError,
    EmptyRepositoryError,
    InvalidArgumentError,
    InvalidNameError,
    NotARepositoryError,
    PullRequestNotFoundError,
    RefNotFoundError,
    SessionArchivedError,
    SessionExistsError,
    SessionNotArchivedError,
    SessionNotFoundError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
    WorktreeMissingError,
    WorkWouldBeLostError,
)

from .conftest import commit_file, git


@dataclass
class World:
    """A registered repository with a bare origin; sessions are made on demand by the cases."""

    cm: ChatML
    repo: Path
    origin: Path
    tmp: Path
    env: pytest.MonkeyPatch
    repos: list[Path] = field(default_factory=list)

    def session(self, name: str = "taken") -> Session:
        return self.cm.new_session(self.repo, name=name)

    def archived(self) -> Session:
        session = self.session("shelved")
        (session.worktree / "wip.txt").write_text("wip\n")
        session.archive()
        return session

    def dirty(self) -> Session:
        session = self.session("dirty")
        (session.worktree / "README.md").write_text("changed\n")
        commit_file(session.worktree, "unpushed.txt", "unpushed\n")
        return session

    def local_repo(self, name: str = "local") -> Path:
        """A repository without a remote, registered."""
        path = self.tmp / name
        git(self.tmp, "init", "-q", "-b", "main", str(path))
        commit_file(path, "a.txt", "a\n")
        self.cm.add_workspace(path)
        self.repos.append(path)
        return path

    def regular_file(self) -> Path:
        path = self.tmp / "a-regular-file"
        path.write_text("not a directory\n")
        return path


def state(world: World) -> dict[str, Any]:
    """Everything a failed call must leave as it was."""
    cm = world.cm
    found: dict[str, Any] = {}
    for repo in [world.repo, *world.repos]:
        found[f"{repo}:worktrees"] = git(repo, "worktree", "list", "--porcelain")
        found[f"{repo}:refs"] = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
        found[f"{repo}:status"] = git(repo, "status", "--porcelain", "--untracked-files=all")
    found["sessions"] = sorted(
        (dataclasses.astuple(rec) for rec in cm.store.sessions(include_archived=True)), key=str
    )
    # A fetch before the failure may stamp last_fetch_at; every other workspace field must stay.
    found["workspaces"] = sorted(dataclasses.astuple(dataclasses.replace(ws, last_fetch_at=None))
                                 for ws in cm.workspaces())  # fmt: skip
    found["settings"] = cm.settings()
    base = cm.workspaces_dir
    found["dirs"] = sorted(str(p) for p in base.glob("*/*")) + sorted(str(p) for p in base.glob("*"))
    return found


Setup = Callable[[World], Callable[[], object]]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    error: type[ChatMLError]
    match: str


def _plain_dir(w: World) -> Path:
    path = w.tmp / "plain"
    path.mkdir()
    (path / "file.txt").write_text("no git here\n")
    return path


def _empty_repo(w: World) -> Path:
    path = w.tmp / "empty"
    git(w.tmp, "init", "-q", str(path))
    return path


def _second_clone(w: World) -> Path:
    path = w.tmp / "second"
    git(w.tmp, "clone", "-q", str(w.origin), str(path))
    w.repos.append(path)
    return path


def _ambiguous(w: World) -> Callable[[], object]:
    w.session("same")
    w.cm.new_session(_second_clone(w), name="same")
    return partial(w.cm.session, "same")


def _stale_bad_prefix(w: World) -> Callable[[], object]:
    w.cm.store.set_setting("branch_prefix", "bad..prefix")  # as an older version might have stored it
    return partial(w.cm.new_session, w.repo)


def _unarchive_blocked(w: World) -> Callable[[], object]:
    session = w.archived()
    session.worktree.mkdir(parents=True)
    (session.worktree / "in-the-way.txt").write_text("someone else's file\n")
    return session.unarchive


def _env_workspaces_dir(w: World) -> Callable[[], object]:
    w.env.setenv("CHATML_WORKSPACES_DIR", str(w.regular_file() / "sub"))
    return partial(w.cm.new_session, w.repo, name="fine")


def _taken_by_directory(w: World) -> Callable[[], object]:
    w.session("other")  # makes <workspaces>/project exist
    blocker = w.cm.workspaces_dir / "project" / "blocker"
    blocker.mkdir()
    (blocker / "keep.txt").write_text("mine\n")
    return partial(w.cm.new_session, w.repo, name="blocker")


def _broken_config(w: World) -> Callable[[], object]:
    (w.repo / ".chatml").mkdir()
    (w.repo / ".chatml" / "config.json").write_text('{"setup": [1, 2]}')
    return partial(w.cm.new_session, w.repo, name="configured")


def _unparsable_config(w: World) -> Callable[[], object]:
    (w.repo / ".chatml").mkdir()
    (w.repo / ".chatml" / "config.json").write_text("{not json")
    return partial(w.cm.new_session, w.repo, name="configured")


CASES = [
    Case("not-a-repository", lambda w: partial(w.cm.new_session, _plain_dir(w)), NotARepositoryError,
         r"is not a git repository"),
    Case("add-path-missing", lambda w: partial(w.cm.add_workspace, w.tmp / "nope"), NotARepositoryError,
         r"nope does not exist"),
    Case("new-path-missing", lambda w: partial(w.cm.new_session, w.tmp / "nope"), NotARepositoryError,
         r"nope does not exist"),
    Case("empty-repository", lambda w: partial(w.cm.new_session, _empty_repo(w)), EmptyRepositoryError,
         r"has no commits yet"),
    Case("bare-repository", lambda w: partial(w.cm.add_workspace, w.origin), BareRepositoryError,
         r"is a bare repository: clone it"),
    Case("unknown-base-ref", lambda w: partial(w.cm.new_session, w.repo, base="no-such-branch"),
         RefNotFoundError, r"no branch, tag or commit named 'no-such-branch'"),
    Case("taken-name", lambda w: (w.session("taken"), partial(w.cm.new_session, w.repo, name="Taken"))[1],
         SessionExistsError, r"'taken' is taken"),
    Case("name-taken-by-a-branch",
         lambda w: (git(w.repo, "branch", "chatml/mine"), partial(w.cm.new_session, w.repo, name="mine"))[1],
         SessionExistsError, r"branch 'chatml/mine'"),
    Case("name-taken-by-a-directory", _taken_by_directory, SessionExistsError, r"'blocker' is taken"),
    Case("name-git-refuses", lambda w: partial(w.cm.new_session, w.repo, name="notes.lock.lock"),
         InvalidNameError, r"git refuses 'chatml/notes.lock'"),
    Case("name-without-usable-characters", lambda w: partial(w.cm.new_session, w.repo, name="!!!"),
         InvalidNameError, r"no letters or digits"),
    Case("name-only-non-latin", lambda w: partial(w.cm.new_session, w.repo, name="日本語"),
         InvalidNameError, r"no letters or digits"),
    Case("prefix-setting-git-refuses", lambda w: partial(w.cm.set_setting, "branch_prefix", "team.lock"),
         InvalidArgumentError, r"branch prefix 'team.lock' is not valid"),
    Case("prefix-setting-leading-dash", lambda w: partial(w.cm.set_setting, "branch_prefix", "-team"),
         InvalidArgumentError, r"branch prefix '-team' is not valid"),
    Case("stored-prefix-git-refuses", _stale_bad_prefix, ConfigError, r"branch prefix 'bad..prefix'"),
    Case("workspaces-dir-under-a-file",
         lambda w: partial(w.cm.set_setting, "workspaces_dir", str(w.regular_file() / "sub")),
         ConfigError, r"is not writable"),
    Case("workspaces-dir-in-proc", lambda w: partial(w.cm.set_setting, "workspaces_dir", "/proc/chatml"),
         ConfigError, r"/proc/chatml is not writable"),
    Case("workspaces-dir-env-unwritable", _env_workspaces_dir, ConfigError, r"is not writable"),
    Case("unknown-session", lambda w: partial(w.cm.session, "no-such-session"), SessionNotFoundError,
         r"no session named 'no-such-session'"),
    Case("ambiguous-session", _ambiguous, AmbiguousSessionError, r"names sessions in workspaces"),
    Case("unknown-pr", lambda w: partial(w.cm.new_session, w.repo, from_pr=99), PullRequestNotFoundError,
         r"pull request #99 not found"),
    Case("pr-number-not-positive", lambda w: partial(w.cm.new_session, w.repo, from_pr=0),
         InvalidArgumentError, r"must be positive"),
    Case("pr-without-remote", lambda w: partial(w.cm.new_session, w.local_repo(), from_pr=1),
         InvalidArgumentError, r"has no remote"),
    Case("pr-and-base", lambda w: partial(w.cm.new_session, w.repo, from_pr=1, base="main"),
         InvalidArgumentError, r"either --from-pr or --base"),
    Case("invalid-priority", lambda w: partial(w.cm.new_session, w.repo, priority="asap"),
         InvalidArgumentError, r"unknown priority 'asap': use one of urgent\|high"),
    Case("invalid-priority-update", lambda w: partial(w.session().update, priority="p0"),
         InvalidArgumentError, r"unknown priority 'p0'"),
    Case("invalid-task-status", lambda w: partial(w.session().update, priority="high", task_status="wip"),
         InvalidArgumentError, r"unknown task status 'wip'"),
    Case("invalid-permission-mode", lambda w: partial(w.cm.new_session, w.repo, permission_mode="yolo"),
         InvalidArgumentError, r"unknown permission mode 'yolo'"),
    Case("rename-to-nothing", lambda w: partial(w.session().rename, "???"), InvalidNameError,
         r"no letters or digits"),
    Case("sync-archived", lambda w: w.archived().sync, SessionArchivedError, r"is archived"),
    Case("archive-archived", lambda w: w.archived().archive, SessionArchivedError, r"is archived"),
    Case("rename-archived", lambda w: partial(w.archived().rename, "elsewhere"), SessionArchivedError,
         r"is archived: unarchive it"),
    Case("unarchive-live", lambda w: w.session().unarchive, SessionNotArchivedError, r"is not archived"),
    Case("unarchive-path-in-the-way", _unarchive_blocked, WorktreeMissingError, r"is in the way"),
    Case("delete-dirty-without-force", lambda w: w.dirty().delete, WorkWouldBeLostError,
         r"would lose 1 uncommitted file\(s\), 1 commit"),
    Case("remove-workspace-with-sessions",
         lambda w: (w.session(), partial(w.cm.remove_workspace, "project"))[1], WorkWouldBeLostError,
         r"still has 1 session"),
    Case("add-workspace-twice", lambda w: partial(w.cm.add_workspace, w.repo / "."), WorkspaceExistsError,
         r"is already the workspace 'project'"),
    Case("workspace-name-taken", lambda w: partial(w.cm.add_workspace, _second_clone(w), name="Project"),
         WorkspaceExistsError, r"already named 'project'"),
    Case("setup-config-wrong-shape", _broken_config, ConfigError, r"setup must be a command or a list"),
    Case("setup-config-not-json", _unparsable_config, ConfigError, r"config.json is not valid JSON"),
    Case("unknown-setting", lambda w: partial(w.cm.set_setting, "colour", "blue"), InvalidArgumentError,
         r"unknown setting 'colour'"),
    Case("unknown-workspace", lambda w: partial(w.cm.new_session, "no-such-workspace"),
         WorkspaceNotFoundError, r"no workspace 'no-such-workspace'"),
    Case("remove-unknown-workspace", lambda w: partial(w.cm.remove_workspace, "nope"),
         WorkspaceNotFoundError, r"no workspace 'nope'"),
]  # fmt: skip


@pytest.fixture
def world(cm: ChatML, repo: Path, origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    cm.add_workspace(repo)
    return World(cm=cm, repo=repo, origin=origin, tmp=tmp_path, env=monkeypatch)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(world: World, case: Case) -> None:
    call = case.setup(world)
    before = state(world)
    with pytest.raises(ChatMLError) as info:
        call()
    error = info.value
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    message = str(error)
    assert message and "\n" not in message and len(message) < 300, message
    assert "Traceback" not in message and "GitCommandError" not in message
    assert error.__class__.__module__ == "chatml_lab.errors"
    assert re.search(case.match, message), message
    assert state(world) == before


def test_the_table_has_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("given", "slug"),
    [("Fix login bug", "fix-login-bug"), ("Ünïcödé café", "unicode-cafe"), ("  spaced\tout  ", "spaced-out"),
     ("feature/Add API", "feature-add-api"), ("v1.2..3", "v1.2.3")],
)  # fmt: skip
def test_names_become_valid_slugs(cm: ChatML, repo: Path, given: str, slug: str) -> None:
    session = cm.new_session(repo, name=given)
    assert (session.name, session.branch) == (slug, f"chatml/{slug}")
    assert git(session.worktree, "branch", "--show-current").strip() == f"chatml/{slug}"
