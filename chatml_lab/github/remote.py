"""Where a repository lives on GitHub: ``owner/name`` from a remote URL, the API root, the token.

The token comes from ``GITHUB_TOKEN``, else ``GH_TOKEN``, else ``gh auth token`` when the GitHub
CLI is installed. It is held in memory only: never written to the data dir, events or logs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import GitHubUnavailableError, InvalidArgumentError

DEFAULT_HOST = "github.com"
DEFAULT_API = "https://api.github.com"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
PR_URL = re.compile(r"https?://(?P<host>[^/\s]+)/(?P<owner>[^/\s]+)/(?P<name>[^/\s]+)/pull/(?P<number>\d+)")
NO_TOKEN = "no GitHub token: set GITHUB_TOKEN (or GH_TOKEN), or run `gh auth login`"


@dataclass(frozen=True)
class RepoRef:
    """A repository on a GitHub host: ``owner/name``."""

    owner: str
    name: str
    host: str = DEFAULT_HOST

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def __str__(self) -> str:
        return self.full_name


def parse_full_name(text: str, host: str = DEFAULT_HOST) -> RepoRef:
    """``owner/name`` → :class:`RepoRef`; a clear error for anything else."""
    parts = text.strip().strip("/").removesuffix(".git").split("/")
    if len(parts) != 2 or not all(_NAME.match(p) for p in parts):
        raise InvalidArgumentError(f"{text!r} is not a GitHub repository: give it as OWNER/NAME")
    return RepoRef(parts[0], parts[1], host)


def parse_remote_url(url: str) -> RepoRef | None:
    """``owner/name`` from an https, ssh (``ssh://``) or scp-like (``git@host:``) remote URL.

    None for anything else (a local path, a file:// URL, a path with more than two parts).
    """
    url = url.strip()
    if not url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    else:
        match = _SCP.match(url)
        if match is None or os.path.exists(url):
            return None
        host, path = match["host"], match["path"]
    try:
        return parse_full_name(path, host=host)
    except InvalidArgumentError:
        return None


def api_url(host: str = DEFAULT_HOST) -> str:
    """``$CHATML_GITHUB_API_URL``, else api.github.com, else ``https://HOST/api/v3`` (Enterprise)."""
    env = os.environ.get("CHATML_GITHUB_API_URL")
    if env:
        return env.rstrip("/")
    return DEFAULT_API if host == DEFAULT_HOST else f"https://{host}/api/v3"


def discover_token(host: str = DEFAULT_HOST) -> str:
    """``GITHUB_TOKEN``, ``GH_TOKEN``, or ``gh auth token``; :class:`GitHubUnavailableError` if none."""
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    gh = shutil.which("gh")
    if gh:
        args = [gh, "auth", "token"] + ([] if host == DEFAULT_HOST else ["--hostname", host])
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc = None
        if proc is not None and proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    raise GitHubUnavailableError(NO_TOKEN)
