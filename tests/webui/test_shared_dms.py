"""The web client's "Direct message" picker and shared DMs (issue 15 item 3): on a workspace with
``EnableSharedChannelsDMs`` off, a person of a connected workspace is listed with a disabled "Message" button and
the reason in words (what to turn on); where the flag is on, the button opens the DM, which is offered to the other
workspace, or is refused there and says why in the conversation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.webui.conftest import PageErrors, Site, connect_sites, login, make_site

DMS_ON = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS": "true"}


def _until(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def _room_both_orgs(north: Site, south: Site) -> dict[str, Any]:
    """The two sites connected, and north's channel "Both orgs" shared with south (it has arrived there)."""
    remote_id = connect_sites(north, south)
    room = north.channel(north.admin, "Both orgs")
    _until(lambda: north.admin.http.post(
        f"/api/v4/remotecluster/{remote_id}/channels/{room['id']}/invite").status_code == 200)
    _until(lambda: south.admin.http.get(f"/api/v4/channels/{room['id']}").status_code == 200)
    return room


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Site, Site]]:
    north = make_site(tmp_path, "north", {})  # shared DMs off (the default)
    south = make_site(tmp_path, "south", DMS_ON)
    try:
        yield north, south
    finally:
        north.live.stop()
        south.live.stop()


def test_dm_picker_says_why_a_remote_person_cannot_be_messaged(browser: Browser, pair: tuple[Site, Site],
                                                               page_errors: PageErrors) -> None:
    north, south = pair
    room = _room_both_orgs(north, south)
    south.post(south.admin, room["id"], "hello from south")
    north.post(north.admin, room["id"], "hello from north")
    _until(lambda: north.admin.http.get(f"/api/v4/users/{south.admin.id}").status_code == 200)
    _until(lambda: south.admin.http.get(f"/api/v4/users/{north.admin.id}").status_code == 200)
    remote_name = north.admin.http.get(f"/api/v4/users/{south.admin.id}").json()["username"]

    # north: the button is off, and the reason says what to turn on
    page = login(browser, north, north.admin, page_errors)
    page.get_by_role("button", name="Write a direct message").click()
    dialog = page.get_by_role("dialog", name="Direct message")
    dialog.get_by_label("Find people").fill("adminsouth")
    button = dialog.get_by_role("button", name=f"Message {remote_name}")
    expect(button).to_be_disabled()
    expect(dialog).to_contain_text("EnableSharedChannelsDMs")
    expect(dialog).to_contain_text("South Org")

    # south: the flag is on, so its admin can message north's admin; the DM reaches north
    page = login(browser, south, south.admin, page_errors)
    page.get_by_role("button", name="Write a direct message").click()
    dialog = page.get_by_role("dialog", name="Direct message")
    dialog.get_by_label("Find people").fill("adminnorth")
    north_name = south.admin.http.get(f"/api/v4/users/{north.admin.id}").json()["username"]
    button = dialog.get_by_role("button", name=f"Message {north_name}")
    expect(button).to_be_enabled()
    button.click()
    box = page.get_by_role("textbox", name=f"Write to {north_name}")
    box.fill("hi north")
    box.press("Enter")
    expect(page.get_by_role("article").filter(has_text="hi north")).to_be_visible()
    # north has shared DMs off, so it refuses the invitation, and south's admin is told why in the DM itself
    expect(page.get_by_role("article").filter(has_text="EnableSharedChannelsDMs")).to_be_visible()
    assert not [c for c in north.admin.http.get(f"/api/v4/users/{north.admin.id}/channels").json()
                if c["type"] == "D" and c["shared"]]


def test_a_refusal_that_comes_back_before_the_dm_is_open_is_shown_when_it_opens(
        browser: Browser, pair: tuple[Site, Site], page_errors: PageErrors) -> None:
    """The refusal is an ephemeral message (the server keeps none): a view opened after it arrived still shows it."""
    north, south = pair
    room = _room_both_orgs(north, south)
    north.post(north.admin, room["id"], "hello from north")  # south learns north's admin
    _until(lambda: south.admin.http.get(f"/api/v4/users/{north.admin.id}").status_code == 200)
    north_name = south.admin.http.get(f"/api/v4/users/{north.admin.id}").json()["username"]
    page = login(browser, south, south.admin, page_errors)
    expect(page.get_by_role("region", name="Town Square")).to_be_visible()

    r = south.admin.http.post("/api/v4/channels/direct", json=[south.admin.id, north.admin.id])
    assert r.status_code == 201, r.text
    dm = r.json()["id"]
    # north refuses (shared DMs off there): the invite is withdrawn, so the DM lists no workspace any more
    _until(lambda: south.admin.http.get(f"/api/v4/sharedchannels/{dm}/remotes").json() == [])
    expect(page.get_by_role("region", name="Town Square")).not_to_contain_text("EnableSharedChannelsDMs")

    page.get_by_role("navigation", name="Channels").get_by_role("link", name=north_name).click()
    region = page.get_by_role("region", name=north_name)
    expect(region.get_by_role("article").filter(has_text="EnableSharedChannelsDMs")).to_be_visible()
    expect(region).to_contain_text("North Org")
