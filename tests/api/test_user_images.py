"""Profile pictures: generated default, upload/reset through mattermostautodriver, caching and bad input."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions, ResourceNotFound
from PIL import Image

from tests.api.channel_support import captured_events
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer

# Mattermost's default-avatar palette; the colour is picked by FNV-1a (32 bit) of the user id.
PALETTE = [(197, 8, 126), (227, 207, 18), (28, 181, 105), (35, 188, 224), (116, 49, 196), (197, 19, 19),
           (250, 134, 6), (123, 201, 71)]


def fnv1a(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) % 2**32
    return h


def striped(fmt: str = "JPEG") -> bytes:
    """300x100: red | green | blue thirds. A centre-crop keeps only the green."""
    im = Image.new("RGB", (300, 100), (255, 0, 0))
    im.paste((0, 200, 0), (100, 0, 200, 100))
    im.paste((0, 0, 255), (200, 0, 300, 100))
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


def noise_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def decode(r: httpx.Response) -> Image.Image:
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"] == "image/png"
    im = Image.open(io.BytesIO(r.content))
    assert (im.format, im.size) == ("PNG", (128, 128))
    return im.convert("RGB")


def blob_path(live: LiveServer, user_id: str) -> str:
    return str(live.data_dir / "files" / "users" / user_id / "profile.png")


@pytest.fixture
def max_file_size(admin: Person) -> Iterator[int]:
    before = admin.driver.system.get_config()["FileSettings"]["MaxFileSize"]
    admin.driver.system.patch_config({"FileSettings": {"MaxFileSize": 2048}})
    try:
        yield 2048
    finally:
        admin.driver.system.patch_config({"FileSettings": {"MaxFileSize": before}})


def test_default_image_is_initials_on_the_users_colour(user: Person, other: Person) -> None:
    r = user.driver.users.get_profile_image(other.id)
    im = decode(r)
    expected = PALETTE[fnv1a(other.id.encode()) % len(PALETTE)]
    assert im.getpixel((2, 2)) == expected and im.getpixel((125, 125)) == expected
    assert any(im.getpixel((x, y)) == (255, 255, 255) for x in range(40, 88) for y in range(40, 88))
    again = user.driver.users.get_default_profile_image(other.id)
    assert again.content == r.content
    assert r.headers["etag"] and "last-modified" not in r.headers


def test_upload_crops_scales_stores_and_announces(live: LiveServer, user: Person, other: Person) -> None:
    with captured_events(live) as seen:
        assert user.driver.users.set_profile_image(user.id, image=("me.jpg", striped(), "image/jpeg")) == \
            {"status": "OK"}
    me = user.driver.users.get_user("me")
    assert me["last_picture_update"] > 0
    updated = [e for e in seen if e.kind == "user_updated"]
    assert [e.data["user"]["id"] for e in updated] == [user.id]
    assert updated[0].data["user"]["last_picture_update"] == me["last_picture_update"]
    assert updated[0].data["user"]["notify_props"] == {}  # broadcast to everyone: sanitized
    assert os.path.isfile(blob_path(live, user.id))
    r = other.driver.users.get_profile_image(user.id, _=me["last_picture_update"])
    im = decode(r)
    for xy in ((3, 3), (64, 64), (124, 124)):
        red, green, blue = im.getpixel(xy)  # type: ignore[misc]
        assert green > 150 and red < 60 and blue < 60, (xy, im.getpixel(xy))
    assert r.headers["etag"] == str(me["last_picture_update"])
    assert "max-age=86400" in r.headers["cache-control"]
    default = other.driver.users.get_default_profile_image(user.id)
    assert decode(default).getpixel((2, 2)) == PALETTE[fnv1a(user.id.encode()) % len(PALETTE)]


def test_conditional_gets_answer_304(user: Person) -> None:
    user.driver.users.set_profile_image("me", image=("p.png", striped("PNG"), "image/png"))
    first = user.http.get(f"/api/v4/users/{user.id}/image")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'W/"{etag}"'}, {"If-Modified-Since": modified}):
        r = user.http.get(f"/api/v4/users/{user.id}/image", headers=headers)
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag, headers
    stale = user.http.get(f"/api/v4/users/{user.id}/image", headers={"If-None-Match": "1"})
    assert stale.status_code == 200 and stale.content == first.content
    user.driver.users.set_profile_image("me", image=("p.png", striped("PNG"), "image/png"))
    after = user.http.get(f"/api/v4/users/{user.id}/image", headers={"If-None-Match": etag})
    assert after.status_code == 200 and int(after.headers["etag"]) > int(etag)


def test_reset_goes_back_to_default(live: LiveServer, user: Person) -> None:
    user.driver.users.set_profile_image(user.id, image=("me.jpg", striped(), "image/jpeg"))
    assert user.driver.users.set_default_profile_image(user.id) == {"status": "OK"}
    assert user.driver.users.get_user("me")["last_picture_update"] == 0
    assert not os.path.exists(blob_path(live, user.id))
    current = user.driver.users.get_profile_image(user.id)
    assert current.content == user.driver.users.get_default_profile_image(user.id).content


def test_admin_may_change_others_but_users_may_not(live: LiveServer, admin: Person, user: Person,
                                                   other: Person) -> None:
    before = other.driver.users.get_profile_image(other.id).content
    with pytest.raises(NotEnoughPermissions):
        user.driver.users.set_profile_image(other.id, image=("x.jpg", striped(), "image/jpeg"))
    with pytest.raises(NotEnoughPermissions):
        user.driver.users.set_default_profile_image(other.id)
    assert other.driver.users.get_user("me")["last_picture_update"] == 0
    assert other.driver.users.get_profile_image(other.id).content == before
    admin.driver.users.set_profile_image(other.id, image=("x.jpg", striped(), "image/jpeg"))
    assert other.driver.users.get_user("me")["last_picture_update"] > 0
    admin.driver.users.set_default_profile_image(other.id)
    assert other.driver.users.get_user("me")["last_picture_update"] == 0


def _error(r: httpx.Response, status: int, error_id: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert body["status_code"] == status and body["request_id"]
    if error_id:
        assert body["id"] == error_id
    return body


def test_non_images_and_malformed_uploads_are_400(user: Person) -> None:
    url = f"/api/v4/users/{user.id}/image"
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.users.set_profile_image(user.id, image=("a.png", b"not an image at all", "image/png"))
    truncated = striped("PNG")[:200]
    _error(user.http.post(url, files={"image": ("t.png", truncated, "image/png")}), 400)
    _error(user.http.post(url, files={"picture": ("a.png", striped("PNG"), "image/png")}), 400,
           "api.user.upload_profile_user.no_file.app_error")
    _error(user.http.post(url, data={"image": "text field"}), 400)
    _error(user.http.post(url, json={"image": "x"}), 400, "api.user.upload_profile_user.parse.app_error")
    _error(user.http.post(url, content=b"--b\r\ngarbage", headers={"Content-Type": "multipart/form-data; boundary=b"}),
           400)
    assert user.driver.users.get_user("me")["last_picture_update"] == 0


def test_oversize_upload_is_413(user: Person, max_file_size: int) -> None:
    url = f"/api/v4/users/{user.id}/image"
    # Just over the limit (the part itself is measured) and far over it (refused from Content-Length).
    for side in (40, 100):
        big = noise_png(side)
        assert len(big) > max_file_size
        _error(user.http.post(url, files={"image": ("big.png", big, "image/png")}), 413,
               "api.user.upload_profile_user.too_large.app_error")

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        yield b"--bnd\r\nContent-Disposition: form-data; name=\"image\"; filename=\"b.png\"\r\n\r\n"
        for _ in range(64):
            yield os.urandom(1024)
        yield b"\r\n--bnd--\r\n"

    r = user.http.post(url, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=bnd"})
    _error(r, 413, "api.user.upload_profile_user.too_large.app_error")
    assert user.driver.users.get_user("me")["last_picture_update"] == 0


def test_bad_ids_and_missing_auth(live: LiveServer, user: Person) -> None:
    with pytest.raises(ResourceNotFound):
        user.driver.users.get_profile_image("q" * 26)
    _error(user.http.get("/api/v4/users/not-an-id/image"), 400)
    _error(user.http.delete("/api/v4/users/not-an-id/image"), 400)
    _error(httpx.get(f"{live.url}/api/v4/users/{user.id}/image"), 401)
    _error(httpx.post(f"{live.url}/api/v4/users/{user.id}/image", files={"image": ("a.png", b"x", "image/png")}),
           401)
