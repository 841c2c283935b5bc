"""The styled session table: colours, badges, drift bars and pins as inline CSS, data untouched."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chatml_lab.core.manager import ChatML
from chatml_lab.render import badges
from chatml_lab.reports.style import style_table

from .conftest import commit_file, git


def test_styled_table_has_colours_badges_drift_and_pins(cm: ChatML, repo: Path) -> None:
    cm.new_session(repo, name="fire", priority="urgent")
    calm = cm.new_session(repo, name="calm", priority="low")
    calm.update(task_status="done", pinned=True)
    commit_file(repo, "later.txt", "x\n")
    git(repo, "push", "-q", "origin", "main")
    calm.sync()
    frame = cm.table()
    styler = style_table(frame, caption="Sessions")
    assert styler.data is not frame and list(frame.columns) == list(cm.table().columns), (  # type: ignore[attr-defined]
        "input left unchanged"
    )
    html = styler.to_html()
    _fg, bg = badges.PRIORITY_COLORS["urgent"]
    assert f"background-color:{bg}" in html.replace(": ", ":")
    assert badges.STATUS_COLORS["done"][1] in html
    assert badges.PIN_MARK in html
    assert "#fffde7" in html  # the pinned row is highlighted
    assert badges.BEHIND_COLOR in html and "\N{MINUS SIGN}1" in html  # calm is 1 behind: a red bar
    assert "not synced" in html  # fire was never synced
    assert "<caption>" in html and "Sessions" in html
    assert "in progress" in html  # statuses shown with spaces
    assert "http" not in html.replace("http-equiv", ""), "no external asset"
    assert list(styler.data["name"]) == ["calm", "fire"]  # type: ignore[attr-defined]


def test_empty_table_and_unknown_values(cm: ChatML) -> None:
    html = style_table(cm.table()).to_html()
    assert "<table" in html and "drift" in html
    frame = pd.DataFrame(
        [{"name": "x", "priority": "weird", "pinned": False, "cost_usd": None, "ahead": pd.NA, "behind": pd.NA,
          "health": "worktree <missing>"}]
    )  # fmt: skip
    html = style_table(frame).to_html()
    assert "unknown" in html and "&lt;missing&gt;" in html and "not synced" in html
