"""Architecture rules of DESIGN §3 that a test can hold.

Layers import downward (no exception), only ``storage/`` touches ``sqlite3`` or ``psycopg``, and the core has no
Jupyter.
"""

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
    "cli": 3, "ipython": 3, "widgets": 3, "server": 3, "reports": 3, "demo": 3, "doctor": 3, "render": 3,
}  # fmt: skip
# ``ChatML.table()`` stays on the facade for users; the DataFrame is built by the reports layer, reached
# lazily from this one module so that the core never imports pandas.
ALLOWED_UPWARD = {("core/table.py", "reports")}
#: What the shared rendering of the UIs (render/) may import from the package: the types, nothing else.
RENDER_MAY_IMPORT = {"models", "errors", "events", "render"}


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


#: The database drivers: only storage/ may import them (SQL lives there, DESIGN §3).
DRIVERS = ("sqlite3", "psycopg", "psycopg_pool")


def _imports_driver(module: Path) -> bool:
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in DRIVERS for a in node.names):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] in DRIVERS
        ):
            return True
    return False


def test_only_storage_touches_a_database_driver() -> None:
    users = {
        str(module.relative_to(PACKAGE))
        for module in PACKAGE.rglob("*.py")
        if _top(module) != "storage" and _imports_driver(module)
    }
    assert users == set(), f"sqlite3 or psycopg outside storage/: {sorted(users)}"


def test_sqlite_users_never_import_psycopg() -> None:
    """psycopg is loaded only when the database URL names PostgreSQL (a SQLite user never pays)."""
    code = (
        "import sys\n"
        "from chatml_lab.core.manager import ChatML\n"
        "cm = ChatML(); cm.sessions(); cm.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_core_cli_and_runner_import_no_jupyter() -> None:
    code = (
        "import sys, chatml_lab.core.manager, chatml_lab.core.runner_main, chatml_lab.cli;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({JUPYTER!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_package_import_is_lazy() -> None:
    code = "import sys, chatml_lab; print(sorted(m for m in ('pandas', 'git', 'anthropic', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _runtime_imports(module: Path) -> set[str]:
    """Top-level names of the modules ``module`` imports when it runs (``if TYPE_CHECKING:`` is skipped)."""

    def walk(nodes: list[ast.stmt]) -> set[str]:
        found: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                found |= walk(node.orelse)
                continue
            for child in ast.walk(node):
                if isinstance(child, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in child.names}
                elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    found.add(child.module.split(".")[0])
        return found

    return walk(ast.parse(module.read_text()).body)


def test_core_imports_no_pandas_and_no_jupyter() -> None:
    offenders = [
        f"{module.relative_to(PACKAGE)} imports {name}"
        for module in (PACKAGE / "core").rglob("*.py")
        for name in sorted(_runtime_imports(module) & {"pandas", *JUPYTER})
    ]
    assert offenders == []
    code = (
        "import sys, chatml_lab.core.manager, chatml_lab.core.table, chatml_lab.cli;"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_shared_rendering_imports_only_the_types() -> None:
    offenders = [
        f"{module.relative_to(PACKAGE)} imports {target}"
        for module in (PACKAGE / "render").rglob("*.py")
        for target in sorted(_imported_tops(module) - RENDER_MAY_IMPORT)
        if target in LAYER
    ]
    assert offenders == []
