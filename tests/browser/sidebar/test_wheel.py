"""A wheel built from a clean checkout installs where there is no node, with both extensions on.

Slow (a JavaScript build, then a fresh environment): it runs in the browser invocation of
``.ci/run`` (``pytest -m browser tests/browser``), not in the main suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.browser


def run(args: list[str], **kwargs: object) -> str:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return str(done.stdout + done.stderr)


@pytest.mark.timeout(1200)
def test_wheel_from_a_clean_checkout_installs_without_node(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.fail("building the wheel needs node (and jlpm's registry); the install that follows does not")
    source = tmp_path / "checkout"
    run(["git", "clone", "-q", "--no-hardlinks", str(REPO_ROOT), str(source)])  # committed files only
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )  # jlpm, jupyter
    cache = REPO_ROOT / "labextension" / ".yarn" / "cache"
    if "YARN_CACHE_FOLDER" not in env and cache.is_dir():
        env["YARN_CACHE_FOLDER"] = str(
            cache
        )  # the editable install's downloads, checked against the lockfile
    started = time.monotonic()
    # The build tools (hatchling, hatch-jupyter-builder, jlpm) come from this environment's dev extra.
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(source)], env=env)  # fmt: skip
    built = time.monotonic() - started
    [wheel] = (tmp_path / "dist").glob("chatml_lab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = next(n.split("/")[0] for n in names if ".data/" in n)
    assert f"{data}/data/share/jupyter/labextensions/chatml-lab/package.json" in names
    assert any(re.search(r"labextensions/chatml-lab/static/remoteEntry\.[0-9a-f]+\.js$", n) for n in names)
    assert f"{data}/data/share/jupyter/labextensions/chatml-lab/install.json" in names
    assert f"{data}/data/etc/jupyter/jupyter_server_config.d/chatml_lab.json" in names
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    bare = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    tools = tmp_path / "tools"  # git (which the package needs), and nothing of node's
    tools.mkdir()
    (tools / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    bare["PATH"] = f"{venv / 'bin'}{os.pathsep}{tools}"
    assert shutil.which("node", path=bare["PATH"]) is None
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--only-binary=:all:", str(wheel)],
        env=bare,
    )
    labext = run([str(venv / "bin" / "jupyter"), "labextension", "list"], env=bare)
    assert re.search(r"chatml-lab v0\.1\.0 \S*enabled\S* \S*OK", labext), labext
    server = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env=bare)
    assert re.search(r"chatml_lab\.server \S*enabled", server), server
    assert re.search(r"chatml_lab\.server\s+\S*OK", server), server
    size = wheel.stat().st_size
    print(f"\nwheel {wheel.name}: {size / 1024:.0f} KiB, built in {built:.0f} s")
    assert size < 5 * 1024 * 1024
