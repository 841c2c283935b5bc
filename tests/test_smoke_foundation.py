from pathlib import Path

from chatml_lab.core.manager import ChatML

from .conftest import git


def test_create_and_table(cm: ChatML, repo: Path) -> None:
    session = cm.new_session(repo, name="first")
    assert session.worktree.is_dir()
    assert git(session.worktree, "branch", "--show-current").strip() == "chatml/first"
    frame = cm.table()
    assert list(frame["name"]) == ["first"]
