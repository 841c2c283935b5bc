"""``%chatml push|pr|merge|update|prs|conflicts``: the grammar as a table, then in a real shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas
import pytest

from chatml_lab.errors import InvalidArgumentError
from chatml_lab.ipython import args as a
from chatml_lab.ipython import ship_args as s

from . import github_fixtures
from .conftest import commit_file
from .github_fixtures import REPO, World
from .test_magics import _magics, ip, one_error, run
from .test_update_branch import upstream_commit

world = github_fixtures.world
__all__ = ["ip"]

VALID = [
    ("push x", s.Push("x")),
    ("push x --force-with-lease", s.Push("x", force_with_lease=True)),
    ("pr x", s.PullRequest("x")),
    ("pr x --title 'Fix it' --body B --draft --base dev", s.PullRequest("x", "Fix it", "B", True, "dev")),
    ("merge x", s.Merge("x")),
    ("merge x --method rebase --force", s.Merge("x", "rebase", True)),
    ("update x", s.Update("x")),
    ("update x --merge", s.Update("x", "merge")),
    ("update x --abort", s.Update("x", abort=True)),
    ("prs", s.Prs()),
    ("prs --workspace w", s.Prs("w")),
    ("conflicts --committed", s.Conflicts(committed=True)),
]


@pytest.mark.parametrize(("line", "expected"), VALID, ids=[line for line, _ in VALID])
def test_parse_ship_commands(line: str, expected: object) -> None:
    assert a.parse(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("push", "required: NAME"),
        ("merge x --method octopus", "unknown merge method 'octopus'"),
        ("update x --merge --abort", "not allowed with argument --merge"),
        ("prs now", "unrecognized arguments: now"),
    ],
)
def test_parse_ship_errors(line: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        a.parse(line)
    assert message in str(info.value) and "\n" not in str(info.value) and "usage: %chatml" in str(info.value)


def test_ship_from_a_notebook(
    ip: Any, world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cm = _magics(ip).manager
    session = cm.new_session(world.repo, name="nb")
    commit_file(session.worktree, "nb.txt", "nb\n", "Notebook work")
    assert run(ip, "push nb", capsys)[1] == "nb: new\n"
    _, out, _ = run(ip, "pr nb --title 'From a notebook'", capsys)
    assert out == f"nb: pull request #1 https://github.com/{REPO}/pull/1\n"
    result, out, _ = run(ip, "prs", capsys)
    assert isinstance(result, pandas.DataFrame) and result.loc[0, "pr"] == 1 and "0 session(s) changed" in out
    _, _, err = run(ip, "merge nb", capsys)  # no checks yet reported: still allowed (none ≠ failed)
    assert err == "" and session.record.pr_status.value == "merged"

    other = cm.new_session(world.repo, name="nb2")
    commit_file(other.worktree, "README.md", "# nb2\n", "readme")
    upstream_commit(world.origin, tmp_path, "README.md", "# main\n")
    result, _, _ = run(ip, "conflicts", capsys)
    assert isinstance(result, pandas.DataFrame) and not bool(
        result.set_index("session").loc["nb2", "clean_with_main"]
    )
    _, _, err = run(ip, "update nb2", capsys)
    one_error(err, "stopped on conflicts in README.md")
    _, out, _ = run(ip, "update nb2 --abort", capsys)
    assert "update aborted" in out
