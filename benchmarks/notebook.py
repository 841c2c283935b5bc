"""Notebook start: ``%load_ext chatml_lab`` plus the first ``%chatml list`` (rendered to HTML, as a
notebook displays it) in a fresh process, against ``import pandas`` measured the same way.

Each measurement is a new Python process that first builds IPython's ``InteractiveShell`` (not
timed), then times only the statements under test. The data dir holds 10 sessions.
"""

from __future__ import annotations

import os
import subprocess
import sys

from .env import build_repository, hermetic
from .harness import Figure, interleave

SUITE = "notebook"

TEMPLATE = """
import time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""

LOAD_AND_LIST = """
ip.run_line_magic('load_ext', 'chatml_lab')
shown = ip.run_line_magic('chatml', 'list')
html = shown._repr_html_() if hasattr(shown, '_repr_html_') else repr(shown)
assert 's09' in html, html[:300]
"""


def _measure(statement: str) -> float:
    code = TEMPLATE.format(statement=statement)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Figure]:
    rounds = 5 if quick else 11
    with hermetic("notebook") as root:
        from chatml_lab.core.manager import ChatML

        _origin, repo = build_repository(root, files=50, commits=3)
        cm = ChatML()
        for i in range(10):
            cm.new_session(repo, name=f"s{i:02d}")
        cm.close()
        base, subj = interleave(
            rounds, lambda: _measure("import pandas"), lambda: _measure(LOAD_AND_LIST.strip())
        )
    return [
        Figure(SUITE, "%load_ext + first %chatml list (10 sessions)", "s", subj, "import pandas", base,
               "<=", 1.0),
    ]  # fmt: skip
