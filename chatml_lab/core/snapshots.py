"""Snapshot refs: where a session's work is kept while no worktree holds it (DESIGN §4, §7).

Each snapshot ref has a name of its own, ``refs/chatml/snapshots/<session id>/<label>-<unique>``,
is written once (:meth:`~chatml_lab.gitops.repo.GitRepo.create_ref` never moves a ref) and is
removed only by ``gc``, once :func:`held_elsewhere` (or the operation that made it redundant)
shows that its work is somewhere else.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

from ..gitops.repo import GitRepo
from ..models import SessionRecord
from .worktrees import included_work, read_head

SNAPSHOT_NS = "refs/chatml/snapshots"


def snapshot_ref(session_id: str, label: str) -> str:
    """A fresh, never used name for a snapshot ref of the session."""
    return f"{SNAPSHOT_NS}/{session_id}/{label}-{int(time.time())}-{uuid.uuid4().hex[:8]}"


def session_of(ref: str) -> str:
    """The session id a snapshot ref belongs to."""
    return ref.removeprefix(SNAPSHOT_NS + "/").split("/", 1)[0]


def worktree_state(repo: GitRepo, root: Path, worktree: Path) -> str | None:
    """The tree of everything a snapshot of ``worktree`` would keep (None: not a worktree)."""
    if read_head(worktree) is None:
        return None
    return repo.worktree_tree(worktree, included_work(repo, root, worktree))


def held_elsewhere(repo: GitRepo, root: Path, rec: SessionRecord | None, sha: str) -> bool:
    """True when the work of snapshot ``sha`` is in the session's live worktree right now: the
    same files byte for byte, on a history that contains the snapshot's base commit.
    """
    if rec is None or rec.archived:
        return False
    now = worktree_state(repo, root, rec.worktree_path)
    if now is None or now != repo.tree_of(sha):
        return False
    head = repo.resolve(f"refs/heads/{rec.branch}")
    if head is None:
        return False
    base = repo.resolve(f"{sha}^1") or sha
    return repo.is_ancestor(base, head)


def finish_removal(repo: GitRepo, path: Path) -> None:
    """Remove a worktree whose work a snapshot already holds, however far an earlier removal got."""
    if path.exists() and read_head(path) is not None:
        repo.remove_worktree(path)
        return
    if path.exists():  # what a removal that was cut short left behind
        shutil.rmtree(path)
    repo.run("worktree", "prune")


def fresh_work(repo: GitRepo, worktree: Path) -> bool:
    """True when a worktree has files a fresh checkout would not: added, changed or untracked ones
    (files missing from a checkout cut short are not work).
    """
    return any(line[:2].strip() not in ("D", "DD") for line in repo.status_porcelain(worktree).splitlines())
