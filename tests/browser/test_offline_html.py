"""Exported HTML opened in headless Chromium with the network off: it renders, and asks for nothing.

Run on their own (``pytest -m browser tests/browser``): Playwright's sync API and an autouse
asyncio fixture of another plugin do not share one process well. Chromium comes from the system
(``apt-get install chromium``); the tests skip, saying why, where it or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatml_lab.core.manager import ChatML
from chatml_lab.reports.report import write_report

from ..agent_fixtures import agent_cm, kill_runners, write_script
from ..test_review import TASK_TURNS

__all__ = ["agent_cm"]

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
LOCAL = ("file:", "data:", "blob:", "about:")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium (the system's), closed after the test."""
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: apt-get install -y chromium")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def open_offline(browser: Any, page_path: Path) -> tuple[Any, list[str]]:
    """Open a local HTML file with the network off; return the page and every URL it requested."""
    context = browser.new_context(offline=True, viewport={"width": 1150, "height": 900})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.goto(page_path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, requests


def test_report_html_renders_offline_and_requests_nothing_remote(
    browser: Any, agent_cm: ChatML, repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "task.json", TASK_TURNS)
    session = agent_cm.new_session(repo, name="offline", agent=f"scripted:{script}", permission_mode="bypass")
    session.send("write fizzbuzz")
    assert session.wait(timeout=60) == "idle"
    review = session.review()
    assert session.wait_conversation(review, timeout=60) == "idle"
    out = write_report(session, out_dir=tmp_path / "report")

    page, requests = open_offline(browser, out.html)
    assert page.get_by_text("write fizzbuzz", exact=True).first.is_visible()
    assert page.get_by_text("Wrote fizzbuzz.py.").first.is_visible()
    finding = page.locator(".chatml-finding", has_text="fizzbuzz(0) and negatives return FizzBuzz")
    assert finding.first.is_visible()
    assert page.locator("table", has_text="Move the test out of the module").first.is_visible()
    remote = [url for url in requests if not url.startswith(LOCAL)]
    assert remote == [], f"the report asked the network for {remote}"
    assert any(url.endswith("_chatml_static/require.js") for url in requests)


def test_demo_quickstart_html_shows_the_chat_offline(browser: Any, tmp_path: Path) -> None:
    from chatml_lab.demo import run_demo

    before = os.environ["CHATML_DATA_DIR"]
    try:
        result = run_demo(tmp_path / "demo", echo=lambda _line: None)
    finally:
        manager = ChatML(data_dir=tmp_path / "demo" / "data")
        try:
            kill_runners(manager)
        finally:
            manager.close()
    assert os.environ["CHATML_DATA_DIR"] == before
    assert result.html is not None

    page, requests = open_offline(browser, result.html)
    chat = page.locator(".chatml-chat").first
    chat.wait_for(state="visible", timeout=20_000)  # drawn by the local widget renderer
    assert chat.get_by_text("This is a scripted demo, not a model.", exact=False).first.is_visible()
    assert chat.locator("button", has_text="Send").first.is_visible()
    remote = [url for url in requests if not url.startswith(LOCAL)]
    assert remote == [], f"the quickstart asked the network for {remote}"
    assert any(url.endswith("_chatml_static/embed-amd.js") for url in requests)
