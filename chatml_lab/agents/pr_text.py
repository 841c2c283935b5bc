"""Title and body of a pull request: the model's draft when a key is configured, else the facts.

The fallback is deterministic: the title is the only commit's subject (or the session's name,
humanised, when there are several), the body the repository's PR template (if any) followed by
the commit subjects and the diffstat. Titles stay under 72 characters either way.
"""

from __future__ import annotations

import re

from .helpers import _ask, _shorten, api_configured

PR_MODEL = "claude-haiku-4-5"
TITLE_MAX = 71
PR_SYSTEM = (
    "You write pull request descriptions. Reply exactly as:\nTITLE: <imperative title, under 72 "
    "characters, no trailing period>\nBODY:\n<markdown body>\nUse only the facts given. When a "
    "pull request template is given, fill it in, keeping its headings and checklists."
)


def _subject(line: str) -> str:
    """``abc1234 Fix the thing`` → ``Fix the thing``."""
    return line.split(" ", 1)[1] if " " in line else line


def fallback_pr_text(name: str, subjects: list[str], diffstat: str, template: str | None) -> tuple[str, str]:
    """``(title, body)`` from the commits (newest first, ``<sha> <subject>``) and diffstat."""
    if len(subjects) == 1:
        title = _subject(subjects[0])
    else:
        words = re.sub(r"[-_/]+", " ", name).strip()
        title = words[:1].upper() + words[1:] if words else "Changes"
    title = _shorten(title, TITLE_MAX)
    facts = ["## Commits", "", *(f"- {_subject(s)}" for s in reversed(subjects))]
    if diffstat.strip():
        facts += ["", "## Files", "", "```", diffstat.strip(), "```"]
    body = "\n".join(facts)
    if template and template.strip():
        body = template.rstrip() + "\n\n" + body
    return title, body + "\n"


def draft_pr_text(
    name: str, subjects: list[str], diffstat: str, template: str | None, model: str = PR_MODEL
) -> tuple[str, str, str]:
    """``(title, body, source)``: the model's when a key is configured and it answers, else the facts'."""
    if api_configured():
        prompt = "Commits (newest first):\n" + "\n".join(subjects) + f"\n\nDiffstat:\n{diffstat}\n"
        if template:
            prompt += f"\nPull request template:\n{template}\n"
        answer = _ask(model, PR_SYSTEM, prompt[:40_000], max_tokens=1_200, timeout=45.0)
        parsed = _parse(answer) if answer else None
        if parsed is not None:
            return parsed[0], parsed[1], "model"
    title, body = fallback_pr_text(name, subjects, diffstat, template)
    return title, body, "fallback"


def _parse(answer: str) -> tuple[str, str] | None:
    match = re.search(r"TITLE:\s*(.+?)\s*\n+BODY:\s*\n?(.*)", answer, flags=re.DOTALL | re.IGNORECASE)
    if not match:
        return None
    title = _shorten(" ".join(match[1].strip().strip("\"'`").split()).rstrip("."), TITLE_MAX)
    body = match[2].strip()
    return (title, body + "\n") if title and body else None
