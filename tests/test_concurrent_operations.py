"""Several processes run mixed commands on one store and one repository for a bounded time (issue 8).

Each process runs `chatml` commands in a loop on a small pool of names, so they collide all the
time: new, rename, archive, unarchive, delete, sync, set, list, gc (dry and not). Every command
must exit 0 or refuse with one line; no process may hang (each has a deadline); afterwards the
database and git agree and nothing is orphaned.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatml_lab.core.manager import ChatML

from .faults import disagreements

WORKER = r"""
import contextlib, io, json, random, sys, time, traceback
from chatml_lab.cli import main

repo, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
names = [f"p{i}" for i in range(5)]
stats = {"runs": 0, "ok": 0, "refused": 0, "bad": []}
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    name, other = rng.choice(names), rng.choice(names)
    argv = rng.choice([
        ["new", name, "--repo", repo], ["new", name, "--repo", repo], ["archive", name],
        ["unarchive", name], ["delete", name, "--force"], ["set", name, "--rename", other],
        ["set", name, "--priority", "high"], ["sync", name], ["list", "--all"], ["gc", "--dry-run"],
        ["gc", "--yes"],
    ])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException:
            code = -1
            err.write(traceback.format_exc())
    stats["runs"] += 1
    text = err.getvalue()
    errors = [line for line in text.splitlines() if not line.startswith(("… note:", "… warning:"))]
    if code == 0 and "Traceback" not in text:
        stats["ok"] += 1
    elif code == 1 and len(errors) == 1 and errors[0].startswith("chatml: error: "):
        stats["refused"] += 1
    else:
        stats["bad"].append([argv, code, text[-2000:]])
print(json.dumps(stats))
"""


@pytest.mark.usefixtures("engine")
def test_mixed_operations_from_three_processes(cm: ChatML, repo: Path, tmp_path: Path) -> None:
    cm.add_workspace(repo)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    seconds = 12
    commands = [[sys.executable, str(script), str(repo), str(seconds), str(seed)] for seed in range(3)]
    procs = [
        subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=seconds + 120)  # a deadlock fails here, not forever
            assert proc.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for proc in procs:
            proc.kill()
    bad = [entry for result in results for entry in result["bad"]]
    assert bad == []
    assert sum(r["ok"] for r in results) >= 10 and sum(r["refused"] for r in results) >= 1
    with ChatML(data_dir=cm.data_dir) as after:  # its start settles anything left open
        assert disagreements(after, repo) == []
        report = after.gc(dry_run=True)
        assert report.orphan_worktrees == [] and report.orphan_branches == [] and report.half_made == []
        assert report.missing_worktrees == []
    print(f"\nconcurrent runs: {[(r['runs'], r['ok'], r['refused']) for r in results]}")
