"""FileSettings.MaxImageResolution: an image above the limit is refused from its header, before any pixel is
decoded (issue 18, Low: a 7680x4320 PNG cost 1.6 s CPU and ~0.5 GB), for attachments and profile pictures."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import pytest

from tests.api.test_files import Room, make_room, png
from tests.testlib.clients import Person

LIMIT = 20_000


@pytest.fixture
def small_limit(admin: Person) -> Iterator[int]:
    before = admin.driver.system.get_config()["FileSettings"]
    admin.driver.system.patch_config({"FileSettings": {"MaxImageResolution": LIMIT, "MaxImageDecoderConcurrency": 1}})
    try:
        yield LIMIT
    finally:
        admin.driver.system.patch_config({"FileSettings": {
            "MaxImageResolution": before["MaxImageResolution"],
            "MaxImageDecoderConcurrency": before["MaxImageDecoderConcurrency"]}})


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and whose pixel data is a few bytes of nothing:
    refusing it with the size error (not a decode error) shows the check ran before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 8))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def test_default_limit_is_mattermosts(admin: Person) -> None:
    files = admin.driver.system.get_config()["FileSettings"]
    assert files["MaxImageResolution"] == 33_177_600 and files["MaxImageDecoderConcurrency"] == -1


def test_attachment_above_the_limit_is_refused(admin: Person, user: Person, small_limit: int) -> None:
    room: Room = make_room(admin, user, [])
    ok = user.http.post("/api/v4/files", data={"channel_id": room.channel_id},
                        files=[("files", ("ok.png", png(200, 100), "image/png"))])
    assert ok.status_code == 201, ok.text
    for data in (png(201, 100), header_only_png(100_000, 100_000)):
        r = user.http.post("/api/v4/files", data={"channel_id": room.channel_id},
                           files=[("files", ("big.png", data, "image/png"))])
        assert r.status_code == 400, r.text
        assert r.json()["id"] == "api.file.upload_file.large_image_detailed.app_error"
        assert str(small_limit) in r.json()["message"]


def test_profile_picture_above_the_limit_is_refused(user: Person, small_limit: int) -> None:
    for data in (png(201, 100), header_only_png(100_000, 100_000)):
        r = user.http.post(f"/api/v4/users/{user.id}/image", files={"image": ("big.png", io.BytesIO(data))})
        assert r.status_code == 400, r.text
        assert r.json()["id"] == "api.user.upload_profile_user.too_large.app_error"
    r = user.http.post(f"/api/v4/users/{user.id}/image", files={"image": ("ok.png", io.BytesIO(png(200, 100)))})
    assert r.status_code == 200, r.text
