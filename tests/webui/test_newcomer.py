"""Issue 19: from two commands to two connected workspaces, in the browser only. Every step a newcomer
takes goes through the UI of fresh ``isthmus serve`` processes; the API is used only to start them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.webui.conftest import PageErrors, shot
from tests.webui.newcomer_lib import Fresh, first_login, fresh_workspace, post


@pytest.fixture
def site_a(tmp_path: Path) -> Iterator[Fresh]:
    site = fresh_workspace(tmp_path / "a")
    yield site
    site.server.stop()


def test_first_run_admin_creates_a_team_and_posts(browser: Browser, site_a: Fresh, page_errors: PageErrors) -> None:
    page = first_login(browser, site_a, page_errors)
    # Without a team there is nothing to browse: the buttons are off instead of showing API errors.
    expect(page.get_by_role("button", name="Browse channels")).to_be_disabled()
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
