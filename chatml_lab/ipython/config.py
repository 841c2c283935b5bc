"""Notebook-side configuration with traitlets, handed to the core as a plain :class:`~chatml_lab.config.Config`.

Set these in ``ipython_config.py`` (or ``%config ChatML.refresh_interval = 0.5``)::

    c.ChatML.data_dir = "~/chatml-data"
    c.ChatML.default_agent = "anthropic"
    c.ChatML.refresh_interval = 1.0
    c.ChatML.database_url = "postgresql://me@db.example/chatml"

The class is named ``ChatML`` because traitlets keys configuration sections by class name and
``c.ChatML...`` is what users write; the core's manager of the same name lives in
:mod:`chatml_lab.core.manager`. Only traitlets (already loaded by IPython) is imported here.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets import Float, Unicode
from traitlets.config import Configurable

from ..config import Config

if TYPE_CHECKING:
    from ..core.manager import ChatML as Manager
    from ..core.manager import Progress

_DEFAULTS = Config()


class ChatML(Configurable):  # type: ignore[misc]
    """Settings of the ``%chatml`` magics, the dashboard and the chat panel (``c.ChatML.<name>``)."""

    data_dir = Unicode(
        None,
        allow_none=True,
        help="Where sessions are stored (default: $CHATML_DATA_DIR or the user data dir).",
    ).tag(config=True)
    default_repo = Unicode(
        None,
        allow_none=True,
        help="Repository for new sessions (default: the one containing the working directory).",
    ).tag(config=True)
    default_agent = Unicode(
        None, allow_none=True, help="Agent backend of new sessions: anthropic, claude-code or scripted."
    ).tag(config=True)
    default_model = Unicode(
        None, allow_none=True, help="Model of new sessions (backend default when unset)."
    ).tag(config=True)
    permission_mode = Unicode(
        None, allow_none=True, help="Permission mode of new sessions: default, accept_edits, bypass or plan."
    ).tag(config=True)
    refresh_interval = Float(
        1.0, help="Seconds between two polls of the database by the dashboard and chat."
    ).tag(config=True)
    drift_interval = Float(
        60.0,
        help="Seconds between two drift checks (throttled fetch + ahead/behind) by the dashboard; 0 disables.",
    ).tag(config=True)
    fetch_timeout = Float(_DEFAULTS.fetch_timeout, help="Seconds a git fetch may take.").tag(config=True)
    fetch_throttle = Float(
        _DEFAULTS.fetch_throttle, help="Minimum seconds between two fetches of one workspace."
    ).tag(config=True)
    script_timeout = Float(_DEFAULTS.script_timeout, help="Seconds a setup or archive script may run.").tag(
        config=True
    )
    runner_idle_timeout = Float(
        _DEFAULTS.runner_idle_timeout, help="Seconds an idle agent runner lives."
    ).tag(config=True)
    approval_timeout = Float(
        _DEFAULTS.approval_timeout, help="Seconds an approval request waits before denial."
    ).tag(config=True)
    database_url = Unicode(
        None,
        allow_none=True,
        help="The session store: postgresql://user@host/db or sqlite:////abs/path.db"
        " (default: $CHATML_DATABASE_URL, else SQLite in the data dir).",
    ).tag(config=True)
    database_retry_for = Float(
        _DEFAULTS.database_retry_for, help="Seconds a lost PostgreSQL connection is retried before an error."
    ).tag(config=True)

    def core_config(self) -> Config:
        """The plain dataclass the core runs with: every :class:`Config` field that is a trait here.

        A trait left unset (None) keeps the dataclass default, which may come from the environment
        (``database_url`` from ``$CHATML_DATABASE_URL``).
        """
        values = {f.name: getattr(self, f.name) for f in fields(Config) if self.has_trait(f.name)}
        return Config(**{k: v for k, v in values.items() if v is not None})

    def manager(self, progress: Progress | None = None) -> Manager:
        """A core manager on the configured data dir."""
        from ..core.manager import ChatML as Manager

        data_dir = Path(self.data_dir).expanduser() if self.data_dir else None
        return Manager(data_dir=data_dir, config=self.core_config(), progress=progress)

    def new_session_defaults(self) -> dict[str, Any]:
        """Keyword defaults for ``new_session`` (only the ones that are set)."""
        defaults = {
            "agent": self.default_agent,
            "model": self.default_model,
            "permission_mode": self.permission_mode,
        }
        return {key: value for key, value in defaults.items() if value}
