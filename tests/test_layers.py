"""Architecture rules of DESIGN §3 that a test can hold: layers import downward, the core has no Jupyter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import chatml_lab

PACKAGE = Path(chatml_lab.__file__).parent
JUPYTER = (
    "IPython",
    "ipywidgets",
    "ipykernel",
    "jupyter_client",
    "jupyter_server",
    "nbclient",
    "nbformat",
    "nbconvert",
)
LAYER = {
    "models": 0, "errors": 0, "events": 0, "config": 0,
    "storage": 1, "gitops": 1, "agents": 1, "github": 1,
    "core": 2,
    "cli": 3, "cli_ship": 3, "ipython": 3, "widgets": 3, "server": 3, "reports": 3, "demo": 3, "doctor": 3,
}  # fmt: skip
# The runner's entry point is a process of its own that drives the core (auto-naming renames the
# session through ChatML); it is the one sanctioned upward import, and it is lazy.
ALLOWED_UPWARD = {("agents/runner.py", "core")}


def _top(module: Path) -> str:
    rel = module.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_tops(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            depth = len(module.relative_to(PACKAGE).parts) - 1
            if node.level > depth:  # ``from ..x`` reaching the package root
                name = (node.module or "").split(".")[0]
                if name:
                    found.add(name)
            elif node.level == 1 and depth == 0 and node.module:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chatml_lab."):
            found.add(node.module.split(".")[1])
    return found


def test_layers_import_only_downward() -> None:
    violations = []
    for module in PACKAGE.rglob("*.py"):
        top = _top(module)
        if top not in LAYER:
            continue
        for target in _imported_tops(module):
            if target in LAYER and LAYER[target] > LAYER[top]:
                rel = str(module.relative_to(PACKAGE))
                if (rel, target) not in ALLOWED_UPWARD:
                    violations.append(f"{rel} imports {target}")
    assert violations == []


def test_core_cli_and_runner_import_no_jupyter() -> None:
    code = (
        "import sys, chatml_lab.core.manager, chatml_lab.agents.runner, chatml_lab.cli;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({JUPYTER!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_package_import_is_lazy() -> None:
    code = "import sys, chatml_lab; print(sorted(m for m in ('pandas', 'git', 'anthropic', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
