"""What ``%chatml push|pr|merge|update|prs|conflicts`` do: call the core, say what happened."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import UpdateConflictError
from . import ship_args as s

if TYPE_CHECKING:
    from .magics import ChatMLMagics


def _say(message: str) -> None:
    print(message, flush=True)


def handlers(magics: ChatMLMagics) -> dict[type, Callable[[Any], Any]]:
    """Handlers of the shipping commands, bound to one ``%chatml`` instance."""

    def push(cmd: s.Push) -> None:
        session = magics.manager.session(cmd.name)
        _say(f"{session.name}: {session.push(force_with_lease=cmd.force_with_lease)}")

    def pr(cmd: s.PullRequest) -> None:
        session = magics.manager.session(cmd.name)
        link = session.create_pr(title=cmd.title, body=cmd.body, draft=cmd.draft, base=cmd.base)
        _say(link.message if not link.created else f"{session.name}: pull request #{link.number} {link.url}")

    def merge(cmd: s.Merge) -> None:
        session = magics.manager.session(cmd.name)
        sha = session.merge_pr(method=cmd.method, force=cmd.force)
        _say(f"{session.name}: merged #{session.pr_number} ({cmd.method}) as {sha[:10]}")

    def update(cmd: s.Update) -> None:
        session = magics.manager.session(cmd.name)
        if cmd.abort:
            session.abort_update()
            _say(f"{session.name}: update aborted, branch and uncommitted work as before")
            return
        try:
            session.update_branch(cmd.method)
        except UpdateConflictError as exc:
            print(f"chatml: error: {exc}", file=sys.stderr, flush=True)
            return
        _say(f"{session.name}: up to date with origin (ahead {session.ahead}, behind {session.behind})")

    def prs(cmd: s.Prs) -> Any:
        import pandas

        changed = magics.manager.refresh_prs(cmd.workspace)
        _say(f"{len(changed)} session(s) changed")
        rows = [
            {"name": r["name"], "pr": r["pr_number"], "pr_status": r["pr_status"], "checks": r["checks"],
             "mergeable": r["pr_mergeable"], "draft": r["pr_draft"], "task_status": r["task_status"],
             "title": r["pr_title"], "url": r["pr_url"]}
            for r in magics.manager.rows()
        ]  # fmt: skip
        return pandas.DataFrame(rows)

    def conflicts(cmd: s.Conflicts) -> Any:
        return magics.manager.conflicts(cmd.workspace, include_uncommitted=not cmd.committed)

    return {
        s.Push: push,
        s.PullRequest: pr,
        s.Merge: merge,
        s.Update: update,
        s.Prs: prs,
        s.Conflicts: conflicts,
    }
