"""The conflict forecast: in-memory merges of every session with origin/main and with each other."""

from __future__ import annotations

from pathlib import Path

from chatml_lab.core.manager import ChatML

from .conftest import commit_file, git
from .test_sessions_drift import checkout_state
from .test_update_branch import upstream_commit


def test_four_sessions_one_conflicting_pair_one_conflicting_with_main(
    cm: ChatML, repo: Path, origin: Path, tmp_path: Path
) -> None:
    commit_file(repo, "shared.txt", "line 1\nline 2\n", "shared")
    git(repo, "push", "-q", "origin", "main")
    alpha = cm.new_session(repo, name="alpha")
    beta = cm.new_session(repo, name="beta")
    gamma = cm.new_session(repo, name="gamma")
    delta = cm.new_session(repo, name="delta")
    commit_file(alpha.worktree, "shared.txt", "line 1 by alpha\nline 2\n", "alpha edit")
    commit_file(beta.worktree, "shared.txt", "line 1 by beta\nline 2\n", "beta edit")
    commit_file(beta.worktree, "beta-only.txt", "b\n")
    commit_file(gamma.worktree, "README.md", "# gamma's readme\n", "gamma readme")
    commit_file(delta.worktree, "delta.txt", "d\n", "delta")
    (delta.worktree / "wip.txt").write_text("uncommitted\n")
    upstream_commit(origin, tmp_path, "README.md", "# main's readme\n")
    cm.sync_all()
    states = {s.name: checkout_state(s.worktree) for s in (alpha, beta, gamma, delta)}
    refs = git(repo, "for-each-ref")

    df = cm.conflicts()
    assert list(df.index) == [1, 2, 3, 4]
    by_name = df.set_index("session")
    assert by_name.loc["delta", "clean_with_main"] and by_name.loc["delta", "conflicts_with"] == []
    assert bool(by_name.loc["delta", "uncommitted"]) is True
    assert not by_name.loc["gamma", "clean_with_main"]
    assert by_name.loc["gamma", "main_conflicts"] == ["README.md"]
    assert by_name.loc["alpha", "conflicts_with"] == ["beta"]
    assert by_name.loc["beta", "conflicts_with"] == ["alpha"]
    assert by_name.loc["alpha", "conflict_files"] == {"beta": ["shared.txt"]}
    assert by_name.loc["alpha", "clean_with_main"] and by_name.loc["beta", "clean_with_main"]
    # Suggested order: the session that conflicts with nothing, then the pair, gamma (needs an
    # update onto main) last.
    order = list(df["session"])
    assert order[0] == "delta" and order[-1] == "gamma" and set(order[1:3]) == {"alpha", "beta"}
    # Nothing was touched: worktrees, indexes, refs.
    assert {s.name: checkout_state(s.worktree) for s in (alpha, beta, gamma, delta)} == states
    assert git(repo, "for-each-ref") == refs


def test_uncommitted_work_counts_unless_asked_not_to(cm: ChatML, repo: Path) -> None:
    one = cm.new_session(repo, name="one")
    two = cm.new_session(repo, name="two")
    commit_file(one.worktree, "README.md", "# one\n", "one")
    (two.worktree / "README.md").write_text("# two, not committed\n")
    rows = {r["session"]: r for r in cm.conflict_rows()}
    assert rows["one"]["conflicts_with"] == ["two"] and rows["two"]["uncommitted"]
    rows = {r["session"]: r for r in cm.conflict_rows(include_uncommitted=False)}
    assert rows["one"]["conflicts_with"] == []


def test_merged_sessions_are_left_out(cm: ChatML, repo: Path) -> None:
    done = cm.new_session(repo, name="done")
    live = cm.new_session(repo, name="live")
    commit_file(done.worktree, "README.md", "# done\n")
    commit_file(live.worktree, "README.md", "# live\n")
    assert {r["session"] for r in cm.conflict_rows()} == {"done", "live"}
    cm.store.save_pr(done.id, {"pr_status": "merged", "pr_number": 1, "pr_url": "u"})
    rows = cm.conflict_rows()
    assert [r["session"] for r in rows] == ["live"] and rows[0]["conflicts_with"] == []
