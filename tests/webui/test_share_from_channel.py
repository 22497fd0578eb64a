"""Share a channel from its own header (issue 15 item 7a): a channel admin holding the shared channel manager
role chooses the workspaces; the header then says "Shared with …" and the channel shows the system message
naming the workspace. Someone without the role is not offered the button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.testlib.clients import unique
from tests.webui.conftest import PageErrors, Site, connect_sites, login, make_site


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site]]:
    """east connected to west (by REST)."""
    east = make_site(Path(tmp_path_factory.mktemp("web")), "east")
    west = make_site(Path(tmp_path_factory.mktemp("web")), "west")
    try:
        connect_sites(east, west)
        yield east, west
    finally:
        east.live.stop()
        west.live.stop()


def test_channel_admin_with_the_role_shares_from_the_channel(browser: Browser, pair: tuple[Site, Site],
                                                             page_errors: PageErrors) -> None:
    east, west = pair
    carl, dave = east.person(unique("carl")), east.person(unique("dave"))
    r = east.admin.http.put(f"/api/v4/users/{carl.id}/roles", json={"roles": "system_user shared_channel_manager"})
    assert r.status_code == 200, r.text
    room = east.channel(carl, "Carl Room")  # carl made it: its channel admin
    r = carl.http.post(f"/api/v4/channels/{room['id']}/members", json={"user_id": dave.id})
    assert r.status_code == 201, r.text

    d_page = login(browser, east, dave, page_errors)
    d_page.get_by_role("link", name=re.compile("Carl Room")).click()
    expect(d_page.get_by_role("heading", level=1, name=re.compile("Carl Room"))).to_be_visible()
    expect(d_page.get_by_role("button", name="Share with workspaces")).to_have_count(0)

    page = login(browser, east, carl, page_errors)
    page.get_by_role("link", name=re.compile("Carl Room")).click()
    page.get_by_role("button", name="Share with workspaces").click()
    dialog = page.get_by_role("dialog", name="Share Carl Room")
    dialog.get_by_role("group", name="Share with these workspaces").get_by_label("West Org").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("header.channel-header .shared-with")).to_have_text(re.compile("Shared with West Org"))
    expect(page.get_by_text("This channel is now shared with West Org.")).to_be_visible()
    r = west.admin.http.get(f"/api/v4/channels/{room['id']}")
    for _ in range(50):
        if r.status_code == 200:
            break
        page.wait_for_timeout(200)
        r = west.admin.http.get(f"/api/v4/channels/{room['id']}")
    assert r.status_code == 200 and r.json()["display_name"] == "Carl Room", r.text
