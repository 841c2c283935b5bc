"""The git side of the agent's sandbox.

Where a worktree's git state lives, the ref hook, and the trusted steps around a command (packed refs
written loose, a deleted branch restored).

Everything here runs outside the sandbox, as chatml; :mod:`chatml_lab.agents.sandbox` uses it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

HOOK = "reference-transaction"

_GIT_LOCATION_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")


def trusted_git(cwd: Path, *args: str) -> str | None:
    """A trusted git call: none of our (or an outer hook's) GIT_* overrides."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_") and k not in _GIT_LOCATION_ENV
    }
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def read_packed_refs(common_dir: Path) -> dict[str, str]:
    """``refname -> object`` from ``packed-refs`` (empty when there is none)."""
    try:
        text = (common_dir / "packed-refs").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        if line and line[0] not in "#^":
            sha, _, name = line.partition(" ")
            found[name] = sha
    return found


def loosen(common_dir: Path, prefix: str) -> None:
    """Write every packed-only ref under ``prefix`` as a loose file, with git's own lock protocol.

    A loose ref shadows its packed value: unless it already exists (and is then bound read-only),
    the agent could create one in its writable ref directory and so move another session's branch.
    """
    for name in read_packed_refs(common_dir):
        path = common_dir / name
        if not name.startswith(prefix) or path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:
            continue  # git holds the lock: it is updating this ref, which makes it loose anyway
        try:
            sha = read_packed_refs(common_dir).get(name)  # re-read under the lock
            if sha and not path.exists():
                os.write(fd, f"{sha}\n".encode())
                os.close(fd)
                fd = -1
                os.replace(lock, path)
        finally:
            if fd >= 0:
                os.close(fd)
            lock.unlink(missing_ok=True)


def has_loose_objects(objects: Path) -> bool:
    """True when ``objects`` holds at least one loose object."""
    try:
        with os.scandir(objects) as entries:
            fanout = [e.path for e in entries if len(e.name) == 2 and e.is_dir()]
        for path in fanout:
            with os.scandir(path) as inside:
                if next(inside, None) is not None:
                    return True
    except OSError:
        pass
    return False


def hook_script(own_ref: str | None, original: Path | None) -> str:
    """The ``reference-transaction`` hook: only ``own_ref`` and per-worktree refs may change."""
    own = shlex.quote(own_ref or "")
    chain = shlex.quote(str(original) if original is not None else "")
    shown = own_ref or "its own branch"
    allowed = shlex.quote(shown)
    return f"""#!/bin/sh
# Written by chatml for this session: only its own branch ({shown}) and per-worktree refs
# may change. Other sessions' branches, the default branch, tags, remote-tracking refs and chatml's
# snapshot refs (refs/chatml/*) are refused. The repository's own hook, if any, runs afterwards.
input=$(cat)
allowed={allowed}
if [ "$1" = prepared ]; then
  refused=""
  while read -r old new ref; do
    [ -n "$ref" ] || continue
    case "$ref" in
      {own}) case "$new" in *[!0]*) ;; *) refused="$refused $ref(delete)" ;; esac ;;
      refs/bisect/*|refs/worktree/*|refs/rewritten/*) ;;
      refs/*) refused="$refused $ref" ;;
    esac
  done <<EOF
$input
EOF
  if [ -n "$refused" ]; then
    echo "chatml sandbox: refused to update$refused: this session's agent may only move $allowed" >&2
    exit 1
  fi
fi
orig={chain}
if [ -n "$orig" ] && [ -x "$orig" ]; then
  printf '%s\\n' "$input" | "$orig" "$@"
  exit $?
fi
exit 0
"""


def entries(directory: Path) -> list[os.DirEntry[str]]:
    """The entries of ``directory`` by name (the scandir iterator closed at once)."""
    with os.scandir(directory) as found:
        return sorted(found, key=lambda e: e.name)


def write_if_changed(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` atomically with ``text`` unless it already holds exactly that."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


@dataclass(frozen=True)
class GitLayout:
    """Where a worktree's git state lives."""

    #: The worktree's own admin dir (``.git/worktrees/<name>``; the git dir itself for a main checkout).
    git_dir: Path
    #: The repository's shared git dir (objects, refs, config).
    common_dir: Path
    #: ``refs/heads/<branch>`` of the session, or None when unknown.
    own_ref: str | None

    @property
    def linked(self) -> bool:
        """True for a linked worktree (its admin dir is not the common dir)."""
        return self.git_dir != self.common_dir

    @classmethod
    def discover(cls, worktree: Path, branch: str | None = None) -> GitLayout | None:
        """The layout of ``worktree``; None when it is not inside a git worktree."""
        out = trusted_git(worktree, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir")
        if not out or len(out.splitlines()) != 2:
            return None
        git_dir, common = (Path(p) for p in out.splitlines())
        if branch is None:
            branch = (trusted_git(worktree, "symbolic-ref", "-q", "--short", "HEAD") or "") or None
        return cls(git_dir, common, f"refs/heads/{branch}" if branch else None)


def install_hooks(hooks_dir: Path, original: Path | None, own_ref: str | None) -> None:
    """Fill ``hooks_dir``: our ref hook, and links to the repository's own executable hooks."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    chained = original / HOOK if original is not None else None
    write_if_changed(hooks_dir / HOOK, hook_script(own_ref, chained), 0o755)
    wanted: set[str] = {HOOK}
    if original is not None and original.is_dir() and original != hooks_dir:
        for entry in entries(original):
            if entry.name == HOOK or entry.name.endswith(".sample") or not os.access(entry.path, os.X_OK):
                continue
            wanted.add(entry.name)
            link = hooks_dir / entry.name
            if not (link.is_symlink() and os.readlink(link) == entry.path):
                link.unlink(missing_ok=True)
                link.symlink_to(entry.path)
    for stale in entries(hooks_dir):
        if stale.name not in wanted and not stale.name.endswith(".new"):
            Path(stale.path).unlink(missing_ok=True)


def restore_ref(worktree: Path, layout: GitLayout, ref: str) -> str | None:
    """Recreate ``ref`` from its last reflog entry (after a raw ``rm`` of its file); the object or None."""
    for log in (layout.common_dir / "logs" / ref, layout.git_dir / "logs" / "HEAD"):
        try:
            last = log.read_text(errors="replace").strip().splitlines()[-1]
        except (OSError, IndexError):
            continue
        fields = last.split(" ", 2)
        sha = fields[1] if len(fields) > 2 else ""
        if len(sha) in (40, 64) and trusted_git(worktree, "update-ref", ref, sha, "") is not None:
            return sha
    return None


def writable_dir_except(directory: Path, own: str) -> list[str]:
    """Bind ``directory`` writable, with every entry but ``own`` read-only over itself."""
    if not directory.is_dir():
        return []
    out = ["--bind", str(directory), str(directory)]
    keep = (own, f"{own}.lock")
    for entry in entries(directory):
        if entry.name not in keep:
            out += ["--ro-bind", entry.path, entry.path]
    return out
