"""Secrets out of anything a report embeds: configured keys by value, and well-known token shapes.

A report is meant to be sent to people, so everything it carries (events, diffs, tool output,
commit messages) goes through :func:`scrub_data` first: the values of the secret environment
variables the runner already redacts, tokens whose shape gives them away (Anthropic, OpenAI,
GitHub, AWS, Slack keys, private key blocks, bearer headers), and passwords in URLs.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..agents.sandbox import SECRET_ENV

MASK = "***"
_PATTERNS = [
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{10,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"(?i)(?<=authorization: bearer )[A-Za-z0-9._\-]{8,}"),
]
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^@\s/]+(@)", re.IGNORECASE)
#: Extra variables whose values are secrets when set (beyond the agent's own SECRET_ENV).
EXTRA_SECRET_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN")


def scrub(text: str) -> str:
    """``text`` with configured secrets and token-shaped strings replaced by ``***``."""
    for name in (*SECRET_ENV, *EXTRA_SECRET_ENV):
        secret = os.environ.get(name)
        if secret and len(secret) >= 8:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return _URL_PASSWORD.sub(rf"\1{MASK}\2", text)


def scrub_data(value: Any) -> Any:
    """:func:`scrub` applied to every string (keys included) inside a JSON-like value."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(v) for v in value]
    return value
