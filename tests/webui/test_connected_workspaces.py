"""Two real workspaces connected and shared entirely through the browser, as the admin guide describes:
admin of alpha creates a connection, admin of beta accepts it (a wrong password first), alpha shares a
channel from the System Console, a person on beta sees alpha's message arrive live, answers in the thread,
and alpha sees the answer; a read-only share shows the banner and no composer on beta."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Locator, Page, expect

from tests.testlib.clients import unique
from tests.webui.conftest import PageErrors, Site, login, shot

CONSOLE = "/console/connected-workspaces"


def create_connection(page: Page, org: str, team: str) -> tuple[str, str]:
    page.goto(CONSOLE)
    page.get_by_role("button", name="Add a connection").click()
    page.get_by_role("menuitem", name="Create a connection").click()
    dialog = page.get_by_role("dialog", name="Create a connection")
    dialog.get_by_label("Organization name").fill(org)
    dialog.get_by_label("Destination team").select_option(label=team)
    dialog.get_by_role("button", name="Save").click()
    shown = page.get_by_role("dialog", name="Connection created")
    code = shown.get_by_role("textbox", name="Invitation code").input_value()
    password = shown.get_by_role("textbox", name="Password").input_value()
    expect(shown.get_by_role("button", name="Copy invitation code")).to_be_visible()
    expect(shown.get_by_role("button", name="Copy password")).to_be_visible()
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_have_count(0)
    return code, password


def accept_dialog(page: Page, org: str, team: str, code: str, password: str) -> None:
    page.get_by_role("button", name="Add a connection").click()
    page.get_by_role("menuitem", name="Accept an invitation").click()
    dialog = page.get_by_role("dialog", name="Accept a connection invitation")
    dialog.get_by_label("Organization name").fill(org)
    dialog.get_by_label("Destination team").select_option(label=team)
    dialog.get_by_label("Encrypted invitation code").fill(code)
    dialog.get_by_label("Password").fill(password)
    dialog.get_by_role("button", name="Accept").click()


def row(page: Page, org: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader").filter(has_text=org))


def share_channels(page: Page, org: str, remote_team: str, channel: str, *, readonly: bool) -> None:
    page.goto(CONSOLE)
    page.get_by_role("button", name=f"More actions for {org}").click()
    page.get_by_role("menuitem", name="Shared channels").click()
    expect(page.get_by_role("tab", name="Shared channels")).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name="Add channels").click()
    dialog = page.get_by_role("dialog", name=f"Share channels with {org}")
    dialog.get_by_label("Team").select_option(label=remote_team)
    expect(dialog.get_by_role("group", name="Channels")).not_to_contain_text("Loading")
    dialog.get_by_label(channel, exact=True).check()
    if readonly:
        dialog.get_by_label("Read-only").check()
    dialog.get_by_role("button", name="Share").click()
    expect(dialog).to_have_count(0)
    shared = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=channel))
    expect(shared).to_contain_text("Read-only" if readonly else "Read and write")
    expect(shared).to_contain_text("Active")


def join_channel(page: Page, channel: str) -> None:
    """Browse channels until the shared copy has arrived on this server, then join it."""
    for _ in range(30):
        page.get_by_role("button", name="Browse channels").click()
        dialog = page.get_by_role("dialog", name="Browse channels")
        join = dialog.get_by_role("button", name=f"Join {channel}")
        expect(dialog.get_by_role("list", name="Channels you can join")).not_to_contain_text("Loading")
        if join.count():
            join.click()
            expect(page.get_by_role("heading", level=1, name=re.compile(channel))).to_be_visible()
            return
        dialog.get_by_role("button", name="Close").click()
        page.wait_for_timeout(300)
    raise AssertionError(f"{channel} never reached this workspace")


def test_connect_share_and_talk_across_workspaces(browser: Browser, alpha: Site, beta: Site,
                                                  page_errors: PageErrors) -> None:
    alice = alpha.person(unique("alice"))  # a person on alpha
    bob = beta.person(unique("bob"))  # a person on beta
    room = alpha.channel(alpha.admin, "Partner Room")
    news = alpha.channel(alpha.admin, "Partner News")
    for ch in (room, news):
        r = alpha.admin.http.post(f"/api/v4/channels/{ch['id']}/members", json={"user_id": alice.id})
        assert r.status_code == 201, r.text

    # 1. alpha's admin creates the connection and gets the invitation with copy buttons.
    a_admin = login(browser, alpha, alpha.admin, page_errors, path=CONSOLE)
    code, password = create_connection(a_admin, "Beta Org", alpha.team["display_name"])
    pending = row(a_admin, "Beta Org")
    expect(pending).to_contain_text("Connection pending")
    expect(pending.get_by_role("cell").nth(2)).to_have_text("No")  # invite accepted

    # 2. beta's admin accepts; a wrong password first gives a clear error and keeps the form.
    b_admin = login(browser, beta, beta.admin, page_errors, path=CONSOLE)
    accept_dialog(b_admin, "Alpha Org", beta.team["display_name"], code, password + "x")
    alert = b_admin.get_by_role("dialog", name="Accept a connection invitation").get_by_role("alert")
    expect(alert).to_contain_text("wrong password")
    expect(alert).to_contain_text("Check the password")
    dialog = b_admin.get_by_role("dialog", name="Accept a connection invitation")
    expect(dialog.get_by_label("Password")).to_be_focused()
    dialog.get_by_label("Password").fill(password)
    dialog.get_by_role("button", name="Accept").click()
    expect(dialog).to_have_count(0)
    expect(row(b_admin, "Alpha Org")).to_contain_text("Connected")

    # 3. alpha sees the connection online and accepted.
    a_admin.reload()
    online = row(a_admin, "Beta Org")
    expect(online).to_contain_text("Connected")
    expect(online.get_by_role("cell").nth(2)).to_have_text("Yes")
    expect(online).to_contain_text(alpha.team["display_name"])

    # 4. alpha shares a channel (read and write) from the connection's "Shared channels" tab.
    share_channels(a_admin, "Beta Org", alpha.team["display_name"], "Partner Room", readonly=False)
    a_admin.goto(CONSOLE)
    expect(row(a_admin, "Beta Org")).to_contain_text("Connected")
    shot(a_admin, "console-connected-workspaces.png")

    # 5. bob joins the shared copy on beta; alice opens it on alpha.
    b_user = login(browser, beta, bob, page_errors)
    join_channel(b_user, "Partner Room")
    expect(b_user.get_by_text("Shared from Alpha Org")).to_be_visible()
    a_user = login(browser, alpha, alice, page_errors)
    a_user.get_by_role("link", name=re.compile("Partner Room")).click()
    expect(a_user.get_by_text("Shared with Beta Org", exact=True)).to_be_visible()

    # 6. alice writes; bob sees it arrive live, from an external user.
    a_user.get_by_role("textbox", name="Write to Partner Room").fill("Hello from alpha")
    a_user.keyboard.press("Enter")
    arrived = b_user.get_by_role("article").filter(has_text="Hello from alpha")
    expect(arrived).to_be_visible()
    expect(arrived).to_contain_text(f"{alice.username}:alpha-org")
    expect(arrived.get_by_text("external", exact=True)).to_be_visible()

    # 7. bob answers in the thread; alice sees the answer live, from an external user.
    arrived.hover()
    arrived.get_by_role("button", name="Reply in thread").click()
    thread = b_user.get_by_role("complementary", name="Thread")
    thread.get_by_role("textbox", name="Reply to thread").fill("Answer from beta")
    b_user.keyboard.press("Enter")
    expect(thread.get_by_role("article").filter(has_text="Answer from beta")).to_be_visible()
    answer = a_user.get_by_role("article").filter(has_text="Answer from beta")
    expect(answer).to_be_visible()
    expect(answer).to_contain_text(f"{bob.username}:beta-org")
    expect(answer.get_by_text("external", exact=True)).to_be_visible()
    expect(a_user.get_by_role("article").filter(has_text="Hello from alpha")).to_contain_text("1 reply")
    expect(b_user.get_by_text("Shared from Alpha Org", exact=True)).to_be_visible()  # not "also with" itself
    b_user.mouse.move(0, 0)
    shot(b_user, "shared-channel.png")
    b_user.get_by_role("button", name="Close Thread").click()

    # 8. a read-only share: beta shows the banner and no composer (channel or thread).
    share_channels(a_admin, "Beta Org", alpha.team["display_name"], "Partner News", readonly=True)
    alpha.post(alice, news["id"], "Read this")
    join_channel(b_user, "Partner News")
    expect(b_user.get_by_role("note")).to_contain_text("Read-only channel")
    expect(b_user.get_by_role("article").filter(has_text="Read this")).to_be_visible()
    expect(b_user.get_by_role("textbox", name="Write to Partner News")).to_have_count(0)
    read = b_user.get_by_role("article").filter(has_text="Read this")
    read.hover()
    expect(read.get_by_role("button", name="Reply in thread")).to_have_count(0)
    # The home side keeps its composer and says the share is read-only for the other side.
    a_user.get_by_role("link", name=re.compile("Partner News")).click()
    expect(a_user.get_by_text(re.compile("Shared with Beta Org.*read-only for them"))).to_be_visible()
    expect(a_user.get_by_role("textbox", name="Write to Partner News")).to_be_visible()

    # 9. the shared channel can be removed from the connection again.
    a_admin.goto(f"{CONSOLE}")
    a_admin.get_by_role("button", name="More actions for Beta Org").click()
    a_admin.get_by_role("menuitem", name="Shared channels").click()
    a_admin.get_by_role("button", name="Stop sharing Partner News").click()
    a_admin.get_by_role("dialog", name="Stop sharing Partner News?").get_by_role("button", name="Stop sharing").click()
    expect(a_admin.get_by_role("rowheader", name="Partner News")).to_have_count(0)
    expect(a_admin.get_by_role("rowheader", name="Partner Room")).to_be_visible()
