"""JupyterLab in Chromium: the sidebar, the attention queue, the new-session dialog and the chat.

One Lab server and one page for the module (starting them is most of the cost); each test works
on sessions of its own. Screenshots: see ``conftest.SCREENSHOTS``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ...agent_fixtures import wait_for, write_script
from ...conftest import commit_file, git
from .conftest import Lab, screenshot

pytestmark = pytest.mark.browser

SLOW_WORDS = " ".join(f"word{i}" for i in range(80))


def row(session_id: str) -> str:
    return f'#chatml-sidebar .jp-ChatML-session[data-session="{session_id}"]'


def queue_item(session_id: str, kind: str | None = None) -> str:
    extra = f'[data-kind="{kind}"]' if kind else ""
    return f'#chatml-sidebar .jp-ChatML-attention-item[data-session="{session_id}"]{extra}'


def chat(session_id: str) -> str:
    return f"#chatml-chat-{session_id}"


def test_sidebar_lists_sessions_made_through_the_python_api(lab: Lab, browser_page: Any) -> None:
    page = browser_page
    login = lab.cm.new_session(lab.repo, name="fix-login", priority="high", agent="scripted")
    endpoint = lab.cm.new_session(lab.repo, name="add-endpoint", priority="medium", agent="scripted")
    endpoint.pin()
    page.wait_for_selector(row(login.id))
    page.wait_for_selector(f"{row(endpoint.id)} .jp-ChatML-pin.jp-mod-pinned")
    group = page.locator('#chatml-sidebar .jp-ChatML-group[data-status="in_progress"] .jp-ChatML-session')
    names = group.locator(".jp-ChatML-name").all_inner_texts()
    assert names.index("add-endpoint") < names.index("fix-login")  # pinned first
    assert page.locator(f"{row(login.id)} .jp-ChatML-priority").inner_text() == "high"

    # A change made outside the browser (the CLI, a notebook) reaches the sidebar by itself.
    login.update(task_status="in_review")
    page.wait_for_selector(f'#chatml-sidebar .jp-ChatML-group[data-status="in_review"] {row(login.id)[15:]}')

    # The shortcut is ours alone: no other command is bound to the same keys.
    bindings = page.evaluate(
        "() => window.jupyterapp.commands.keyBindings"
        ".filter(b => b.keys.join(' ') === 'Alt Shift N').map(b => b.command)"
    )
    assert bindings == ["chatml:new-session"]


def test_far_behind_session_in_the_queue_and_its_worktree_in_the_file_browser(
    lab: Lab, browser_page: Any
) -> None:
    page = browser_page
    session = lab.cm.new_session(lab.repo, name="old-branch", agent="scripted")
    for n in range(4):
        commit_file(lab.repo, f"main{n}.txt", f"{n}\n")
    git(lab.repo, "push", "-q", "origin", "main")
    page.wait_for_selector(row(session.id))
    # Sync from the row's context menu, as a user would.
    page.locator(row(session.id)).click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Sync Drift").click()
    item = page.wait_for_selector(queue_item(session.id, "behind"))
    assert "4 commits behind origin/main" in item.inner_text()
    assert "↓4" in page.locator(f"{row(session.id)} .jp-ChatML-drift").inner_text()

    page.evaluate(f"() => window.jupyterapp.commands.execute('chatml:open-worktree', {{id: '{session.id}'}})")
    crumbs = page.locator(".jp-BreadCrumbs")
    wait_for(lambda: "old-branch" in crumbs.inner_text(), what="the file browser in the worktree")
    assert page.locator(".jp-DirListing-item", has_text="main0.txt").count() == 0  # branch made before
    assert page.locator(".jp-DirListing-item", has_text="README.md").count() == 1
    page.evaluate("() => window.jupyterapp.shell.activateById('chatml-sidebar')")


def test_new_session_from_the_dialog_waits_for_approval_then_finishes(lab: Lab, browser_page: Any) -> None:
    page = browser_page
    page.locator("#chatml-sidebar").click()
    page.keyboard.press("Alt+Shift+N")
    form = page.wait_for_selector(".jp-Dialog .jp-ChatML-form")
    form.query_selector('input[name="workspace"]').fill("project")
    form.query_selector('input[name="name"]').fill("from-dialog")
    form.query_selector('textarea[name="prompt"]').fill("Add fizzbuzz with a test, then commit it")
    form.query_selector('select[name="agent"]').select_option("scripted")
    form.query_selector('select[name="permission_mode"]').select_option("accept_edits")
    form.query_selector('select[name="priority"]').select_option("urgent")
    screenshot(page, "new-session-dialog", ".jp-Dialog-content")
    page.locator(".jp-Dialog-button.jp-mod-accept").click()

    created = wait_for(
        lambda: [s for s in lab.api("GET", "sessions")["sessions"] if s["name"] == "from-dialog"]
    )
    session_id = created[0]["id"]
    assert created[0]["priority"] == "urgent" and created[0]["permission_mode"] == "accept_edits"
    panel = page.wait_for_selector(chat(session_id))
    # The Write was allowed by accept_edits: its diff shows; the Bash commit waits for approval.
    page.wait_for_selector(f'{chat(session_id)} .jp-ChatML-tool[data-tool="Write"] .jp-ChatML-diff')
    assert "def fizzbuzz(n: int) -> str:" in panel.inner_text()
    assert "This is a scripted demo, not a model." in panel.inner_text()
    page.wait_for_selector(f"{chat(session_id)} .jp-ChatML-approval .jp-ChatML-approve")
    item = page.wait_for_selector(queue_item(session_id, "approval"))
    assert "waiting for approval: Bash git add -A" in item.inner_text()
    first = page.locator("#chatml-sidebar .jp-ChatML-attention-item").first
    assert first.get_attribute("data-session") == session_id  # an approval outranks drift
    toast = page.wait_for_selector(".Toastify__toast", state="attached")
    assert "waits for your approval" in toast.inner_text()
    time.sleep(0.5)  # let the toast finish sliding in
    screenshot(page, "attention-queue-waiting")
    screenshot(page, "sidebar-attention-queue", "#chatml-sidebar")

    page.locator(f"{chat(session_id)} .jp-ChatML-approval .jp-ChatML-approve").click()
    page.wait_for_selector(f"{chat(session_id)} .jp-ChatML-approval.jp-mod-answered.jp-mod-approved")
    page.wait_for_selector(f"{chat(session_id)} .jp-ChatML-result")
    wait_for(lambda: "Done: fizzbuzz.py" in panel.inner_text(), what="the final text")
    page.wait_for_selector(queue_item(session_id), state="detached")
    # The approval's notification goes away once the request is answered.
    page.wait_for_selector('.Toastify__toast:has-text("waits for your approval")', state="detached")
    assert page.locator(f"{row(session_id)} .jp-ChatML-dot.jp-mod-idle").count() == 1
    screenshot(page, "chat-after-approval")
    assert git(lab.root / "worktrees" / "project" / "from-dialog", "log", "-1", "--format=%s").strip() == (
        "Add fizzbuzz with a test"
    )


def test_agent_text_streams_into_the_chat(lab: Lab, browser_page: Any, tmp_path: Any) -> None:
    page = browser_page
    script = write_script(tmp_path / "slow.json", [[{"type": "text", "text": SLOW_WORDS}]], delay=0.04)
    session = lab.cm.new_session(
        lab.repo, name="chatty", agent=f"scripted:{script}", permission_mode="bypass"
    )
    page.locator(row(session.id)).wait_for()
    page.locator(row(session.id)).click()
    box = page.wait_for_selector(f"{chat(session.id)} textarea.jp-ChatML-input")
    box.fill("Say eighty words, slowly")
    box.press("Control+Enter")  # the Send button may sit under a notification toast
    streaming = page.locator(f"{chat(session.id)} .jp-ChatML-msg.jp-mod-streaming .jp-ChatML-text")
    streaming.wait_for()
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and streaming.count():
        text = streaming.first.inner_text() if streaming.count() else ""
        if text and (not seen or text != seen[-1]):
            seen.append(text)
        time.sleep(0.1)
    final = page.locator(f"{chat(session.id)} .jp-ChatML-msg.jp-mod-assistant .jp-ChatML-text").last
    wait_for(lambda: final.inner_text() == SLOW_WORDS, what="the whole text")
    partial = [t for t in seen if 0 < len(t) < len(SLOW_WORDS)]
    assert len(partial) >= 3, seen  # the text grew in the page, piece by piece
    assert all(SLOW_WORDS.startswith(t) for t in partial)
    assert (
        page.locator(f"{chat(session.id)} .jp-ChatML-msg.jp-mod-user")
        .inner_text()
        .endswith("Say eighty words, slowly")
    )
