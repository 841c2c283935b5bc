"""One rooted exception tree for chatml_lab.

Every error the package raises on purpose derives from :class:`ChatMLError`, and its message is one
line that names the problem and, where there is one, the fix. UIs translate these in one place each
(the CLI and the magics print ``error.for_ui("cli")`` on one line, the REST layer maps :attr:`status`).

A message names an option with :func:`option`, and each UI spells it its own way: ``str(error)``
gives the Python API's ``agent="scripted"``, ``error.for_ui("cli")`` the command line's (and the
magics') ``--agent scripted``.

::

    ChatMLError
    ├── ConfigError                    bad setting or unusable directory
    ├── InvalidArgumentError           a value outside its allowed set (priority, status, ...)
    ├── StorageError                   the store (SQLite or PostgreSQL) could not be read or written
    │   ├── StoreDamagedError          the database file is corrupt
    │   ├── StoreUnwritableError       read-only, full disk, I/O error (reading may still work)
    │   ├── StoreUnreachableError      the PostgreSQL server stayed unreachable past the retry bound
    │   └── RowGoneError               a row was deleted by another process meanwhile
    ├── GitError                       a git command failed
    │   ├── NotARepositoryError
    │   ├── EmptyRepositoryError
    │   ├── BareRepositoryError
    │   ├── RefNotFoundError
    │   ├── PullRequestNotFoundError
    │   ├── PushRejectedError          the remote branch diverged (force_with_lease names the way)
    │   ├── UpdateConflictError        update_branch stopped on conflicts (``files`` lists them)
    │   └── UpdateInProgressError      an update is stopped on conflicts or no update to abort
    ├── WorkspaceError
    │   ├── WorkspaceNotFoundError
    │   ├── WorkspaceExistsError
    │   └── WorkspaceRepositoryMissingError
    ├── SessionError
    │   ├── SessionNotFoundError
    │   ├── AmbiguousSessionError
    │   ├── SessionExistsError
    │   ├── InvalidNameError
    │   ├── SessionArchivedError
    │   ├── SessionNotArchivedError
    │   ├── WorktreeMissingError
    │   ├── WorkWouldBeLostError
    │   ├── OperationInProgressError   another process is part-way through changing the session
    │   └── NotOwnerError              someone else's session: read-only unless its owner shares it
    ├── GitHubError                    pull-request features: the GitHub API and its access
    │   ├── GitHubUnavailableError     no token, no GitHub repository for the workspace
    │   ├── GitHubBackoffError         rate limited or GitHub failing: ``until`` says when to retry
    │   └── PullRequestRefusedError    merge refused: not mergeable, checks failed, no PR
    ├── AgentError                     agents issue: runner, backends, approvals
    │   ├── AgentUnavailableError
    │   ├── ApprovalNotFoundError
    │   ├── AgentNotRunningError       an answer no runner would act on (crashed, stopped)
    │   └── AgentTimeoutError          also a builtin TimeoutError
    └── MachineError                   another machine's sessions (issue 13)
        ├── MachineUnreachableError    its runner host stopped heartbeating: refused at once
        ├── RemoteOperationError       it ran the operation and failed in a way this side cannot name
        └── RemoteTimeoutError         it took the operation but gave no answer in time
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Literal

UI = Literal["python", "cli"]

_OPTION = re.compile("\u27e6([a-z_]+)(?:=(.*?))?\u27e7")
_COMMAND = re.compile("\u27e6!(.*?)\u241f(.*?)\u27e7")


def option(name: str, value: object = None) -> str:
    """An option named in an error message, spelled by each UI its own way (see :func:`spell`).

    ``option("agent", "scripted")`` reads ``agent="scripted"`` in Python and ``--agent scripted``
    on the command line; ``option("force")`` reads ``force=True`` and ``--force``.
    """
    return f"\u27e6{name}\u27e7" if value is None else f"\u27e6{name}={value}\u27e7"


def command(cli: str, python: str) -> str:
    """A command named in an error message: ``cli`` (without ``chatml``) on the command line,
    ``python`` in the Python API (``command("workspace remove app", 'cm.remove_workspace("app")')``).
    """
    return f"\u27e6!{cli}\u241f{python}\u27e7"


def spell(text: str, ui: UI = "python") -> str:
    """``text`` with every :func:`option` and :func:`command` in it written the way ``ui`` takes it."""
    text = _COMMAND.sub(lambda m: f"`chatml {m.group(1)}`" if ui == "cli" else f"`{m.group(2)}`", text)

    def one(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if ui == "cli":
            flag = "--" + name.replace("_", "-")
            return flag if value is None else f"{flag} {shlex.quote(value)}"
        return f"{name}=True" if value is None else f"{name}={json.dumps(value)}"

    return _OPTION.sub(one, text)


class ChatMLError(Exception):
    """Root of every error chatml_lab raises on purpose."""

    #: HTTP status a REST layer should answer with.
    status: int = 400

    def __str__(self) -> str:
        return self.for_ui("python")

    def for_ui(self, ui: UI) -> str:
        """The message as ``ui`` shows it: options in that UI's own syntax."""
        return spell(super().__str__(), ui)


class ConfigError(ChatMLError):
    """A setting is invalid or a configured directory cannot be used."""


class InvalidArgumentError(ChatMLError):
    """An argument is outside its allowed values."""


class StorageError(ChatMLError):
    """The session store could not be opened, migrated, read or written."""

    status = 500


class StoreDamagedError(StorageError):
    """The database file is not a database any more (overwritten, truncated, corrupt pages)."""


class StoreUnreachableError(StorageError):
    """The PostgreSQL server could not be reached (or reconnected to) within the retry bound."""

    status = 503


class StoreUnwritableError(StorageError):
    """The store cannot be written: a read-only file or directory, a full disk, an I/O error.

    Reading commands keep working on a store opened read-only.
    """

    status = 503


class RowGoneError(StorageError):
    """A write referred to a row (a session, a conversation) another process deleted meanwhile."""

    status = 409


class GitError(ChatMLError):
    """A git operation failed."""

    status = 409


class NotARepositoryError(GitError):
    """The path is not inside a git repository."""

    status = 400


class EmptyRepositoryError(GitError):
    """The repository has no commit yet."""

    status = 400


class BareRepositoryError(GitError):
    """The repository is bare: it has no working tree to branch from."""

    status = 400


class RefNotFoundError(GitError):
    """A branch, tag or commit named by the user does not exist."""

    status = 404


class PullRequestNotFoundError(GitError):
    """The remote publishes no ``refs/pull/N/head`` for the number given."""

    status = 404


class PushRejectedError(GitError):
    """The remote branch has commits the session lacks; only ``force_with_lease`` may overwrite them."""


class UpdateConflictError(GitError):
    """``update_branch`` stopped on conflicts; the worktree is left in the conflicted state."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        #: Paths with conflicts, relative to the worktree.
        self.files = files


class UpdateInProgressError(GitError):
    """An update of the branch is stopped on conflicts (or there is none to abort)."""


class WorkspaceError(ChatMLError):
    """A workspace operation failed."""


class WorkspaceNotFoundError(WorkspaceError):
    """No registered workspace matches."""

    status = 404


class WorkspaceExistsError(WorkspaceError):
    """The repository or name is already registered."""

    status = 409


class WorkspaceRepositoryMissingError(WorkspaceError):
    """The registered repository is gone from disk (deleted or moved)."""

    status = 409


class SessionError(ChatMLError):
    """A session operation failed."""


class SessionNotFoundError(SessionError):
    """No session matches the name or id."""

    status = 404


class AmbiguousSessionError(SessionError):
    """A name matches sessions in several workspaces."""

    status = 409


class SessionExistsError(SessionError):
    """The session name or its branch is already taken."""

    status = 409


class InvalidNameError(SessionError):
    """A name cannot be turned into a valid session and branch name."""


class SessionArchivedError(SessionError):
    """The operation needs a live worktree but the session is archived."""

    status = 409


class SessionNotArchivedError(SessionError):
    """Unarchive was asked of a session that is not archived."""

    status = 409


class WorktreeMissingError(SessionError):
    """The session's worktree is gone from disk (deleted or moved by hand)."""

    status = 409


class WorkWouldBeLostError(SessionError):
    """The operation would lose uncommitted or unpushed work; ``force`` keeps a snapshot ref."""

    status = 409


class OperationInProgressError(SessionError):
    """Another live process is part-way through an operation on the session (archive, delete, ...)."""


class NotOwnerError(SessionError):
    """The session belongs to someone else and is not shared with the acting user: read-only."""

    status = 403


class GitHubError(ChatMLError):
    """A GitHub API call failed or GitHub answered something unusable."""

    status = 502


class GitHubUnavailableError(GitHubError):
    """Pull-request features cannot work here: no token, or no GitHub repository for the workspace."""

    status = 400


class GitHubBackoffError(GitHubError):
    """GitHub rate-limited us or failed; no request is sent before :attr:`until` (epoch seconds)."""

    status = 503

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until


class PullRequestRefusedError(GitHubError):
    """A pull-request action was refused: not mergeable, checks failed, no open PR, cannot push."""

    status = 409


class AgentError(ChatMLError):
    """An agent, runner or backend problem."""

    status = 500


class AgentUnavailableError(AgentError):
    """No usable agent backend is configured or installed."""

    status = 400


class ApprovalNotFoundError(AgentError):
    """No pending approval request matches."""

    status = 404


class AgentNotRunningError(AgentError):
    """No runner would act on the answer: the agent crashed or stopped while a request waited."""

    status = 409


class AgentTimeoutError(AgentError, TimeoutError):
    """Waiting for an agent took longer than the timeout (``except TimeoutError`` catches it too)."""

    status = 504


class MachineError(ChatMLError):
    """Something about another machine's sessions (the machine that holds their worktrees)."""

    status = 409


class MachineUnreachableError(MachineError):
    """The session's machine has no live runner host: nothing there would act on the request."""

    status = 503


class RemoteOperationError(MachineError):
    """The session's machine ran the operation and it failed (the message is that machine's)."""

    status = 500


class RemoteTimeoutError(MachineError, TimeoutError):
    """The session's machine took the operation but did not answer in time."""

    status = 504
