"""Message priority and acknowledgements in the browser (issue 15 item 4): the composer's "Message priority"
panel (keyboard, labels), the URGENT label on the post, the "Acknowledge" button that toggles to "Acknowledged"
and back, and the count and names the author sees update live over the websocket, on one server and across two
connected workspaces (the acknowledger from the other one named with the "external" badge and its workspace)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.testlib.clients import unique
from tests.webui.conftest import PageErrors, Site, connect_sites, login, make_site, shot


def _until(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def _open(page: Page, display_name: str) -> None:
    page.get_by_role("link", name=re.compile(display_name)).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(display_name))).to_be_visible()


def test_urgent_message_acknowledged_live(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    carol, dave = alpha.person(unique("carol")), alpha.person(unique("dave"))
    lab = alpha.channel(carol, "Priority Lab")
    r = carol.http.post(f"/api/v4/channels/{lab['id']}/members", json={"user_id": dave.id})
    assert r.status_code == 201, r.text

    a = login(browser, alpha, carol, page_errors)
    _open(a, "Priority Lab")
    b = login(browser, alpha, dave, page_errors)
    _open(b, "Priority Lab")

    # carol sets the priority with the keyboard: the panel opens on the chosen level, arrows pick Urgent,
    # persistent notifications become possible only then, Escape closes it and gives focus back.
    toggle = a.get_by_role("button", name="Message priority")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    panel = a.get_by_role("group", name="Message priority")
    standard = panel.get_by_role("radio", name="Standard")
    expect(standard).to_be_focused()
    expect(panel.get_by_role("checkbox", name="Send persistent notifications")).to_be_disabled()
    a.keyboard.press("ArrowRight")
    a.keyboard.press("ArrowRight")
    expect(panel.get_by_role("radio", name="Urgent")).to_be_checked()
    expect(panel.get_by_role("checkbox", name="Send persistent notifications")).to_be_enabled()
    panel.get_by_role("checkbox", name="Request acknowledgement").check()
    shot(a, "priority-panel.png")
    a.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(toggle).to_be_focused()
    summary = a.locator(".priority-summary")
    expect(summary).to_contain_text("URGENT")
    expect(summary).to_contain_text("Acknowledgement requested")

    composer = a.get_by_role("textbox", name="Write to Priority Lab")
    composer.fill("the build is on fire, please confirm")
    composer.press("Enter")
    mine = a.get_by_role("article").filter(has_text="the build is on fire")
    expect(mine.locator(".priority-label")).to_have_text("URGENT")
    expect(mine.get_by_role("button", name="Acknowledgements: 0")).to_be_visible()
    expect(summary).to_be_hidden()  # the next message is standard again
    post_id = mine.get_attribute("data-post-id")
    post = carol.http.get(f"/api/v4/posts/{post_id}").json()
    assert post["metadata"]["priority"] == {"priority": "urgent", "requested_ack": True,
                                            "persistent_notifications": False}

    # dave sees the label live and acknowledges; carol's count and the names under it follow live.
    theirs = b.get_by_role("article").filter(has_text="the build is on fire")
    expect(theirs.locator(".priority-label")).to_have_text("URGENT")
    ack = theirs.get_by_role("button", name="Acknowledge (0 so far)")
    ack.click()
    acked = theirs.get_by_role("button", name="Acknowledged (1); select to take it back")
    expect(acked).to_be_visible()
    expect(acked).to_be_focused()  # focus stays on the control although its name changed
    count = mine.get_by_role("button", name="Acknowledgements: 1")
    expect(count).to_be_visible()
    expect(a.locator("#announcer")).to_have_text(f"{dave.username} acknowledged your message")  # screen readers
    count.hover()
    tip = mine.get_by_role("tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Acknowledged by 1 person")
    expect(tip).to_contain_text(dave.username)
    acks = carol.http.get(f"/api/v4/posts/{post_id}").json()["metadata"]["acknowledgements"]
    assert [x["user_id"] for x in acks] == [dave.id]

    # dave takes it back (within 5 minutes), with the keyboard; carol sees 0 again; then he acknowledges again.
    acked.press("Enter")
    expect(theirs.get_by_role("button", name="Acknowledge (0 so far)")).to_be_focused()
    expect(mine.get_by_role("button", name="Acknowledgements: 0")).to_be_visible()
    theirs.get_by_role("button", name="Acknowledge (0 so far)").press("Space")
    expect(mine.get_by_role("button", name="Acknowledgements: 1")).to_be_visible()

    # No reply composer offers a priority (the server takes it on the first message of a thread only).
    theirs.hover()
    theirs.get_by_role("button", name="Reply in thread").click()
    thread = b.get_by_role("complementary", name="Thread")
    expect(thread.get_by_role("textbox", name="Reply to thread")).to_be_visible()
    expect(thread.get_by_role("button", name="Message priority")).to_have_count(0)

    mine.get_by_role("button", name="Acknowledgements: 1").hover()
    expect(mine.get_by_role("tooltip")).to_be_visible()
    shot(a, "priority-ack.png")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site, str]]:
    """north connected to south ("South Org"), by REST."""
    north = make_site(Path(tmp_path_factory.mktemp("web")), "north")
    south = make_site(Path(tmp_path_factory.mktemp("web")), "south")
    try:
        yield north, south, connect_sites(north, south)
    finally:
        north.live.stop()
        south.live.stop()


def test_acknowledgement_from_a_connected_workspace(browser: Browser, pair: tuple[Site, Site, str],
                                                    page_errors: PageErrors) -> None:
    north, south, remote_id = pair
    nora, sam = north.person(unique("nora")), south.person(unique("sam"))
    room = north.channel(nora, "Incident Room")
    _until(lambda: north.admin.http.post(
        f"/api/v4/remotecluster/{remote_id}/channels/{room['id']}/invite").status_code == 200)
    _until(lambda: south.admin.http.get(f"/api/v4/channels/{room['id']}").status_code == 200)
    r = sam.http.post(f"/api/v4/channels/{room['id']}/members", json={"user_id": sam.id})
    assert r.status_code == 201, r.text

    a = login(browser, north, nora, page_errors)
    _open(a, "Incident Room")
    composer = a.get_by_role("textbox", name="Write to Incident Room")
    a.get_by_role("button", name="Message priority").click()
    panel = a.get_by_role("group", name="Message priority")
    panel.get_by_role("radio", name="Important").check()
    panel.get_by_role("checkbox", name="Request acknowledgement").check()
    panel.get_by_role("button", name="Done").click()
    composer.fill("south, please confirm the failover")
    composer.press("Enter")
    mine = a.get_by_role("article").filter(has_text="please confirm the failover")
    expect(mine.locator(".priority-label")).to_have_text("IMPORTANT")
    expect(mine.get_by_role("button", name="Acknowledgements: 0")).to_be_visible()

    # sam, on the other workspace, sees the synced label and acknowledges; nora's count follows live and
    # names him with the "external" badge and his workspace.
    b = login(browser, south, sam, page_errors)
    _open(b, "Incident Room")
    theirs = b.get_by_role("article").filter(has_text="please confirm the failover")
    expect(theirs.locator(".priority-label")).to_have_text("IMPORTANT")
    theirs.get_by_role("button", name="Acknowledge (0 so far)").click()
    expect(theirs.get_by_role("button", name="Acknowledged (1); select to take it back")).to_be_visible()
    count = mine.get_by_role("button", name="Acknowledgements: 1")
    expect(count).to_be_visible(timeout=30_000)
    count.focus()
    tip = mine.get_by_role("tooltip")
    expect(tip).to_be_visible()
    count.press("Escape")  # hides the names, focus stays
    expect(tip).to_be_hidden()
    expect(count).to_be_focused()
    count.blur()
    count.focus()
    expect(tip).to_be_visible()
    sam_here = north.admin.http.get(f"/api/v4/users/{sam.id}").json()["username"]
    expect(tip).to_contain_text(sam_here)
    expect(tip).to_contain_text("external")
    expect(tip).to_contain_text("South Org")
    shot(a, "priority-ack-remote.png")

    # He takes it back; the removal reaches north too.
    theirs.get_by_role("button", name="Acknowledged (1); select to take it back").click()
    expect(mine.get_by_role("button", name="Acknowledgements: 0")).to_be_visible(timeout=30_000)
