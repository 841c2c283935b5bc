"""Global settings: where worktrees go and which prefix new branches get (DESIGN §3, §4)."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import DEFAULT_BRANCH_PREFIX
from ..errors import ConfigError, InvalidArgumentError
from ..models import Workspace
from ..storage.store import Store
from . import naming

SETTING_KEYS = ("workspaces_dir", "branch_prefix", "archive_on_merge", "delete_branch_on_merge")
#: Settings that are on or off (off by default).
BOOLEAN_SETTINGS = ("archive_on_merge", "delete_branch_on_merge")
_TRUE = ("true", "1", "yes", "on")


def check_writable(path: Path) -> None:
    """Create ``path`` if needed and prove a file can be written there; :class:`ConfigError` if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".chatml-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"workspaces directory {path} is not writable ({exc.strerror or exc}):"
            " choose another with `chatml settings --workspaces-dir DIR`"
        ) from None


class Settings:
    """The stored settings, with the environment and defaults applied."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir

    @property
    def workspaces_dir(self) -> Path:
        """Base directory of worktrees: ``$CHATML_WORKSPACES_DIR``, the setting, or ``<data>/workspaces``."""
        env = os.environ.get("CHATML_WORKSPACES_DIR")
        stored = self.store.setting("workspaces_dir")
        return Path(env or stored or self.data_dir / "workspaces").expanduser().absolute()

    @property
    def branch_prefix(self) -> str:
        """Global branch prefix (``""`` means none)."""
        stored = self.store.setting("branch_prefix")
        return DEFAULT_BRANCH_PREFIX if stored is None else stored

    def prefix_for(self, ws: Workspace) -> str:
        """The branch prefix of new sessions in ``ws``: its own when set, else the global one."""
        return self.branch_prefix if ws.branch_prefix is None else ws.branch_prefix

    def flag(self, key: str) -> bool:
        """A boolean setting (``archive_on_merge``, ``delete_branch_on_merge``), off by default."""
        return (self.store.setting(key) or "").lower() in _TRUE

    def effective(self) -> dict[str, str]:
        """Effective settings and where the data lives."""
        return {
            "data_dir": str(self.data_dir),
            "database": self.store.location,
            "workspaces_dir": str(self.workspaces_dir),
            "branch_prefix": self.branch_prefix or "(none)",
        }

    def set(self, key: str, value: str | None) -> None:
        """Set one of :data:`SETTING_KEYS` (None restores the default)."""
        if key not in SETTING_KEYS:
            raise InvalidArgumentError(f"unknown setting {key!r}: use one of {', '.join(SETTING_KEYS)}")
        if value is not None and key == "workspaces_dir":
            path = Path(value).expanduser().resolve()
            check_writable(path)
            value = str(path)
        if value is not None and key == "branch_prefix":
            value = "" if value.strip().lower() in ("", "none") else value.strip().strip("/")
            if value and not naming.valid_prefix(value):
                raise InvalidArgumentError(f"branch prefix {value!r} is not valid in a git branch name")
        if value is not None and key in BOOLEAN_SETTINGS:
            text = value.strip().lower()
            if text not in (*_TRUE, "false", "0", "no", "off"):
                raise InvalidArgumentError(f"setting {key} takes true or false, not {value!r}")
            value = "true" if text in _TRUE else "false"
        self.store.set_setting(key, value)
