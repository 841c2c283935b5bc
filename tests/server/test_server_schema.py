"""The labextension mirrors the Python side: event schema, versions, shipping configuration."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from chatml_lab import __version__
from chatml_lab.events import REQUIRED, SCHEMA_VERSION, EventType
from chatml_lab.server.app import ChatMLServer
from chatml_lab.server.info import handshake

ROOT = Path(__file__).resolve().parents[2]
LABEXT = ROOT / "labextension"


def ts_required() -> dict[str, tuple[str, ...]]:
    source = (LABEXT / "src" / "events.ts").read_text()
    block = re.search(r"export const REQUIRED = \{(.*?)\} as const;", source, re.S)
    assert block, "REQUIRED not found in events.ts"
    return {
        name: tuple(re.findall(r"'([^']*)'", keys))
        for name, keys in re.findall(r"(\w+): \[([^\]]*)\]", block.group(1))
    }


def test_event_types_and_required_keys_match_the_python_schema() -> None:
    python = {kind.value: keys for kind, keys in REQUIRED.items()}
    assert ts_required() == python
    assert set(python) == {t.value for t in EventType}


def test_schema_version_matches() -> None:
    source = (LABEXT / "src" / "events.ts").read_text()
    assert re.search(r"export const SCHEMA_VERSION = (\d+);", source).group(1) == str(SCHEMA_VERSION)  # type: ignore[union-attr]


def test_versions_agree_everywhere() -> None:
    package = json.loads((LABEXT / "package.json").read_text())
    source = (LABEXT / "src" / "version.ts").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert package["version"] == __version__ == pyproject["project"]["version"]
    assert f"EXTENSION_VERSION = '{__version__}'" in source
    assert handshake(__version__, SCHEMA_VERSION)["compatible"] is True
    mismatch = handshake(__version__, SCHEMA_VERSION + 1)
    assert mismatch["compatible"] is False and "event schema" in mismatch["message"]


def test_the_wheel_ships_the_labextension_and_enables_the_server_extension() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    package = json.loads((LABEXT / "package.json").read_text())
    assert shared["labextension/prebuilt"] == f"share/jupyter/labextensions/{package['name']}"
    assert package["jupyterlab"]["outputDir"] == "prebuilt"
    config = ROOT / "jupyter-config" / "jupyter_server_config.d" / "chatml_lab.json"
    assert json.loads(config.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"chatml_lab.server": True}}
    }
    assert shared["jupyter-config/jupyter_server_config.d"] == "etc/jupyter/jupyter_server_config.d"
    assert (LABEXT / "yarn.lock").stat().st_size > 0


def test_the_shortcut_is_declared_in_the_settings_schema() -> None:
    schema = json.loads((LABEXT / "schema" / "plugin.json").read_text())
    assert schema["jupyter.lab.shortcuts"] == [
        {"command": "chatml:new-session", "keys": ["Alt Shift N"], "selector": "body"}
    ]


def test_core_settings_are_checked() -> None:
    from chatml_lab.errors import ConfigError

    assert ChatMLServer(core={"runner_idle_timeout": 9.0}).core_config().runner_idle_timeout == 9.0
    with pytest.raises(ConfigError, match=r"unknown c.ChatMLServer.core key\(s\) idle: use "):
        ChatMLServer(core={"idle": 1}).core_config()


def test_binder_builds_the_sidebar_and_checks_both_extensions() -> None:
    environment = (ROOT / "binder" / "environment.yml").read_text()
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert re.search(r"^\s*- nodejs>=20$", environment, re.M)  # jlpm builds labextension/ during the install
    assert "pip install --no-cache-dir ." in post_build
    assert "chatml_lab.server.*enabled" in post_build and "chatml-lab.*enabled" in post_build
