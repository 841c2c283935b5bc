"""Where data lives and the plain configuration the core runs with.

UIs configure themselves with traitlets and hand the core a :class:`Config` (DESIGN §6).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .errors import ConfigError

APP_NAME = "ChatML"
DEFAULT_BRANCH_PREFIX = "chatml"


def default_user() -> str:
    """Who acts: ``$CHATML_USER``, else JupyterHub's ``$JUPYTERHUB_USER``, else the OS user.

    Sessions and workspaces a user creates are theirs; others' are read-only (see
    :mod:`chatml_lab.core.owners`). On PostgreSQL the database role of ``CHATML_DATABASE_URL`` must be
    this name: row-level security checks the role, not this setting.
    """
    for name in ("CHATML_USER", "JUPYTERHUB_USER"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    import getpass  # here: only when neither variable is set

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (some containers)
        return f"uid{os.getuid()}"


def default_data_dir() -> Path:
    """``$CHATML_DATA_DIR``, else the platform's user data dir for app "ChatML"."""
    env = os.environ.get("CHATML_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


#: URL schemes of :attr:`Config.database_url`, by engine.
POSTGRES_SCHEMES = ("postgresql", "postgres")
SQLITE_SCHEME = "sqlite"


def check_database_url(url: str) -> str:
    """The engine of ``url`` (``"postgresql"`` or ``"sqlite"``); :class:`ConfigError` when unusable."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in POSTGRES_SCHEMES:
        return "postgresql"
    if sep and scheme.lower() == SQLITE_SCHEME:
        # As SQLAlchemy: ``sqlite:///rel.db`` is relative, ``sqlite:////abs.db`` absolute (and required).
        if not rest.startswith("//") or rest == "//":
            raise ConfigError(
                f"database URL {url!r} names no absolute file: write sqlite:////abs/path.db (four slashes)"
            )
        return "sqlite"
    raise ConfigError(
        f"database URL {url.split('@')[-1]!r} is neither postgresql://... nor sqlite:////abs/path.db:"
        " fix CHATML_DATABASE_URL (or the database_url setting), or unset it for SQLite in the data dir"
    )


def _seconds(name: str, default: float) -> float:
    """A number of seconds from the environment variable ``name`` (``default`` when unset)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"{name}={text!r} is not a number of seconds: set it to e.g. 30, or unset it"
        ) from None
    if value < 0:
        raise ConfigError(f"{name}={text!r} is negative: set it to 0 or more seconds, or unset it")
    return value


@dataclass(frozen=True)
class Config:
    """Knobs of the core. Every field has a working default."""

    #: Seconds a ``git fetch`` may take before it is abandoned (offline still works).
    fetch_timeout: float = 15.0
    #: Minimum seconds between two fetches of one workspace for drift.
    fetch_throttle: float = 60.0
    #: Seconds a setup or archive script may run.
    script_timeout: float = 300.0
    #: First port handed out; each session gets a block of :attr:`port_block` ports.
    port_start: int = 41000
    port_block: int = 10
    #: Seconds a runner may sit idle before it exits (agents issue).
    runner_idle_timeout: float = 120.0
    #: Seconds after which a runner lease without heartbeat counts as dead.
    lease_stale_after: float = 5.0
    #: Seconds an approval request waits before it is denied.
    approval_timeout: float = 600.0
    #: Network of the agent's sandboxed commands: ``"on"``, or ``"off"`` for none at all (not even
    #: 127.0.0.1; bubblewrap's ``--unshare-net``). Not enforced where bubblewrap is missing.
    sandbox_network: str = "on"
    #: Comma-separated names of environment variables the agent's commands receive although they
    #: look like credentials (``ANTHROPIC_API_KEY``, ``GH_TOKEN``, ``*_TOKEN``... are dropped otherwise).
    sandbox_env_allow: str = ""
    #: Seconds between two pull-request polls when no session has an open PR (ChatML: 30 s) ...
    pr_poll_interval: float = 30.0
    #: ... and when one has (ChatML: 45 s).
    pr_poll_interval_open: float = 45.0
    #: Seconds after which finished checks of an unchanged head are asked for again (re-runs).
    checks_recheck_after: float = 600.0
    #: Seconds a GitHub API request may take.
    github_timeout: float = 20.0

    #: Fork runners from a per-user runner host that has the SDK imported (False: a fresh
    #: process per runner, as ``CHATML_RUNNER_HOST=0`` does).
    runner_host: bool = field(default_factory=lambda: os.environ.get("CHATML_RUNNER_HOST", "1") != "0")
    #: Seconds the runner host stays up with no runner left (None: :attr:`runner_idle_timeout`).
    host_idle_timeout: float | None = None
    #: Who acts (:func:`default_user`): the owner of what this process creates.
    user: str = field(default_factory=default_user)

    #: Where the session store lives: ``postgresql://user:pw@host/db`` (PostgreSQL through psycopg's
    #: pool) or ``sqlite:////abs/path.db``; None: SQLite at ``<data_dir>/state/chatml.db``.
    database_url: str | None = field(default_factory=lambda: os.environ.get("CHATML_DATABASE_URL") or None)
    #: Seconds a lost database connection is retried before the store is reported unreachable
    #: (``$CHATML_DATABASE_RETRY_FOR``).
    database_retry_for: float = field(default_factory=lambda: _seconds("CHATML_DATABASE_RETRY_FOR", 30.0))

    def __post_init__(self) -> None:
        if self.sandbox_network not in ("on", "off"):
            raise ConfigError(f"sandbox_network must be 'on' or 'off', not {self.sandbox_network!r}")
        if not self.user or self.user != self.user.strip() or any(c in self.user for c in "\0\n\t"):
            raise ConfigError(f"user {self.user!r} is not a usable name: set CHATML_USER to a plain name")
        if self.database_url is not None:
            check_database_url(self.database_url)

    @property
    def sandbox_env_names(self) -> tuple[str, ...]:
        """:attr:`sandbox_env_allow` as a tuple of names."""
        return tuple(n for n in self.sandbox_env_allow.replace(",", " ").split() if n)

    def to_json(self) -> str:
        """Every field as JSON (how a runner process receives its configuration)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Config:
        """The inverse of :meth:`to_json`; fields this version does not know are ignored."""
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
