"""A post's client-set ``props.override_username`` never names its author in the web client (issue 18, Low).

Mattermost shows the override only when ServiceSettings.EnablePostUsernameOverride is on and the post came from
a webhook (``props.from_webhook == "true"``, a prop the server never takes from a client). The client used it
as the author's name whenever the author's profile was not loaded yet: here the profile look-up is held back
(the page's ``POST /users/ids`` answers an empty list), which is what a slow or failed look-up looks like."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.webui.conftest import PageErrors, Site, login


@pytest.fixture
def override_on(alpha: Site) -> Iterator[None]:
    """The server allows overrides (for webhook posts): a client's own post still may not use one."""
    r = alpha.admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"EnablePostUsernameOverride": True}})
    assert r.status_code == 200, r.text
    yield
    r = alpha.admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"EnablePostUsernameOverride": False}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("setting", ["off", "on"])
def test_client_set_override_is_not_the_authors_name(browser: Browser, alpha: Site, page_errors: PageErrors,
                                                    request: pytest.FixtureRequest, setting: str) -> None:
    if setting == "on":
        request.getfixturevalue("override_on")
    mallory, reader = alpha.person(), alpha.person()
    room = alpha.channel(mallory, f"Override Room {setting}")
    r = mallory.http.post(f"/api/v4/channels/{room['id']}/members", json={"user_id": reader.id})
    assert r.status_code == 201, r.text
    post = alpha.post(mallory, room["id"], "hello from the admin team",
                      props={"override_username": "System Administrator", "from_webhook": "true"})
    assert "from_webhook" not in (post.get("props") or {})  # the server drops the client's claim

    page = login(browser, alpha, reader, page_errors)

    def no_profiles(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body="[]")

    page.route("**/api/v4/users/ids", no_profiles)
    page.get_by_role("link", name=re.compile(f"Override Room {setting}")).click()
    article = page.get_by_role("article").filter(has_text="hello from the admin team")
    expect(article).to_be_visible()
    expect(article.locator(".author-name")).not_to_have_text("System Administrator")
    assert "System Administrator" not in article.inner_text()

    page.unroute("**/api/v4/users/ids")
    page.reload()
    page.get_by_role("link", name=re.compile(f"Override Room {setting}")).click()
    article = page.get_by_role("article").filter(has_text="hello from the admin team")
    expect(article.locator(".author-name")).to_have_text(mallory.username)
