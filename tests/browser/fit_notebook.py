"""The notebooks the browser tests open: sessions made through the Python API, a dashboard and a chat.

:func:`fit_notebook` makes the sessions and shows them (opened in JupyterLab); :func:`view_notebook`
only shows them (opened in Notebook 7 afterwards: the database is the bus, both kernels see it).

Its sessions are the wide cases: a 48-character name (the longest a name may be), a merged PR with a
four-digit number, every task status, drift on every row, and a scripted agent in ``default``
permission mode with one approval answered and one waiting (so the chat shows both kinds).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

#: The session whose chat is shown; its agent asks twice (Write, then Bash).
WORKER = "add-slugify-helper"
#: The longest name a session may have (``naming.MAX_LENGTH``): it must wrap, not be clipped.
LONG_NAME = "migrate-the-billing-service-to-the-new-event-api"

SCRIPT = {
    "turns": [
        [
            {"type": "text", "text": "Scripted: I'll add a `slugify` helper in `app/text.py`."},
            {
                "type": "tool_use",
                "name": "Write",
                "input": {
                    "file_path": "app/text.py",
                    "content": "import re\n\n\ndef slugify(text: str) -> str:\n"
                    "    return '-'.join(re.findall(r'[a-z0-9]+', text.lower()))\n",
                },
            },
        ],
        [
            {"type": "text", "text": "Scripted: written. Committing it on this session's branch."},
            {
                "type": "tool_use",
                "name": "Bash",
                "input": {"command": "git add -A && git commit -qm 'Add a slugify helper for session names'"},
            },
        ],
        [{"type": "text", "text": "Scripted: committed."}],
    ]
}


def write_script(path: Path) -> Path:
    """Write the worker's scripted-agent script."""
    path.write_text(json.dumps(SCRIPT))
    return path


def fit_notebook(repo: Path, script: Path) -> nbformat.NotebookNode:
    """Cells: make the sessions (API), ``%chatml dashboard``, ``%chatml chat WORKER``."""
    setup = f"""\
%load_ext chatml_lab
import subprocess
from chatml_lab import ChatML

REPO = {str(repo)!r}
cm = ChatML()
plans = [
    ({LONG_NAME!r}, "urgent", "in_progress"),
    ("fix-login", "high", "in_review"),
    ("docs-typos", "low", "backlog"),
    ("spike-cache", "none", "cancelled"),
]
for name, priority, status in plans:
    cm.new_session(REPO, name=name, priority=priority).update(task_status=status)
cm.session("docs-typos").pin()
# What the PR poller writes when a PR merges (the widest PR badge).
cm.store.update_session(cm.session("fix-login").id, pr_status="merged", pr_number=1234)
worker = cm.new_session(
    REPO, name={WORKER!r}, priority="medium", agent={f"scripted:{script}"!r},
    permission_mode="default", prompt="Add a slugify helper and commit it",
)
print("first:", worker.wait(timeout=60))
worker.approve()
print("second:", worker.wait(timeout=60))
subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "upstream"], cwd=REPO, check=True)
subprocess.run(["git", "push", "-q", "origin", "main"], cwd=REPO, check=True)
cm.sync_all()
print("sessions ready")
"""
    return _notebook(setup)


def view_notebook() -> nbformat.NotebookNode:
    """Cells: ``%chatml dashboard`` and ``%chatml chat WORKER`` over the sessions made already."""
    return _notebook("%load_ext chatml_lab")


def _notebook(first: str) -> nbformat.NotebookNode:
    nb: nbformat.NotebookNode = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(first),
        nbformat.v4.new_code_cell("%chatml dashboard"),
        nbformat.v4.new_code_cell(f"%chatml chat {WORKER}"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
