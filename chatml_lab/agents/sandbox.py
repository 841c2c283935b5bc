"""The agent's sandbox (DESIGN §5): what one session's commands may write, read and reach.

A :class:`Sandbox` wraps a command (the ``Bash`` tool's ``bash -c``, or the whole Claude Code CLI)
in bubblewrap so that, kernel-enforced:

- the filesystem is read-only except the session's worktree, a private ``/tmp`` that lives for the
  whole session (``<worktree git dir>/chatml/tmp``, removed with the worktree), and the few parts
  of the repository's git directory a commit on the session's own branch writes: the worktree's
  own admin dir (index, HEAD, logs), ``objects/`` (new loose objects; existing packs and
  ``objects/info`` stay read-only), and the directory holding the session's branch ref and its
  reflog, where every other entry (other sessions' branches) is bound read-only over itself.
  Everything else in the git dir (``config``, ``hooks``, ``packed-refs``, the default branch,
  ``refs/chatml/*`` snapshots, tags, remote-tracking refs, other worktrees' admin dirs) is
  read-only. The worktree's ``.git`` file is read-only too, so the agent cannot point chatml's own
  (unsandboxed) git calls at a repository of its making;
- before each command the loose objects are packed (``git repack -d --geometric=2``): a read-only
  pack cannot be deleted, so another session's committed work cannot be destroyed from inside;
- packed-only refs next to the session's branch are written out loose first, so a loose file the
  agent creates cannot shadow them;
- no capabilities, a new user and PID namespace (no ``mount``, no ``ptrace`` or ``/proc/<pid>/root``
  of processes outside), and ``--unshare-net`` when the network is off;
- the user's git configuration stays readable even when ``HOME`` (or ``$XDG_CONFIG_HOME``,
  ``$GIT_CONFIG_GLOBAL``, a ``PATH`` entry, the workspace's main checkout) lives under ``/tmp``,
  which the private ``/tmp`` would otherwise hide.

Independently of bubblewrap, the environment drops credentials (:func:`scrub_env`) and points
git's ``core.hooksPath`` at a per-session directory whose ``reference-transaction`` hook refuses
updates to any ref other than the session's branch and per-worktree refs (the repository's own
hooks still run: they are linked into that directory), and :meth:`Sandbox.finish` puts a HEAD
switched to another branch back and restores a deleted session branch after each command (chatml's
own, unsandboxed git calls follow HEAD). Inside bubblewrap the hook is a courtesy
with a clear message (the filesystem refuses anyway); without bubblewrap it is the only guard, and
an advisory one. What the sandbox cannot close is listed in the README's "Security" section.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from .gitguard import (
    GitLayout,
    has_loose_objects,
    install_hooks,
    loosen,
    restore_ref,
    trusted_git,
    writable_dir_except,
    write_if_changed,
)

#: Credentials the agent's commands never inherit (unless allowed by name).
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "GITHUB_TOKEN",
              "GH_TOKEN")  # fmt: skip
#: Names ending like these look like credentials and are dropped too (``AWS_SECRET_ACCESS_KEY``...).
SECRET_SUFFIXES = ("_API_KEY", "_AUTH_TOKEN", "_ACCESS_TOKEN", "_TOKEN", "_SECRET", "_SECRET_KEY",
                   "_SECRET_ACCESS_KEY", "_PASSWORD")  # fmt: skip
INSTALL_HINT = "apt-get install bubblewrap"
#: Git settings every sandboxed git process gets through ``GIT_CONFIG_*``: no automatic gc
#: (it would fail on the read-only packs and print errors after a successful commit).
GIT_SETTINGS = (("gc.auto", "0"), ("maintenance.auto", "false"))
_HIDDEN_ROOT = Path("/tmp")
_STRICT = ["--unshare-user", "--disable-userns"]
_BASE = ["--unshare-pid", "--unshare-ipc", "--cap-drop", "ALL", "--die-with-parent"]


@dataclass(frozen=True)
class SandboxPolicy:
    """The settings a sandbox runs with (from :class:`~chatml_lab.config.Config`)."""

    #: False: the command gets a network namespace of its own (no route out, not even to 127.0.0.1).
    network: bool = True
    #: Environment variables passed on purpose although they look like credentials.
    env_allow: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> SandboxPolicy:
        """The policy :class:`~chatml_lab.config.Config`'s ``sandbox_*`` settings describe."""
        return cls(network=config.sandbox_network == "on", env_allow=frozenset(config.sandbox_env_names))


def is_secret_name(name: str) -> bool:
    """True for the names :func:`scrub_env` drops."""
    upper = name.upper()
    return upper in SECRET_ENV or upper.endswith(SECRET_SUFFIXES)


def scrub_env(env: Mapping[str, str], allow: Iterable[str] = ()) -> dict[str, str]:
    """``env`` without credentials, except the names in ``allow``."""
    allowed = set(allow)
    return {k: v for k, v in env.items() if k in allowed or not is_secret_name(k)}


def _bwrap_flags(strict: bool) -> list[str]:
    return [*(_STRICT if strict else []), *_BASE]


@functools.cache
def _probe() -> tuple[str | None, bool, str | None]:
    """(bwrap path, strict flags work, problem) — probed once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, False, f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    last = "no output"
    for strict in (True, False):
        argv = [bwrap, *_bwrap_flags(strict), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        try:
            done = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
            continue
        if done.returncode == 0:
            return bwrap, strict, None
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return bwrap, False, f"{bwrap} cannot create a sandbox here ({last})"


def sandbox_problem() -> str | None:
    """None when bubblewrap can confine commands here, else why not (with the fix)."""
    return _probe()[2]


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can create a sandbox here (probed once per process)."""
    return sandbox_problem() is None


def _hidden(path: Path) -> bool:
    """True when the private ``/tmp`` would hide ``path``."""
    return path.is_relative_to(_HIDDEN_ROOT)


class Sandbox:
    """The confinement of one session's commands (see the module docstring).

    ``enabled=None`` uses bubblewrap when :func:`sandbox_available`; ``False`` never does (the
    environment is still scrubbed and the ref hook still installed).
    """

    def __init__(
        self,
        worktree: Path,
        branch: str | None = None,
        policy: SandboxPolicy | None = None,
        enabled: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.worktree = Path(os.path.abspath(worktree)).resolve()
        self.policy = policy or SandboxPolicy()
        self.active = sandbox_available() if enabled is None else bool(enabled) and sandbox_available()
        self.layout = GitLayout.discover(self.worktree, branch)
        # Session state lives in the worktree's admin dir, so it goes away with the worktree.
        if self.layout is not None:
            self.state_dir = self.layout.git_dir / "chatml"
        else:
            digest = hashlib.sha256(str(self.worktree).encode()).hexdigest()[:16]
            self.state_dir = Path(tempfile.gettempdir()) / f"chatml-sandbox-{digest}"
        self.tmp_dir = self.state_dir / "tmp"
        self.hooks_dir = self.state_dir / "hooks"
        self.bin_dir = self.state_dir / "bin"
        #: The environment the commands start from: where HOME, PATH and the checkout are.
        self.base_env = dict(os.environ if env is None else env)
        self._original_hooks: Path | None = None
        self._local_remotes: list[Path] = []
        if self.layout is not None:
            hooks = trusted_git(self.worktree, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
            self._original_hooks = (self.worktree / hooks).resolve() if hooks else None
            urls = trusted_git(self.worktree, "config", "--get-regexp", r"^remote\..*\.url$") or ""
            for line in urls.splitlines():
                url = line.partition(" ")[2].removeprefix("file://")
                if url.startswith("/"):
                    self._local_remotes.append(Path(url))

    # -- before each command -------------------------------------------------------------------

    def prepare(self) -> None:
        """Trusted set-up before a command: tmp dir, hooks, packed objects, loose refs."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if self.layout is None:
            return
        self._write_hooks()
        if not self.active or not self.layout.linked:
            return
        common = self.layout.common_dir
        for sub in ("objects/pack", "objects/info"):
            (common / sub).mkdir(parents=True, exist_ok=True)
        if has_loose_objects(common / "objects"):
            # Geometric: loose objects go into a pack and the small packs merge, so the count stays low.
            trusted_git(self.worktree, "repack", "-d", "-q", "--geometric=2")
        own = self.layout.own_ref
        if own:
            loosen(common, own.rsplit("/", 1)[0] + "/")
            (common / "logs" / own).parent.mkdir(parents=True, exist_ok=True)
        config_worktree = self.layout.git_dir / "config.worktree"
        if not config_worktree.exists():
            config_worktree.touch()  # bound read-only: the agent cannot add one that chatml's git would read

    def _write_hooks(self) -> None:
        own = self.layout.own_ref if self.layout else None
        install_hooks(self.hooks_dir, self._original_hooks, own)

    # -- the command ---------------------------------------------------------------------------

    def env(self, base: Mapping[str, str], scrub: bool = True) -> dict[str, str]:
        """The command's environment: ``base`` without credentials, plus TMPDIR and git's hook dir.

        ``scrub=False`` keeps credentials (Claude Code's CLI needs its own to reach the API).
        """
        env = scrub_env(base, self.policy.env_allow) if scrub else dict(base)
        env["TMPDIR"] = str(_HIDDEN_ROOT if self.active else self.tmp_dir)
        settings = list(GIT_SETTINGS)
        if self.layout is not None:
            settings.insert(0, ("core.hooksPath", str(self.hooks_dir)))
        try:
            count = int(env.get("GIT_CONFIG_COUNT", "0"))
        except ValueError:
            count = 0
        for key, value in settings:
            env[f"GIT_CONFIG_KEY_{count}"] = key
            env[f"GIT_CONFIG_VALUE_{count}"] = value
            count += 1
        env["GIT_CONFIG_COUNT"] = str(count)
        return env

    def wrap(
        self, argv: list[str], writable: Iterable[Path] = (), hide_credentials: bool = True
    ) -> list[str]:
        """``argv`` inside bubblewrap (unchanged when the sandbox is not active).

        ``writable`` adds directories the command may write (Claude Code's config dir);
        ``hide_credentials`` shows well-known token files (:meth:`credential_files`) as empty.
        """
        if not self.active:
            return list(argv)
        bwrap, strict, _problem = _probe()
        out = [bwrap or "bwrap", *_bwrap_flags(strict)]
        if not self.policy.network:
            out.append("--unshare-net")
        out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        out += ["--bind", str(self.tmp_dir), "/tmp"]
        for path in self._reexposed():
            out += ["--ro-bind", str(path), str(path)]
        for path in [self.worktree, *(Path(p).resolve() for p in writable)]:
            out += ["--bind", str(path), str(path)]
        dot_git = self.worktree / ".git"
        if dot_git.is_file():
            out += ["--ro-bind", str(dot_git), str(dot_git)]
        out += self._git_binds()
        hidden = self.credential_files() if hide_credentials else []
        if hidden:
            empty = self.state_dir / "empty"
            if not empty.is_file() or empty.stat().st_size:
                empty.parent.mkdir(parents=True, exist_ok=True)
                empty.write_bytes(b"")
            for path in hidden:
                out += ["--ro-bind", str(empty), str(path)]
        return [*out, "--chdir", str(self.worktree), "--", *argv]

    def credential_files(self) -> list[Path]:
        """Existing files that hold the tokens :data:`SECRET_ENV` names (Claude Code's login, gh's)."""
        env = self.base_env
        home = Path(env.get("HOME") or Path.home())
        xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        claude = Path(env.get("CLAUDE_CONFIG_DIR") or home / ".claude")
        candidates = [claude / ".credentials.json", home / ".claude" / ".credentials.json",
                      xdg / "gh" / "hosts.yml", home / ".git-credentials", home / ".netrc"]  # fmt: skip
        return sorted({p.resolve() for p in candidates if p.is_file()})

    def finish(self) -> str | None:
        """Trusted check after a command: HEAD must not be left on another branch.

        chatml's own git calls in this worktree (updating the branch, archiving) run unsandboxed and
        follow HEAD; a HEAD switched to ``main`` would let them move ``main``. HEAD goes back to the
        session's branch (files untouched) and the returned note says so; detached HEAD (a rebase)
        is left alone.
        """
        own = self.layout.own_ref if self.layout is not None else None
        if own is None or not self.layout or not self.layout.linked:
            return None
        notes = []
        if trusted_git(self.worktree, "rev-parse", "--verify", "-q", own) is None:
            restored = restore_ref(self.worktree, self.layout, own)
            if restored:
                notes.append(f"[chatml: {own} had been deleted; restored at {restored[:12]} from the reflog]")
        head = trusted_git(self.worktree, "symbolic-ref", "-q", "HEAD")
        if head is not None and head != own:
            trusted_git(self.worktree, "symbolic-ref", "HEAD", own)
            notes.append(
                f"[chatml: HEAD was switched to {head}; it is back on {own} (the files were left as they are)]"
            )
        return "\n".join(notes) or None

    def launcher(self, name: str, argv: list[str], writable: Iterable[Path] = ()) -> Path:
        """An executable that runs ``argv`` plus its own arguments inside this sandbox.

        For programs started by a library that only takes a path (Claude Code's CLI). It lives in
        a directory bound read-only inside the sandbox and is rewritten before every launch, so
        nothing the sandboxed program does can change what runs outside next time.
        """
        self.prepare()
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        command = shlex.join(self.wrap(argv, writable, hide_credentials=False))
        path = self.bin_dir / name
        # Output passes through cat: the PID namespace is torn down after the program exits, so
        # without it a caller could see the exit before end-of-file on the pipes it reads.
        script = (
            f'#!/bin/bash\nset -o pipefail\n{{ {command} "$@" 2>&1 1>&3 3>&- | cat 1>&2 3>&-; }} 3>&1 | cat\n'
        )
        write_if_changed(path, script, 0o755)
        return path

    def _reexposed(self) -> list[Path]:
        """Paths under ``/tmp`` the command still needs to read (read-only).

        The user's git config, ``PATH`` entries, the repository with its main checkout, its hooks
        and its local remotes: what a command would see if the private ``/tmp`` did not hide them.
        """
        env = self.base_env
        home = Path(env.get("HOME") or Path.home())
        xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        wanted = [home, home / ".gitconfig", xdg / "git", *self._local_remotes]
        if self._original_hooks is not None:
            wanted.append(self._original_hooks)  # the repository's hooks run through links to them
        if self.layout is not None:
            # git reads config, HEAD and packed-refs in the common dir; the main checkout around it
            # is where CHATML_ROOT_PATH points.
            common = self.layout.common_dir
            wanted.append(common.parent if common.name == ".git" else common)
        for name in ("GIT_CONFIG_GLOBAL", "VIRTUAL_ENV", "CHATML_ROOT_PATH"):
            if env.get(name):
                wanted.append(Path(env[name]))
        wanted += [Path(p) for p in env.get("PATH", "").split(os.pathsep) if p.startswith("/")]
        # The Python environment chatml runs in: claude-code's bundled CLI and RunNotebook's kernel
        # live there, and a venv under /tmp (a CI checkout) would otherwise vanish.
        wanted += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent]
        wanted.append(Path(__file__).resolve().parents[2])  # this package's own source (editable installs)
        found: list[Path] = []
        for path in sorted({p.resolve() for p in wanted if p.is_absolute()}, key=lambda p: len(p.parts)):
            if path == _HIDDEN_ROOT or not _hidden(path) or not path.exists():
                continue  # re-exposing all of /tmp would defeat the private one
            if not any(path.is_relative_to(f) for f in found):
                found.append(path)
        return found

    def _git_binds(self) -> list[str]:
        layout = self.layout
        if layout is None:
            return []
        common = layout.common_dir.resolve()
        out: list[str] = []
        if not layout.linked:
            return out  # a main checkout: its git dir holds config and hooks, so it stays read-only
        admin = layout.git_dir.resolve()
        out += ["--bind", str(admin), str(admin)]
        for name in ("gitdir", "commondir", "config.worktree", "locked"):
            if (admin / name).exists():
                out += ["--ro-bind", str(admin / name), str(admin / name)]
        for protected in (self.hooks_dir, self.bin_dir):
            if protected.is_dir() and protected.is_relative_to(admin):
                out += ["--ro-bind", str(protected), str(protected)]
        objects = common / "objects"
        out += ["--bind", str(objects), str(objects)]
        for sub in ("pack", "info"):
            if (objects / sub).is_dir():
                out += ["--ro-bind", str(objects / sub), str(objects / sub)]
        if layout.own_ref:
            for base in (common, common / "logs"):
                own = base / layout.own_ref
                out += writable_dir_except(own.parent, own.name)
        return out


def describe(active: bool, policy: SandboxPolicy) -> str:
    """One line for notices: how the agent's commands are confined."""
    if not active:
        problem = sandbox_problem() or "the sandbox is turned off"
        return (
            f"Bash is NOT sandboxed ({problem}): commands can write anywhere this user can, "
            "reach the network, and move any ref; only credentials are removed from its environment"
        )
    network = "on" if policy.network else "off"
    return f"Bash runs in a bubblewrap sandbox (writes: worktree and own branch only; network {network})"
