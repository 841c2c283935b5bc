"""The paths that keep hundreds of sessions fast, checked for what they do (never for how long they take:
the figures live in ``benchmarks/``): drift in one pass, a table in constant queries, an event log read
without parsing what nobody looks at, approvals found by index, a list drawn without pandas."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.events import Event, EventType

from .conftest import commit_file, git


def _counting_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` first on PATH that logs each subcommand it runs."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "git-calls.log"
    log.write_text("")
    (shim_dir / "git").write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec {real} "$@"\n')
    (shim_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_sync_all_counts_every_session_in_one_pass(
    cm: ChatML, repo: Path, origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = [cm.new_session(repo, name=f"s{i}") for i in range(4)]
    for i, session in enumerate(sessions):  # i commits of its own
        for n in range(i):
            commit_file(session.worktree, f"f{n}.txt", "x", f"work {n}")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    for n in range(3):
        commit_file(other, f"up{n}.txt", "y")
    git(other, "push", "-q", "origin", "HEAD:main")
    log = _counting_git(tmp_path, monkeypatch)
    cm.store.update_workspace(cm.workspaces()[0].id, last_fetch_at=None)
    synced = {rec.name: rec for rec in cm.sync_all()}
    assert log.read_text().split() == ["fetch"]  # one fetch; every count in-process
    monkeypatch.undo()
    for i, session in enumerate(sessions):
        out = git(repo, "rev-list", "--left-right", "--count", f"origin/main...{session.record.branch}")
        behind, ahead = (int(x) for x in out.split())
        assert (synced[f"s{i}"].ahead, synced[f"s{i}"].behind) == (ahead, behind) == (i, 3)
        assert synced[f"s{i}"].drift_checked_at is not None
    assert cm.sync_all() and log.read_text().split() == ["fetch"]  # throttled: no second fetch


def test_rows_run_a_constant_number_of_queries(cm: ChatML, repo: Path) -> None:
    def statements() -> int:
        seen: list[str] = []
        cm.store._conn.set_trace_callback(seen.append)
        try:
            rows = cm.rows()
        finally:
            cm.store._conn.set_trace_callback(None)
        assert len(rows) == len(cm.store.sessions())
        return len(seen)

    cm.new_session(repo, name="a")
    few = statements()
    for i in range(6):
        cm.new_session(repo, name=f"more-{i}")
    # workspaces, open operations, sessions, task states with leases, PR states: one query each.
    assert statements() == few <= 5


@pytest.mark.usefixtures("engine")
def test_events_parse_their_data_on_first_access(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="log")
    conv = cm.agents.conversation(session.id).id
    cm.store.append_event(
        conv, EventType.TOOL_START, {"id": "t1", "tool": "Read", "input": {"file_path": "a"}}
    )
    cm.store.append_event(conv, "assistant_delta", {"text": "hi"})
    first, second = session.events()[-2:]
    assert isinstance(first, Event) and first.type is EventType.TOOL_START
    assert "data" not in first.__dict__  # nothing parsed yet
    assert first.data == {"id": "t1", "tool": "Read", "input": {"file_path": "a"}}
    assert first.data is first.data  # parsed once, then kept
    assert second.data["text"] == "hi" and second.seq > first.seq and second.conversation_id == conv
    built = Event(seq=second.seq, conversation_id=conv, type=EventType.ASSISTANT_DELTA, data={"text": "hi"},
                  created_at=second.created_at)  # fmt: skip
    assert built == second and pickle.loads(pickle.dumps(second)) == second
    assert second.as_dict() == {"seq": second.seq, "conversation_id": conv, "type": "assistant_delta",
                                "data": {"text": "hi"}, "created_at": second.created_at}  # fmt: skip
    assert session.last_seq() == second.seq
    assert [e.seq for e in session.events(after=first.seq)] == [second.seq]


@pytest.mark.usefixtures("engine")
def test_pending_approvals_come_from_the_index_not_the_log(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="asks")
    conv = cm.agents.conversation(session.id).id
    for n in range(3):
        cm.store.append_event(conv, EventType.APPROVAL_REQUEST, {"id": f"r{n}", "tool": "Bash", "input": {}})
    cm.store.append_event(conv, EventType.APPROVAL_RESPONSE, {"id": "r1", "approved": True})
    assert [e.data["id"] for e in session.pending_approvals()] == ["r0", "r2"]
    query = (
        "SELECT q.seq FROM events q INDEXED BY events_approval_requests"
        " WHERE q.conversation_id IN (?) AND q.type = 'approval_request' AND NOT EXISTS (SELECT 1"
        " FROM events r WHERE r.conversation_id = q.conversation_id AND r.type = 'approval_response'"
        " AND json_extract(r.data, '$.id') = json_extract(q.data, '$.id'))"
    )
    if cm.store.engine == "sqlite":
        plan = " ".join(str(tuple(r)) for r in cm.store.query("EXPLAIN QUERY PLAN " + query, (conv,)))
    else:  # a log this small is read whole unless the planner is told that costs too much
        with cm.store._transaction() as conn:
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in conn.execute("EXPLAIN " + query, (conv,)).fetchall())
    assert "events_approval_requests" in plan and "events_approval_responses" in plan


def test_notebook_list_is_drawn_without_pandas(repo: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cm = ChatML(data_dir=data)
    cm.new_session(repo, name="shown", priority="high")
    cm.close()
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'chatml_lab')\n"
        "shown = ip.run_line_magic('chatml', 'list')\n"
        "html = shown._repr_html_()\n"
        "print(json.dumps([m for m in ('pandas', 'git', 'pygit2', 'anthropic') if m in sys.modules]))\n"
        "print(json.dumps(['shown' in html, 'high' in html, '#f57c00' in html]))\n"
    )
    env: dict[str, Any] = {**os.environ, "CHATML_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)  # fmt: skip
    loaded, drawn = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert loaded == []
    assert drawn == [True, True, True]


def test_a_worktrees_common_git_dir_is_read_from_its_files(cm: ChatML, repo: Path) -> None:
    from chatml_lab.agents.context import git_common_dir

    session = cm.new_session(repo, name="wt")
    for where in (session.worktree, repo):  # a linked worktree (files), the main checkout (git)
        expected = git(where, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
        assert git_common_dir(where) == Path(expected).resolve()
