"""Custom emoji in the browser (issue 15 item 5, seed FAQ): a :name: of an emoji this server has is shown as its
image (looked up by name, drawn from /api/v4/emoji/{id}/image) in messages and reactions; a name it does not have
(an emoji of a connected workspace) stays ":name:" text; an emoji created while the page is open is drawn from
the next message on (the emoji_added event), even though the page had looked the name up before."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Browser, Locator, expect

from tests.testlib.clients import Person, unique
from tests.webui.conftest import PageErrors, Site, login, shot


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(out, "PNG")
    return out.getvalue()


def _create(who: Person, name: str) -> str:
    r = who.http.post("/api/v4/emoji", files={"image": ("e.png", _png((200, 40, 120)), "image/png")},
                      data={"emoji": f'{{"name": "{name}"}}'})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _drawn(img: Locator) -> None:
    """The image really loaded (not a broken-image icon)."""
    expect(img).to_be_visible()
    img.evaluate("(el) => el.complete || new Promise((ok) => el.addEventListener('load', ok, { once: true }))")
    assert img.evaluate("(el) => el.naturalWidth") == 32


def test_custom_emoji_as_images_and_missing_ones_as_names(browser: Browser, alpha: Site,
                                                          page_errors: PageErrors) -> None:
    erin, finn = alpha.person(unique("erin")), alpha.person(unique("finn"))
    room = alpha.channel(erin, "Emoji Room")
    r = erin.http.post(f"/api/v4/channels/{room['id']}/members", json={"user_id": finn.id})
    assert r.status_code == 201, r.text
    parrot, missing, later = unique("parrot").lower(), unique("elsewhere").lower(), unique("later").lower()
    parrot_id = _create(erin, parrot)
    post = alpha.post(erin, room["id"], f"shipped :{parrot}: (and :{missing}: from the other workspace) :{later}:")
    for name in (parrot, missing):
        r = finn.http.post("/api/v4/reactions", json={"user_id": finn.id, "post_id": post["id"], "emoji_name": name})
        assert r.status_code == 200, r.text

    page = login(browser, alpha, finn, page_errors)
    page.get_by_role("link", name=re.compile("Emoji Room")).click()
    article = page.get_by_role("article").filter(has_text="shipped")
    message = article.locator(".post-message")
    img = message.get_by_role("img", name=f":{parrot}:")
    _drawn(img)
    assert img.get_attribute("src") == f"/api/v4/emoji/{parrot_id}/image"
    expect(message).to_contain_text(f":{missing}:")  # not on this server: its name, as text
    expect(message).to_contain_text(f":{later}:")
    expect(message.locator("img")).to_have_count(1)

    reactions = article.get_by_role("group", name="Reactions")
    with_image = reactions.get_by_role("button", name=re.compile(f"^{parrot} reaction"))
    _drawn(with_image.locator("img.emoji-custom"))
    without = reactions.get_by_role("button", name=re.compile(f"^{missing} reaction"))
    expect(without).to_contain_text(f":{missing}:")
    expect(without.locator("img")).to_have_count(0)
    shot(page, "custom-emoji.png")

    # Created while the page is open (this page already knows the name as missing): the next message draws it.
    later_id = _create(erin, later)
    alpha.post(erin, room["id"], f"now :{later}: exists")
    fresh = page.get_by_role("article").filter(has_text="exists").locator(".post-message")
    later_img = fresh.get_by_role("img", name=f":{later}:")
    _drawn(later_img)
    assert later_img.get_attribute("src") == f"/api/v4/emoji/{later_id}/image"
