"""Fixtures for the pull-request tests: the GitHub emulator in front of the bare ``origin``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.github.client import reset_backoff
from chatml_lab.models import Workspace

from .github_emulator import GitHubEmulator

REPO = "acme/project"


@dataclass
class World:
    """A workspace whose ``origin`` GitHub (the emulator) serves as ``acme/project``."""

    emu: GitHubEmulator
    api: str
    cm: ChatML
    repo: Path
    origin: Path
    ws: Workspace


@pytest.fixture
def world(cm: ChatML, repo: Path, origin: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The emulator serving ``origin``, a token in the environment, the workspace bound to it."""
    emu = GitHubEmulator()
    api = emu.start()
    reset_backoff()
    try:
        emu.add_repo(REPO, origin)
        monkeypatch.setenv("GITHUB_TOKEN", emu.token)
        monkeypatch.setenv("CHATML_GITHUB_API_URL", api)
        ws = cm.add_workspace(repo)
        cm.update_workspace(ws.name, github_repo=REPO)
        yield World(emu, api, cm, repo, origin, ws)
    finally:
        emu.stop()
        reset_backoff()
    assert emu.invalid == [], "the emulator sent bodies githubkit's models reject"
