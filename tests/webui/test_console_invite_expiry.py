"""The console says when a pending connection's invitation has expired (48 hours after its last code, issue 15
item 7c): "Invitation expired — regenerate it". The browser's clock is moved; the server's is not."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, expect

from tests.webui.conftest import PageErrors, Site, login
from tests.webui.test_connected_workspaces import CONSOLE, row


def test_console_shows_an_expired_invitation(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    r = alpha.admin.http.post("/api/v4/remotecluster", json={
        "name": "delta-org", "display_name": "Delta Org", "default_team_id": alpha.team["id"], "password": "pw-1234"})
    assert r.status_code == 201, r.text
    page = login(browser, alpha, alpha.admin, page_errors, path=CONSOLE)
    expect(row(page, "Delta Org")).to_contain_text("Connection pending")
    page.clock.install(time=time.time() + 49 * 3600)
    page.reload()
    expect(row(page, "Delta Org")).to_contain_text("Invitation expired — regenerate it")
