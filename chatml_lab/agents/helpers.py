"""Small AI helpers: a session title from the first message, and an archive summary.

Each asks the Messages API when credentials are configured (``ANTHROPIC_API_KEY`` or
``ANTHROPIC_AUTH_TOKEN``; ``ANTHROPIC_BASE_URL`` is honoured, so tests use the scripted server)
and otherwise, or when the call fails for any reason, returns a deterministic fallback. They never
raise: a title or a summary is never worth failing the action that wanted it. The second element
of each result says which path produced it (``"model"`` or ``"fallback"``), so UIs can label it.
"""

from __future__ import annotations

import logging
import os
import re

TITLE_MODEL = "claude-haiku-4-5"
SUMMARY_MODEL = "claude-haiku-4-5"
TITLE_LIMIT = 50
_TITLE_WORDS = 7
_INPUT_LIMIT = 60_000  # characters of transcript sent for a summary: the end matters most

TITLE_SYSTEM = (
    "You name coding sessions. Reply with only a title for the task in the user's message: "
    "imperative mood, 3 to 7 words, at most 50 characters, no quotes, no trailing period."
)
SUMMARY_SYSTEM = (
    "You summarise a coding agent's session for someone deciding whether to restore the archived "
    "session. Write 200 to 500 words of plain prose: what the goal was, what was done (files, "
    "commits), what state it was left in, and what remains open. Use the facts given; do not "
    "invent details."
)

log = logging.getLogger(__name__)


def api_configured() -> bool:
    """True when an API key or token is configured in the environment."""
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    return (cut if cut else text[:limit]).rstrip(" ,;:-")


def fallback_title(message: str) -> str:
    """The first words of the message, tidied: the deterministic title."""
    for line in message.splitlines():
        words = re.sub(r"[`*_#>\[\]\"']+", " ", line).split()
        if words:
            title = _shorten(" ".join(words[:_TITLE_WORDS]), TITLE_LIMIT).rstrip(".!?:")
            return title[:1].upper() + title[1:]
    return "New session"


def _clean_title(raw: str) -> str:
    line = next((line for line in raw.splitlines() if line.strip()), "")
    line = re.sub(r"^\s*title\s*:\s*", "", line, flags=re.IGNORECASE)
    line = " ".join(line.strip().strip("\"'`*").split()).rstrip(".")
    return _shorten(line, TITLE_LIMIT)


def _ask(model: str, system: str, prompt: str, max_tokens: int, timeout: float) -> str | None:
    """The model's text answer, or None on any failure (logged, never raised)."""
    try:
        import anthropic  # imported late: ~0.7 s that callers without a key never pay

        with anthropic.Anthropic(max_retries=1, timeout=timeout) as client:
            reply = client.messages.create(
                model=model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
            )
        return "".join(block.text for block in reply.content if block.type == "text").strip() or None
    except Exception as exc:
        log.info("AI helper call to %s failed, using the fallback: %s", model, exc)
        return None


def suggest_title(message: str, model: str = TITLE_MODEL) -> tuple[str, str]:
    """A short imperative title for a session from its first message: ``(title, source)``."""
    if api_configured():
        # The title is asked before the first turn starts: keep the wait short (ChatML allows 15 s).
        answer = _ask(model, TITLE_SYSTEM, message[:4_000], max_tokens=60, timeout=7.0)
        title = _clean_title(answer) if answer else ""
        if title:
            return title, "model"
    return fallback_title(message), "fallback"


def summarize_session(transcript: str, facts: str, model: str = SUMMARY_MODEL) -> tuple[str, str]:
    """A summary of a session for its archive: ``(summary, source)``; the fallback is ``facts``."""
    if api_configured():
        prompt = f"Facts from git:\n{facts}\n\nConversation (most recent part):\n{transcript[-_INPUT_LIMIT:]}"
        answer = _ask(model, SUMMARY_SYSTEM, prompt, max_tokens=1_000, timeout=45.0)
        if answer:
            return answer, "model"
    return facts, "fallback"


def session_title(message: str) -> tuple[str, str] | None:
    """The title to auto-name a session by, ``(title, source)``; None means "ask again later".

    With a key, a failed model call gives None rather than the fallback: the next message retries
    instead of settling for less. Without a key the fallback is the answer.
    """
    title, source = suggest_title(message)
    if source != "model" and api_configured():
        return None
    return title, source
