"""Issue 19: from two commands to two connected workspaces, in the browser only. Every step a newcomer
takes goes through the UI of fresh ``isthmus serve`` processes; the API is used only to start them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.webui.conftest import DESKTOP, PageErrors, shot
from tests.webui.newcomer_lib import (
    Fresh,
    create_channel,
    create_first_team,
    first_login,
    fresh_workspace,
    open_console,
    open_shared_copy,
    post,
    switch_on,
)
from tests.webui.test_connected_workspaces import CONSOLE, accept_dialog, create_connection, row


@pytest.fixture
def site_a(tmp_path: Path) -> Iterator[Fresh]:
    site = fresh_workspace(tmp_path / "a")
    yield site
    site.server.stop()


def test_first_run_admin_creates_a_team_and_posts(browser: Browser, site_a: Fresh, page_errors: PageErrors) -> None:
    page = first_login(browser, site_a, page_errors)
    # Without a team there is nothing to browse: the buttons are off instead of showing API errors.
    expect(page.get_by_role("button", name="Browse channels")).to_be_disabled()
    expect(page.get_by_role("heading", level=1, name="Create your first team")).to_be_visible()
    shot(page, "first-run.png")
    page.get_by_label("Team name").fill("Acme Support")
    expect(page.get_by_label("Team URL")).to_have_value("acme-support")
    page.get_by_label("Team URL").fill("Admin")
    page.get_by_role("button", name="Create team").click()
    expect(page.locator("form .error-box")).to_contain_text("The team URL must be 2 to 64 lowercase letters")
    page.get_by_label("Team URL").fill("admin")
    page.get_by_role("button", name="Create team").click()
    expect(page.locator("form .error-box")).to_have_text("That team URL is reserved. Choose another one.")
    page.get_by_label("Team URL").fill("acme")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Town Square"))).to_be_visible()
    post(page, "Town Square", "First words")
    expect(page.get_by_role("button", name="Browse channels")).to_be_enabled()

    # The admin creates an account for someone else; without a team, they are offered the open team.
    page.get_by_role("link", name="System Console").click()
    page.get_by_role("navigation", name="System Console").get_by_role("link", name="Users").click()
    page.get_by_role("button", name="Create user").click()
    dialog = page.get_by_role("dialog", name="Create a user")
    dialog.get_by_label("Username").fill("zoe")
    dialog.get_by_label("Email").fill("zoe@example.com")
    dialog.get_by_label("Password", exact=True).fill("Zoe-pass-123")
    dialog.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("rowheader", name="zoe")).to_be_visible()
    zoe = page_errors.watch(browser.new_context(viewport=DESKTOP, base_url=site_a.url).new_page())  # type: ignore[arg-type]
    zoe.goto("/")
    zoe.get_by_label("Username or email").fill("zoe")
    zoe.get_by_label("Password", exact=True).fill("Zoe-pass-123")
    zoe.get_by_role("button", name="Log in").click()
    expect(zoe.get_by_role("heading", level=1, name="Join a team")).to_be_visible()
    zoe.get_by_role("button", name="Join Acme Support").click()
    expect(zoe.get_by_role("heading", level=1, name=re.compile("Town Square"))).to_be_visible()
    expect(zoe.get_by_role("article").filter(has_text="First words")).to_be_visible()


@pytest.fixture
def site_b(tmp_path: Path) -> Iterator[Fresh]:
    site = fresh_workspace(tmp_path / "b")
    yield site
    site.server.stop()


def test_newcomer_connects_two_fresh_workspaces_in_the_browser(browser: Browser, site_a: Fresh, site_b: Fresh,
                                                               page_errors: PageErrors) -> None:
    # 1. A: first login, a team, a channel with some history, both switches on, a connection for B.
    a = first_login(browser, site_a, page_errors)
    create_first_team(a, "Alpha", "alpha")
    create_channel(a, "Partner Room")
    post(a, "Partner Room", "Written on A before the share")
    open_console(a)
    expect(a.get_by_text("Connected workspaces are turned off on this server")).to_be_visible()
    switch_on(a, "Enable connected workspaces", "Enable shared channels")
    code, password = create_connection(a, "workspace-b", "Alpha")

    # 2. B: first login, a team, connected workspaces on but shared channels forgotten; accept.
    b = first_login(browser, site_b, page_errors)
    create_first_team(b, "Beta", "beta")
    open_console(b)
    switch_on(b, "Enable connected workspaces")
    accept_dialog(b, "workspace-a", "Beta", code, password)
    expect(b.get_by_role("dialog", name="Accept a connection invitation")).to_have_count(0)
    expect(row(b, "workspace-a")).to_contain_text("Connected")

    # 3. A shares the channel. B has shared channels off: both sides say so, in words, naming the workspace.
    a.goto(CONSOLE)
    expect(row(a, "workspace-b")).to_contain_text("Connected")
    a.get_by_role("button", name="More actions for workspace-b").click()
    a.get_by_role("menuitem", name="Shared channels").click()
    a.get_by_role("button", name="Add channels").click()
    dialog = a.get_by_role("dialog", name="Share channels with workspace-b")
    dialog.get_by_label("Team").select_option(label="Alpha")
    dialog.get_by_label("Partner Room", exact=True).check()
    dialog.get_by_role("button", name="Share").click()
    off = ("workspace-b has shared channels turned off: its admin turns on System Console › Connected "
           "Workspaces › Enable shared channels")
    shared_row = a.get_by_role("row").filter(has=a.get_by_role("rowheader", name="Partner Room"))
    expect(shared_row).to_contain_text(off)
    shot(a, "error-peer-shared-channels-off.png")
    a.goto(CONSOLE)
    expect(row(a, "workspace-b")).to_contain_text(off)
    expect(row(a, "workspace-b")).to_contain_text("Not syncing")
    b.reload()
    expect(row(b, "workspace-a")).to_contain_text(
        "workspace-a tried to share a channel, but shared channels are turned off here")
    shot(b, "error-shared-channels-off-here.png")

    # 4. B's admin turns shared channels on: the share goes through and A shows the error as resolved.
    switch_on(b, "Enable shared channels")
    expect(row(b, "workspace-a")).not_to_contain_text("tried to share")
    a.reload()
    expect(row(a, "workspace-b")).to_contain_text(re.compile(r"\(resolved \d"))
    expect(row(a, "workspace-b")).not_to_contain_text("Not syncing")

    # 5. B joins the copy: it starts at the share and says so; posts go both ways.
    b.get_by_role("link", name="Back to chat").click()
    open_shared_copy(b, "Partner Room")
    expect(b.get_by_text("History starts at the share: messages written in workspace-a before this channel was "
                         "shared with this workspace are not copied here.")).to_be_visible()
    expect(b.get_by_role("article").filter(has_text="Written on A before the share")).to_have_count(0)
    shot(b, "shared-copy-history-note.png")
    post(b, "Partner Room", "Hello from B")
    a.get_by_role("link", name="Back to chat").click()
    a.get_by_role("link", name=re.compile("Partner Room")).click()
    expect(a.get_by_role("article").filter(has_text="Hello from B")).to_be_visible()
    post(a, "Partner Room", "Hello from A")
    expect(b.get_by_role("article").filter(has_text="Hello from A")).to_be_visible()
    # A remote person's Markdown reads exactly as a local one's.
    b.get_by_role("textbox", name="Write to Partner Room").fill("Remote **Markdown** works, @admin")
    b.keyboard.press("Enter")
    remote = a.get_by_role("article").filter(has_text="Remote Markdown works")
    expect(remote.locator(".post-message strong")).to_have_text("Markdown")
    # B's "@admin" is B's admin: on A it is marked as a mention but not highlighted as A's admin's own.
    expect(remote.locator(".post-message .mention")).to_contain_text("@admin")
    expect(remote.locator(".post-message .mention-me")).to_have_count(0)

    # 6. B stops; A keeps writing; B comes back and its open page catches up by itself. However long the
    # outage, a visible page retries at least every second (the old client's wait grew to 30 s).
    site_b.server.stop()
    expect(b.get_by_text("Reconnecting…")).to_be_visible()
    waits = b.evaluate("""import('/static/js/ws.js').then(({ EventSocket }) => {
        const s = new EventSocket();
        return [1, 5, 10, 40].map((n) => { s.retry = n; return s.backoff(); });
    })""")
    assert all(0 < w <= 1000 for w in waits), waits
    post(a, "Partner Room", "Sent while B was down")
    site_b.server.start()
    expect(b.get_by_role("article").filter(has_text="Sent while B was down")).to_be_visible()
    expect(b.get_by_text("Reconnecting…")).to_have_count(0)
    shot(b, "caught-up-after-restart.png")
