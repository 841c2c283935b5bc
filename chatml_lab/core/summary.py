"""The deterministic archive summary: what is on the branch and what was left uncommitted."""

from __future__ import annotations

from ..errors import GitError
from ..events import EventType
from ..gitops.repo import GitRepo
from ..models import SessionRecord
from ..storage.store import Store


def fallback_summary(repo: GitRepo, rec: SessionRecord, status: str | None) -> str:
    """A plain summary from commits and diffstat, for someone deciding whether to restore."""
    lines = [f"Session {rec.name} on branch {rec.branch}, based on {rec.base_ref} ({rec.base_commit[:10]})."]
    try:
        commits = repo.log_subjects(rec.base_commit, rec.branch)
        stat = repo.diffstat(rec.base_commit, rec.branch)
    except GitError as exc:
        commits, stat = [], f"(branch not readable: {exc})"
    if commits:
        lines.append(f"{len(commits)} commit(s) on the branch:")
        lines.extend(f"  - {subject}" for subject in commits)
    else:
        lines.append("No commits on the branch beyond its base.")
    if stat:
        lines.append("Changes against the base:")
        lines.extend(f"  {line}" for line in stat.splitlines())
    if status is None:
        lines.append("The worktree was already gone when the session was archived.")
    elif status.strip():
        changed = status.splitlines()
        lines.append(f"{len(changed)} uncommitted path(s), kept in a snapshot and restored on unarchive:")
        lines.extend(f"  {line}" for line in changed[:30])
    else:
        lines.append("The worktree was clean: nothing uncommitted.")
    lines.append("(Summary written without a model: commits and diffstat only.)")
    return "\n".join(lines)


TRANSCRIPT_LIMIT = 400_000
MESSAGE_LIMIT = 50_000


def transcript_text(store: Store, session_id: str) -> str:
    """The session's conversations as plain text for a summary model, newest kept when too long."""
    parts: list[str] = []
    for conv in store.conversations(session_id):
        lines = [f"=== Conversation: {conv.title} ({conv.kind.value}) ==="]
        for event in store.events([conv.id]):
            if event.type is EventType.USER_MESSAGE:
                lines.append(f"--- User ---\n{event.data['text'][:MESSAGE_LIMIT]}")
            elif event.type is EventType.ASSISTANT_TEXT:
                lines.append(f"--- Assistant ---\n{event.data['text'][:MESSAGE_LIMIT]}")
            elif event.type is EventType.TOOL_START:
                lines.append(f"[tool {event.data['tool']}]")
        if len(lines) > 1:
            parts.append("\n".join(lines))
    text = "\n\n".join(parts)
    if len(text) > TRANSCRIPT_LIMIT:
        text = "[...earlier messages omitted...]\n" + text[-TRANSCRIPT_LIMIT:]
    return text
