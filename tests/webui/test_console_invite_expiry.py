"""The console says when a pending connection's invitation has expired (48 hours after its last code, issue 15
item 7c): "Invitation expired — regenerate it". The browser's clock is moved; the server's is not."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, expect

from tests.webui.conftest import PageErrors, Site, login
from tests.webui.test_connected_workspaces import CONSOLE, row


def test_console_shows_an_expired_invitation(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    r = alpha.admin.http.post("/api/v4/remotecluster", json={
        "name": "expiry-org", "display_name": "Expiry Org", "default_team_id": alpha.team["id"], "password": "pw-1234"})
    assert r.status_code == 201, r.text
    page = login(browser, alpha, alpha.admin, page_errors, path=CONSOLE)
    expect(row(page, "Expiry Org")).to_contain_text("Connection pending")
    page.clock.install(time=time.time() + 49 * 3600)
    page.reload()
    expect(row(page, "Expiry Org")).to_contain_text("Invitation expired — regenerate it")


def test_console_edits_the_profile_field_policy(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    """Issue 15 item 8b: the connection page says which profile fields are sent; email is off by default."""
    r = alpha.admin.http.post("/api/v4/remotecluster", json={
        "name": "policy-org", "display_name": "Policy Org", "default_team_id": alpha.team["id"],
        "password": "pw-1234"})
    assert r.status_code == 201, r.text
    remote_id = r.json()["remote_cluster"]["remote_id"]
    page = login(browser, alpha, alpha.admin, page_errors, path=CONSOLE)
    page.get_by_role("button", name="More actions for Policy Org").click()
    page.get_by_role("menuitem", name="Edit").click()
    policy = page.get_by_role("group", name="Profile fields sent to this workspace")
    expect(policy.get_by_role("checkbox", name="Email address")).not_to_be_checked()
    expect(policy.get_by_role("checkbox", name="Nickname")).to_be_checked()
    policy.get_by_role("checkbox", name="Email address").check()
    policy.get_by_role("checkbox", name="Position").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    rc = alpha.admin.http.get(f"/api/v4/remotecluster/{remote_id}").json()
    assert (rc["share_email"], rc["share_full_name"], rc["share_nickname"], rc["share_position"]) == (
        True, True, True, False)
