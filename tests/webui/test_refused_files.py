"""Issue 13 in the browser: a workspace that accepts smaller files than the sender. The person attaching a file
it will not take is told before sending, naming the workspace; the receiving channel shows that the file was
not transferred and why; the sender's System Console shows the item not delivered, in words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.testlib.clients import unique
from tests.webui.conftest import PageErrors, Site, connect_sites, login, make_site
from tests.webui.test_connected_workspaces import join_channel

LIMIT = 2048


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Site, str]]:
    """north (default limits) connected to south (files up to 2 KB), by REST."""
    north = make_site(Path(tmp_path_factory.mktemp("web")), "north")
    south = make_site(Path(tmp_path_factory.mktemp("web")), "south")
    try:
        r = south.admin.http.put("/api/v4/config/patch", json={"FileSettings": {"MaxFileSize": LIMIT}})
        assert r.status_code == 200, r.text
        yield north, south, connect_sites(north, south)
    finally:
        north.live.stop()
        south.live.stop()


def test_a_file_south_refuses_is_announced_shown_and_recorded(browser: Browser, pair: tuple[Site, Site, str],
                                                                page_errors: PageErrors, tmp_path: Path) -> None:
    north, south, remote_id = pair
    alice = north.person(unique("alice"))
    bob = south.person(unique("bob"))
    room = north.channel(north.admin, "Reports Room")
    r = north.admin.http.post(f"/api/v4/channels/{room['id']}/members", json={"user_id": alice.id})
    assert r.status_code == 201, r.text
    r = north.admin.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{room['id']}/invite")
    assert r.status_code == 200, r.text

    # 1. Alice attaches a 6 KB file: the composer says it will not reach South Org (the post still goes).
    a_user = login(browser, north, alice, page_errors)
    a_user.get_by_role("link", name=re.compile("Reports Room")).click()
    big = tmp_path / "report.pdf"
    big.write_bytes(b"%" * (3 * LIMIT))
    expect(a_user.get_by_text("Shared with South Org", exact=True)).to_be_visible()
    a_user.locator("form.composer input[type=file]").set_input_files(str(big))
    warning = a_user.get_by_role("list", name="Attachments").get_by_role("status").filter(has_text="will not reach")
    expect(warning).to_have_text(re.compile(r"report\.pdf \(6\.0 KB\) will not reach South Org \(limit 2\.0 KB\)"))
    expect(a_user.get_by_role("listitem").filter(has_text="report.pdf").get_by_text("Ready")).to_be_visible()
    a_user.get_by_role("textbox", name="Write to Reports Room").fill("the quarterly report")
    a_user.keyboard.press("Enter")
    expect(a_user.get_by_role("article").filter(has_text="the quarterly report")).to_be_visible()
    north.post(alice, room["id"], "text after the report")

    # 2. Bob on south sees both posts; the file's post says the file was not transferred and why.
    b_user = login(browser, south, bob, page_errors)
    join_channel(b_user, "Reports Room")
    expect(b_user.get_by_role("article").filter(has_text="text after the report")).to_be_visible()
    post = b_user.get_by_role("article").filter(has_text="the quarterly report")
    expect(post.get_by_role("list", name="Files not transferred")).to_have_text(
        "A file (report.pdf, 6.0 KB) was not transferred: this workspace accepts files up to 2.0 KB")

    # 3. North's admin sees it in the System Console: the list counts it, the connection's page says what.
    a_admin = login(browser, north, north.admin, page_errors, path="/console/connected-workspaces")
    listed = a_admin.get_by_role("row").filter(has=a_admin.get_by_role("rowheader").filter(has_text="South Org"))
    listed.get_by_role("link", name="1 item not delivered").click()
    expect(a_admin.get_by_text("1 item not delivered")).to_be_visible()
    expect(a_admin.get_by_role("list", name="Most recent items not delivered")).to_contain_text(
        "report.pdf (6 KB) was not delivered to South Org: it accepts files up to 2 KB")
    expect(a_admin.get_by_text("Accepts files up to 2.0 KB")).to_be_visible()
