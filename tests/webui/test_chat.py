"""The chat client in a real browser against a live server: unread markers, infinite scroll, live
updates over the websocket, posting, editing, deleting, reactions, threads, uploads with progress and
thumbnails, search, keyboard navigation and a phone-width layout."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.testlib.clients import unique
from tests.webui.conftest import PHONE, PageErrors, Site, login

ACCESSIBLE_NAMES = """() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
  .filter((el) => el.offsetParent !== null && el.getAttribute('aria-hidden') !== 'true')
  .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
                    (el.labels && el.labels.length) || el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 120))"""


def unnamed_controls(page: Page) -> list[str]:
    """Visible controls with no accessible name (no label, aria-label or text)."""
    found: list[str] = page.evaluate(ACCESSIBLE_NAMES)
    return found


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


def member(site: Site, channel_id: str, user_id: str) -> dict[str, object]:
    r = site.admin.http.get(f"/api/v4/channels/{channel_id}/members/{user_id}")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_chat_end_to_end(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    carol, dave = alpha.person(), alpha.person()
    lab = alpha.channel(carol, "Chat Lab")
    r = carol.http.post(f"/api/v4/channels/{lab['id']}/members", json={"user_id": dave.id})
    assert r.status_code == 201, r.text
    for i in range(45):
        if i == 40:  # carol has read the first 40 (through the API, as another client of hers would)
            r = carol.http.post("/api/v4/channels/members/me/view", json={"channel_id": lab["id"]})
            assert r.status_code == 200, r.text
        alpha.post(dave, lab["id"], f"history {i}" + (" zebrafish" if i == 3 else ""))

    page = login(browser, alpha, carol, page_errors)
    assert unnamed_controls(page) == []
    # Unread marker in the sidebar: the 5 messages carol has not seen.
    link = page.get_by_role("link", name=re.compile("Chat Lab"))
    expect(link).to_have_class(re.compile("unread"))
    expect(link).to_contain_text("5 unread")

    # Opening the channel: the newest 30, the "New messages" line above the first unread one, then
    # older ones on scrolling up.
    link.click()
    log = page.get_by_role("log", name="Messages in Chat Lab")
    history = log.get_by_role("article").filter(has_text="history")
    expect(history).to_have_count(30)
    marker = log.get_by_role("separator", name="New messages")
    expect(marker).to_have_count(1)
    assert marker.evaluate("(el) => el.nextElementSibling.textContent").endswith("history 40")
    expect(link).not_to_have_class(re.compile("unread"))
    page.locator(".post-scroller").first.evaluate("(el) => { el.scrollTop = 0; }")
    expect(history).to_have_count(45)
    expect(history.first).to_contain_text("history 0")

    # Live updates: dave's message arrives over the websocket; another channel turns unread.
    alpha.post(dave, lab["id"], "live from dave")
    live = log.get_by_role("article").filter(has_text="live from dave")
    expect(live).to_be_visible()
    square = next(c for c in dave.driver.channels.get_channels_for_team_for_user(user_id="me", team_id=alpha.team["id"])
                  if c["name"] == "town-square")
    alpha.post(dave, square["id"], "psst in town square")
    expect(page.get_by_role("link", name=re.compile("Town Square"))).to_contain_text("1 unread")
    # The server was told (POST /channels/members/me/view): carol has read all 46 messages.
    for _ in range(50):
        if member(alpha, lab["id"], carol.id)["msg_count"] == 46:
            break
        page.wait_for_timeout(100)
    assert member(alpha, lab["id"], carol.id)["msg_count"] == 46
    assert alpha.admin.http.get(f"/api/v4/channels/{lab['id']}").json()["total_msg_count"] == 46

    # Post, then edit (Enter saves) and see "(edited)".
    composer = page.get_by_role("textbox", name="Write to Chat Lab")
    composer.fill("first draft")
    composer.press("Enter")
    mine = log.get_by_role("article").filter(has_text="first draft")
    expect(mine).to_be_visible()
    mine.hover()
    mine.get_by_role("button", name="Edit message").click()
    editor = log.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("first draft")
    expect(editor).to_be_focused()
    editor.fill("final text")
    editor.press("Enter")
    edited = log.get_by_role("article").filter(has_text="final text")
    expect(edited).to_contain_text("(edited)")

    # Reactions: add from the picker, then toggle off from the chip.
    live.hover()
    live.get_by_role("button", name="Add reaction").click()
    page.get_by_role("menuitem", name=re.compile(r"\+1")).click()
    chip = live.get_by_role("button", name=re.compile(r"^\+1 reaction by"))
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(chip).to_contain_text("1")
    chip.click()
    expect(chip).to_have_count(0)

    # Threads: reply from the panel; dave's reply arrives live in it; the root counts replies.
    live.hover()
    live.get_by_role("button", name="Reply in thread").click()
    thread = page.get_by_role("complementary", name="Thread")
    reply_box = thread.get_by_role("textbox", name="Reply to thread")
    expect(reply_box).to_be_focused()
    reply_box.fill("thread answer")
    reply_box.press("Enter")
    expect(thread.get_by_role("article").filter(has_text="thread answer")).to_be_visible()
    root_id = dave.http.get(f"/api/v4/channels/{lab['id']}/posts", params={"per_page": 5}).json()
    root = next(p for p in root_id["posts"].values() if p["message"] == "live from dave")
    alpha.post(dave, lab["id"], "dave in thread", root_id=root["id"])
    expect(thread.get_by_role("article").filter(has_text="dave in thread")).to_be_visible()
    expect(live).to_contain_text("2 replies")
    reply_box.press("Escape")
    expect(thread).to_have_count(0)

    # Upload with progress, then the thumbnail (served with the session cookie) in the message.
    page.locator("form.composer input[type=file]").first.set_input_files(
        files=[{"name": "chart.png", "mimeType": "image/png", "buffer": png(320, 200)}])
    upload = page.get_by_role("list", name="Attachments").get_by_role("listitem")
    expect(upload).to_contain_text("chart.png")
    expect(upload).to_contain_text("Ready")
    expect(upload.get_by_role("progressbar")).to_have_attribute("value", "100")
    composer.fill("see the chart")
    composer.press("Enter")
    pic = log.get_by_role("article").filter(has_text="see the chart")
    img = pic.get_by_role("img", name="chart.png")
    expect(img).to_have_attribute("src", re.compile(r"/api/v4/files/\w+/thumbnail$"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle())

    # Delete own message after confirming.
    edited.hover()
    edited.get_by_role("button", name="Delete message").click()
    confirm = page.get_by_role("dialog", name="Delete message")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Delete").click()
    expect(log.get_by_role("article").filter(has_text="final text")).to_have_count(0)

    # Search, and jump to the result's thread.
    page.get_by_role("searchbox", name="Search messages").fill("zebrafish")
    page.get_by_role("searchbox", name="Search messages").press("Enter")
    results = page.get_by_role("complementary", name="Search results")
    expect(results.get_by_role("status")).to_have_text("1 result")
    expect(results.get_by_role("listitem")).to_contain_text("history 3 zebrafish")
    results.get_by_role("button", name="Jump").click()
    expect(page.get_by_role("complementary", name="Thread").get_by_role("article")).to_contain_text("zebrafish")
    assert unnamed_controls(page) == []

    # Keyboard: one Tab stop in the channel list, arrows move between channels.
    page.get_by_role("link", name=re.compile("Chat Lab")).focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("link", name=re.compile("Off-Topic"))).to_be_focused()
    page.keyboard.press("Home")
    expect(page.get_by_role("list", name="Channels").get_by_role("link").first).to_be_focused()

    # Channel events: a rename shows at once in the header and the sidebar.
    r = alpha.admin.http.put(f"/api/v4/channels/{lab['id']}/patch", json={"display_name": "Chat Lab Two"})
    assert r.status_code == 200, r.text
    page.get_by_role("link", name=re.compile("Chat Lab")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chat Lab Two")

    # Direct messages: find dave, open the conversation, write.
    page.get_by_role("button", name="Write a direct message").click()
    page.get_by_role("dialog", name="Direct message").get_by_label("Find people").fill(dave.username)
    page.get_by_role("button", name=f"Message {dave.username}").click()
    dm_box = page.get_by_role("textbox", name=f"Write to {dave.username}")
    dm_box.fill("hi dave")
    dm_box.press("Enter")
    expect(page.get_by_role("article").filter(has_text="hi dave")).to_be_visible()
    expect(page.get_by_role("list", name="Direct messages")).to_contain_text(dave.username)

    # Teams: joining a second team adds the team switcher; switching opens that team's channels.
    team = alpha.admin.driver.teams.create_team(name=unique("second"), display_name="Second Team", type="O")
    r = alpha.admin.http.post(f"/api/v4/teams/{team['id']}/members", json={"team_id": team["id"], "user_id": carol.id})
    assert r.status_code == 201, r.text
    teams = page.get_by_role("navigation", name="Teams")
    teams.get_by_role("link", name="Second Team").click()
    expect(page.get_by_role("navigation", name="Channels").get_by_role("heading", level=2)).to_have_text("Second Team")
    expect(page.get_by_role("heading", level=1)).to_have_text("Town Square")
    expect(page.get_by_role("link", name=re.compile("Chat Lab"))).to_have_count(0)
    expect(teams.get_by_role("link", name="Second Team")).to_have_attribute("aria-current", "page")


def test_phone_width(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    erin = alpha.person()
    page = login(browser, alpha, erin, page_errors, viewport=PHONE)
    drawer_button = page.get_by_role("button", name="Channels", exact=True)
    sidebar = page.get_by_role("navigation", name="Channels")
    expect(drawer_button).to_have_attribute("aria-expanded", "false")
    expect(sidebar).to_be_hidden()
    composer = page.get_by_role("textbox", name="Write to Town Square")
    expect(composer).to_be_visible()
    drawer_button.click()
    expect(sidebar).to_be_visible()
    expect(drawer_button).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name=re.compile("Off-Topic")).click()
    expect(sidebar).to_be_hidden()
    expect(page.get_by_role("heading", level=1, name="Off-Topic")).to_be_visible()
    composer = page.get_by_role("textbox", name="Write to Off-Topic")
    composer.fill("from my phone")
    composer.press("Enter")
    expect(page.get_by_role("article").filter(has_text="from my phone")).to_be_visible()
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert unnamed_controls(page) == []
