"""The dashboard and the chat fit a 1,000 px output area in JupyterLab and Notebook 7.

A real ``jupyter lab`` server and Debian's Chromium. In JupyterLab, the notebook of
:func:`.fit_notebook.fit_notebook` makes sessions through the Python API and shows
``%chatml dashboard`` and a chat; then Notebook 7 opens a second notebook showing the same sessions.
In each, the window is sized until the dashboard's output area is 1,000 px wide; every control
(buttons, dropdowns, inputs) and every session name must then lie inside the output area,
unclipped by any box whose overflow is hidden or scrolls, with nothing scrolled sideways. Clicking
the Chat button of the longest-named row must leave the names where they were, and the opened chat
and the new-session form must fit too. Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from ..conftest import commit_file
from .fit_notebook import LONG_NAME, WORKER, fit_notebook, view_notebook, write_script
from .jupyter_app import JupyterApp

pytestmark = pytest.mark.browser

TARGET_WIDTH = 1000
DASHBOARD_OUTPUT = ".jp-OutputArea-output:has(.chatml-dashboard)"
CHAT_OUTPUT = ".jp-OutputArea-output:has(.chatml-chat):not(:has(.chatml-dashboard))"

#: Every control and session name inside ``output``, with what could hide it. Zero-size elements
#: are closed (the collapsed form) and skipped. ``clipped_by`` is the first ancestor up to the
#: output area whose overflow is not visible and whose box does not hold the element.
#: ``scrolled`` sums scrollLeft from the output area up to the document.
MEASURE = """
(output) => {
  const area = output.getBoundingClientRect();
  const found = [];
  for (const el of output.querySelectorAll('button, select, input, textarea, .chatml-name')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    let clipped_by = null;
    for (let up = el.parentElement; up && up !== output.parentElement; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const u = up.getBoundingClientRect();
      if (r.left < u.left - 0.5 || r.right > u.right + 0.5) { clipped_by = up.className || up.tagName; break; }
    }
    found.push({
      what: `${el.tagName.toLowerCase()} ${(el.innerText || el.value || el.placeholder || '').trim().slice(0, 48)}`,
      name: el.classList.contains('chatml-name'),
      left: r.left, right: r.right, top: r.top, bottom: r.bottom,
      scroll: el.scrollWidth, client: el.clientWidth, clipped_by,
    });
  }
  let scrolled = 0;
  for (let up = output; up; up = up.parentElement) scrolled += up.scrollLeft;
  return {left: area.left, right: area.right, width: area.width, scrolled,
          scrollWidth: output.scrollWidth, clientWidth: output.clientWidth, controls: found};
}
"""


def run_notebook(page: Any, url: str) -> None:
    """Open a notebook, wait for its kernel, run every cell, wait for the dashboard and the chat."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }",
        timeout=90_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.chatml-dashboard .chatml-name')]"
        f".some(e => e.innerText.includes({LONG_NAME!r}))",
        timeout=120_000,
    )
    page.wait_for_selector(f"{CHAT_OUTPUT} .chatml-approval-answered", timeout=60_000)
    page.wait_for_timeout(500)  # the last widget views settle


def fit_viewport(page: Any) -> float:
    """Resize the window until the dashboard's output area is :data:`TARGET_WIDTH` px wide."""
    size = dict(page.viewport_size)
    width = 0.0
    for _ in range(5):
        width = float(page.locator(DASHBOARD_OUTPUT).evaluate("e => e.getBoundingClientRect().width"))
        if abs(width - TARGET_WIDTH) < 1:
            break
        size["width"] += round(TARGET_WIDTH - width)
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # Lumino lays out on the next animation frames
    return width


def problems(measured: dict[str, Any]) -> list[str]:
    """Controls or names that are not wholly visible inside the output area."""
    found = []
    left, right = measured["left"], measured["right"]
    if measured["scrollWidth"] > measured["clientWidth"] + 1:
        found.append(
            f"output area scrolls sideways: {measured['scrollWidth']} > {measured['clientWidth']} px"
        )
    if measured["scrolled"]:
        found.append(f"scrolled sideways by {measured['scrolled']} px")
    for control in measured["controls"]:
        where = f"{control['what']!r} at x {control['left']:.0f}..{control['right']:.0f}"
        if control["left"] < left - 0.5 or control["right"] > right + 0.5:
            found.append(f"{where} outside the output area {left:.0f}..{right:.0f}")
        if control["clipped_by"]:
            found.append(f"{where} clipped by {control['clipped_by']}")
        if control["name"] and control["scroll"] > control["client"] + 1:
            found.append(f"{where} wider than its box ({control['scroll']} > {control['client']} px)")
    return found


def options(select: Any) -> list[str]:
    """The labels of a dropdown's options (ipywidgets writes their spaces as no-break spaces)."""
    return [text.replace("\xa0", " ") for text in select.locator("option").all_inner_texts()]


def centre_y(box: dict[str, float] | None) -> float:
    """Vertical middle of a bounding box."""
    assert box is not None, "the element is not visible"
    return box["y"] + box["height"] / 2


def click_chat_of(dashboard: Any, session: str) -> None:
    """Click the Chat button on the row of ``session`` (the grid has no row elements: match by height)."""
    name = dashboard.locator(".chatml-name", has_text=session).first
    buttons = dashboard.get_by_role("button", name="Chat", exact=True)
    row = next(
        i for i in range(buttons.count())
        if abs(centre_y(buttons.nth(i).bounding_box()) - centre_y(name.bounding_box())) < 30
    )  # fmt: skip
    buttons.nth(row).click()


def check_fit(
    browser: Any, server: JupyterApp, ui: str, notebook: str, screenshots: Path
) -> dict[str, float]:
    """Run ``notebook`` in ``ui`` at a 1,000 px output area and check the dashboard and the chat."""
    started = time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    try:
        run_notebook(page, server.url(notebook, ui))
        ready = time.monotonic() - started
        width = fit_viewport(page)
        assert abs(width - TARGET_WIDTH) < 1, f"{ui}: could not size the output area to 1,000 px ({width})"
        dashboard, chat = page.locator(DASHBOARD_OUTPUT), page.locator(CHAT_OUTPUT)

        measured = dashboard.evaluate(MEASURE)
        names = [c["what"] for c in measured["controls"] if c["name"]]
        assert len(names) == 5 and any(LONG_NAME in n for n in names), f"{ui}: {names}"
        chats = [c for c in measured["controls"] if c["what"] == "button Chat"]
        assert len(chats) == 5, f"{ui}: one Chat button per session, got {len(chats)}"
        assert problems(measured) == [], ui

        chat_measured = chat.evaluate(MEASURE)
        buttons = [c["what"] for c in chat_measured["controls"] if c["what"].startswith("button")]
        # The conversation tabs (Task, reviews) and Review / Fix findings come first; these must all be there.
        wanted = ["button Approve", "button Deny", "button Send", "button Interrupt", "button Stop"]
        assert [b for b in buttons if b in wanted] == wanted and "button Task" in buttons, (ui, buttons)
        assert problems(chat_measured) == [], ui
        # The answered approval is one line; the waiting one keeps its details and its buttons.
        answered = chat.locator(".chatml-approval-answered")
        assert answered.count() == 1, ui
        assert "Permission: approved" in answered.inner_text()
        assert answered.bounding_box()["height"] < 30, f"{ui}: the answered approval is one line"
        assert chat.locator(".chatml-approval-pending").count() == 1, ui

        dashboard.screenshot(path=str(screenshots / f"{ui}-dashboard-table-1000px.png"))
        chat.screenshot(path=str(screenshots / f"{ui}-chat-1000px.png"))

        # The Chat button of the longest-named row: its chat opens below, nothing moves sideways.
        name = dashboard.locator(".chatml-name", has_text=LONG_NAME)
        before = name.bounding_box()
        click_chat_of(dashboard, LONG_NAME)
        page.wait_for_selector(f"{DASHBOARD_OUTPUT} .chatml-chat", timeout=30_000)
        page.wait_for_timeout(500)
        after = name.bounding_box()
        assert after["x"] == pytest.approx(before["x"], abs=1), f"{ui}: the names stayed in view"
        opened = dashboard.evaluate(MEASURE)
        assert problems(opened) == [], ui
        assert "Send" in dashboard.locator(".chatml-chat").inner_text()

        # The new-session form: agent and permission mode are dropdowns; every field fits too.
        dashboard.get_by_text("New session", exact=True).click()
        agent = dashboard.get_by_label("Agent", exact=True)
        agent.wait_for(state="visible", timeout=10_000)
        agents = options(agent)
        assert {"default agent", "anthropic", "scripted"} <= set(agents), f"{ui}: {agents}"
        modes = options(dashboard.get_by_label("Permissions", exact=True))
        assert modes == ["default", "accept edits", "bypass", "plan"], f"{ui}: {modes}"
        assert any(c["what"] == "button Create session" for c in dashboard.evaluate(MEASURE)["controls"]), ui

        # The worker's chat in the dashboard: the answered approval on one line, the waiting one with
        # its buttons; everything (table, form, chat) still inside the output area.
        click_chat_of(dashboard, WORKER)
        dashboard.locator(".chatml-chat .chatml-approval-answered").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        everything = dashboard.evaluate(MEASURE)
        assert any(c["what"] == "button Approve" for c in everything["controls"]), ui
        assert problems(everything) == [], ui
        dashboard.screenshot(path=str(screenshots / f"{ui}-dashboard-1000px.png"))
    finally:
        page.close()
    return {"ready_s": ready, "total_s": time.monotonic() - started, "output_px": width}


def test_dashboard_and_chat_fit_a_1000px_output_area(
    browser: Any, jupyter_server: JupyterApp, repo: Path, screenshots: Path
) -> None:
    commit_file(repo, "app/__init__.py", "", "app package")
    script = write_script(jupyter_server.root / "slugify-script.json")
    nbformat.write(fit_notebook(repo, script), jupyter_server.root / "fit.ipynb")
    nbformat.write(view_notebook(), jupyter_server.root / "view.ipynb")
    lab = check_fit(browser, jupyter_server, "lab", "fit.ipynb", screenshots)
    notebook7 = check_fit(browser, jupyter_server, "notebook", "view.ipynb", screenshots)
    print(f"\nJupyterLab: {lab}\nNotebook 7: {notebook7}")
