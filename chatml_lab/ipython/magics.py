"""``%chatml`` and ``%%chatml``: the notebook's command line.

The magic only dispatches: :func:`chatml_lab.ipython.args.parse` turns the line into a command
object, one method per command calls the core API, and :class:`~chatml_lab.errors.ChatMLError` is
caught in one place and shown as one line on stderr, never as a traceback (DESIGN §6). Heavy
imports (pandas, ipywidgets, GitPython) happen on first use, not at ``%load_ext``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..errors import ChatMLError
from ..render.badges import label
from ..widgets.progress import NotebookProgress
from .config import ChatML as ChatMLSettings

if TYPE_CHECKING:
    from ..core.manager import ChatML
    from ..core.session import Session
    from ..widgets.chat import ChatPanel
    from ..widgets.dashboard import Dashboard
    from . import args as a


def _say(message: str) -> None:
    print(message, flush=True)


@magics_class
class ChatMLMagics(Magics):  # type: ignore[misc]
    """The ``%chatml`` line magic and the ``%%chatml`` cell magic."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.settings = ChatMLSettings(parent=shell)
        self.progress = NotebookProgress()
        self._manager: ChatML | None = None
        self._manager_dir: str | None = None
        self._dashboard: Dashboard | None = None
        self._chats: dict[str, ChatPanel] = {}
        self._handlers: dict[type, Callable[[Any], Any]] = {}

    def _table(self) -> dict[type, Callable[[Any], Any]]:
        # Built on first use: the parser module (19 dataclasses) stays out of `%load_ext`.
        from . import args as a
        from .ship_magics import handlers as ship_handlers

        return {
            a.New: self._new, a.List: self._list, a.Dashboard: self._dashboard_cmd, a.Chat: self._chat,
            a.Send: self._send, a.Set: self._set, a.Sync: self._sync, a.Archive: self._archive,
            a.Unarchive: self._unarchive, a.Delete: self._delete, a.Approve: self._approve, a.Deny: self._deny,
            a.Stop: self._stop, a.Interrupt: self._interrupt, a.Settings: self._settings, a.Doctor: self._doctor,
            a.Report: self._report, a.Help: self._help, a.Review: self._review, a.Findings: self._findings,
            a.Share: self._share,
            **ship_handlers(self),
        }  # fmt: skip

    # -- the magic ------------------------------------------------------------------------------

    @line_cell_magic  # type: ignore[untyped-decorator]
    def chatml(self, line: str, cell: str | None = None) -> Any:
        """Parallel coding agents in git worktree sessions. ``%chatml help`` lists the subcommands.

        ``%chatml new fix-login --prompt "Fix the login bug"`` creates a session;
        ``%chatml list`` shows the table; ``%chatml dashboard`` the live dashboard;
        ``%%chatml NAME`` sends the cell to NAME's agent (or to a new session without NAME).
        """
        from . import args as a

        self.progress.begin()
        try:
            if cell is not None:
                return self.run_cell(a.parse_cell(line, cell))
            return self.run(a.parse(line))
        except ChatMLError as exc:
            # The one place errors are translated: one line, no traceback, the magic's own syntax.
            print(f"chatml: error: {exc.for_ui('cli')}", file=sys.stderr, flush=True)
            return None
        finally:
            self.progress.end()

    def run(self, command: a.Command) -> Any:
        """Execute a parsed command (what ``%chatml LINE`` does after parsing)."""
        if not self._handlers:
            self._handlers = self._table()
        return self._handlers[type(command)](command)

    # -- shared ---------------------------------------------------------------------------------

    @property
    def manager(self) -> ChatML:
        """The core manager (created on first use; recreated when ``c.ChatML.data_dir`` changes)."""
        if self._manager is None or self._manager_dir != self.settings.data_dir:
            if self._manager is not None:
                self.close()
            self._manager = self.settings.manager(progress=self.progress)
            self._manager_dir = self.settings.data_dir
        return self._manager

    def _session(self, name: str) -> Session:
        return self.manager.session(name)

    def _repo(self, repo: str | None) -> str:
        # The notebook's repository: where the kernel runs, unless configured or given.
        return os.path.expanduser(repo or self.settings.default_repo or os.getcwd())

    def _new_session(self, repo: str | None, **kwargs: Any) -> Session:
        options = {
            **self.settings.new_session_defaults(),
            **{k: v for k, v in kwargs.items() if v is not None},
        }
        return self.manager.new_session(self._repo(repo), **options)

    def close(self) -> None:
        """Close open panels and the manager (used on reconfiguration and unload)."""
        if self._dashboard is not None:
            self._dashboard.close()
            self._dashboard = None
        for panel in self._chats.values():
            panel.close()
        self._chats.clear()
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    # -- commands -------------------------------------------------------------------------------

    def _new(self, cmd: a.New) -> None:
        session = self._new_session(
            cmd.repo, name=cmd.name, prompt=cmd.prompt, agent=cmd.agent, model=cmd.model,
            priority=cmd.priority, from_pr=cmd.from_pr, base=cmd.base, permission_mode=cmd.permission_mode,
        )  # fmt: skip
        rec = session.record
        started = "; the agent is working (see %chatml chat " + rec.name + ")" if cmd.prompt else ""
        _say(f"created session {rec.name} on branch {rec.branch} at {rec.worktree_path}{started}")
        if rec.health != "ok":
            print(f"chatml: warning: {rec.health}", file=sys.stderr)

    def _list(self, cmd: a.List) -> Any:
        # Drawn from the rows without pandas (a fresh kernel's first list stays cheaper than
        # `import pandas`); `.data` and `.styler` give the DataFrame and the Styler on demand.
        from ..reports.listing import SessionTable

        return SessionTable(self.manager.rows(include_archived=cmd.all), include_archived=cmd.all)

    def _dashboard_cmd(self, cmd: a.Dashboard) -> Dashboard:
        # One live dashboard per kernel: displaying it again adds a view instead of another poller.
        if self._dashboard is None or self._dashboard.comm is None:
            from ..widgets.dashboard import Dashboard

            self._dashboard = Dashboard(
                self.manager,
                refresh_interval=self.settings.refresh_interval,
                drift_interval=self.settings.drift_interval,
                default_repo=self._repo(None),
                new_session_defaults=self.settings.new_session_defaults(),
            )
        return self._dashboard

    def _chat_panel(self, session: Session) -> ChatPanel:
        panel = self._chats.get(session.id)
        if panel is None or panel.comm is None:
            from ..widgets.chat import ChatPanel

            panel = self._chats[session.id] = ChatPanel(
                session, refresh_interval=self.settings.refresh_interval
            )
        return panel

    def _chat(self, cmd: a.Chat) -> ChatPanel:
        return self._chat_panel(self._session(cmd.name))

    def _send(self, cmd: a.Send) -> None:
        session = self._session(cmd.name)
        session.send(cmd.text)
        _say(f"sent to {session.name}; follow it with %chatml chat {session.name}")

    def _set(self, cmd: a.Set) -> None:
        session = self._session(cmd.name)
        rec = self.manager.update(
            session.id, priority=cmd.priority, task_status=cmd.status, pinned=cmd.pinned, name=cmd.rename,
            agent=cmd.agent, model=cmd.model, permission_mode=cmd.permission_mode,
        )  # fmt: skip
        _say(
            f"{rec.name}: priority {label(rec.priority)}, status {label(rec.task_status)},"
            f" {'pinned' if rec.pinned else 'not pinned'}, branch {rec.branch},"
            f" agent {rec.agent_backend or '(default)'} ({label(rec.permission_mode)})"
        )

    def _sync(self, cmd: a.Sync) -> None:
        records = [self.manager.sync(self._session(cmd.name).id)] if cmd.name else self.manager.sync_all()
        for rec in records:
            _say(f"{rec.name}: ahead {rec.ahead}, behind {rec.behind}")
        if not records:
            _say("no live sessions to sync")

    def _archive(self, cmd: a.Archive) -> None:
        rec = self.manager.archive(self._session(cmd.name).id, force=cmd.force)
        kept = f", uncommitted work kept in {rec.snapshot_ref}" if rec.snapshot_ref else ""
        _say(f"archived {rec.name}: worktree removed, branch {rec.branch} kept{kept}")

    def _unarchive(self, cmd: a.Unarchive) -> None:
        rec = self.manager.unarchive(self._session(cmd.name).id)
        _say(f"restored {rec.name} at {rec.worktree_path} on {rec.branch}")

    def _delete(self, cmd: a.Delete) -> None:
        session = self._session(cmd.name)
        name = session.name
        panel = self._chats.pop(session.id, None)
        kept = self.manager.delete(session.id, force=cmd.force)
        if panel is not None:
            panel.close()
        _say(f"deleted {name}" + (f"; its work is kept in {kept} until `chatml gc`" if kept else ""))

    def _approve(self, cmd: a.Approve) -> None:
        session = self._session(cmd.name)
        answered = session.approve(cmd.request_id)
        _say(f"{session.name}: approved request {answered}")

    def _deny(self, cmd: a.Deny) -> None:
        session = self._session(cmd.name)
        answered = session.deny(cmd.request_id)
        _say(f"{session.name}: denied request {answered}")

    def _stop(self, cmd: a.Stop) -> None:
        session = self._session(cmd.name)
        session.stop()
        _say(f"{session.name}: stop requested")

    def _interrupt(self, cmd: a.Interrupt) -> None:
        session = self._session(cmd.name)
        session.interrupt()
        _say(f"{session.name}: interrupt requested")

    def _share(self, cmd: a.Share) -> None:
        session = self._session(cmd.name)
        if cmd.remove and cmd.person is not None:
            session.unshare(cmd.person)
        elif cmd.person is not None:
            session.share(cmd.person)
        shares = ", ".join(session.shares()) or "nobody else"
        _say(f"{session.name}: owned by {session.owner}; shared with {shares}")

    def _settings(self, cmd: a.Settings) -> None:
        if cmd.workspaces_dir is not None:
            self.manager.set_setting("workspaces_dir", cmd.workspaces_dir or None)
        if cmd.branch_prefix is not None:
            self.manager.set_setting("branch_prefix", cmd.branch_prefix)
        values = {
            **self.manager.settings(),
            "default_agent": self.settings.default_agent or "(backend default)",
            "refresh_interval": f"{self.settings.refresh_interval:g} s",
        }
        width = max(len(key) for key in values)
        for key, value in values.items():
            _say(f"{key.ljust(width)}  {value}")

    def _doctor(self, cmd: a.Doctor) -> None:
        from ..doctor import format_checks, run_checks

        _say(format_checks(run_checks(self.manager)))

    def _report(self, cmd: a.Report) -> None:
        from ..reports.report import write_report

        report = write_report(self._session(cmd.name), out_dir=cmd.out)
        _say(f"report notebook {report.notebook}\nreport HTML     {report.html}")

    def _review(self, cmd: a.Review) -> Any:
        session = self._session(cmd.name)
        conv = session.review(cmd.kind, instructions=cmd.instructions)
        _say(f"started {conv.title} of {session.name}: the reviewer works in the background;"
             f" see %chatml chat {session.name} and %chatml findings {session.name}")  # fmt: skip
        return conv

    def _findings(self, cmd: a.Findings) -> Any:
        from ..reports.findings import style_findings

        session = self._session(cmd.name)
        frame = session.findings(None if cmd.all else "open")
        if frame.empty:
            _say(
                f"no {'' if cmd.all else 'open '}findings for {session.name} (start a review: %chatml review {session.name})"
            )
            return None
        return style_findings(frame, caption=f"Review findings of {session.name}")

    def _help(self, cmd: a.Help) -> None:
        from .args import usage

        _say(usage(cmd.topic))

    # -- the cell magic -------------------------------------------------------------------------

    def run_cell(self, cmd: a.CellChat) -> ChatPanel:
        """Send the cell to ``cmd.name`` (created when it does not exist yet) and show its chat."""
        from ..errors import SessionNotFoundError

        session: Session | None = None
        if cmd.name is not None:
            try:
                session = self._session(cmd.name)
            except SessionNotFoundError:
                session = None
        if session is None:
            session = self._new_session(
                cmd.repo,
                name=cmd.name,
                prompt=cmd.text,
                agent=cmd.agent,
                model=cmd.model,
                priority=cmd.priority,
            )
            _say(f"created session {session.name} on branch {session.branch}")
        else:
            session.send(cmd.text)
        return self._chat_panel(session)


def load(ipython: Any) -> ChatMLMagics:
    """Register the magics on ``ipython`` (what ``%load_ext chatml_lab`` calls)."""
    magics = ChatMLMagics(ipython)
    ipython.register_magics(magics)
    # Listed as a configurable so that `%config ChatML.refresh_interval = 0.5` reaches it.
    ipython.configurables.append(magics.settings)
    return magics


def unload(ipython: Any) -> None:
    """Undo :func:`load` (``%unload_ext chatml_lab``): stop what the magics started, then drop them.

    The dashboard's and the chat panels' pollers and worker threads stop, their widgets close and
    the manager's store closes; ``%chatml`` is gone until the next ``%load_ext``. Agent runners keep
    running: they outlive kernels by design.
    """
    manager = ipython.magics_manager
    magics = manager.registry.pop(ChatMLMagics.__name__, None)
    if not isinstance(magics, ChatMLMagics):
        return
    magics.close()
    for kind in ("line", "cell"):
        manager.magics[kind].pop("chatml", None)
    if magics.settings in ipython.configurables:
        ipython.configurables.remove(magics.settings)
