"""Files: upload, download, thumbnails/previews, access, attach to posts, limits and bad input.

Driven through mattermostautodriver (``files.upload_file`` / ``get_file`` …) and raw httpx for the
requests the driver cannot make (several parts, malformed bodies).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mattermostautodriver.exceptions import (
    ContentTooLarge,
    FeatureDisabled,
    InvalidOrMissingParameters,
    NotEnoughPermissions,
    ResourceNotFound,
)
from PIL import Image

from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


@dataclass
class Room:
    team_id: str
    channel_id: str


def make_room(admin: Person, owner: Person, members: list[Person], type_: str = "P") -> Room:
    team = admin.driver.teams.create_team(name=unique("t"), display_name="Files", type="O")
    for p in {p.id: p for p in [owner, *members]}.values():
        admin.driver.teams.add_team_member(team["id"], user_id=p.id)
    ch = owner.driver.channels.create_channel(team_id=team["id"], name=unique("c"), display_name="Files",
                                              type=type_)
    for m in members:
        owner.driver.channels.add_channel_member(ch["id"], user_id=m.id)
    return Room(team["id"], ch["id"])


@pytest.fixture
def room(admin: Person, user: Person, other: Person) -> Room:
    """A private channel of ``user`` with ``other`` as member."""
    return make_room(admin, user, [other])


@pytest.fixture
def outsider(live: LiveServer, admin: Person) -> Person:
    return make_person(live, admin.http)


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    im = Image.new(mode, (width, height))
    im.putdata([((x * 7) % 256, (y * 5) % 256, (x + y) % 256, 200)[:len(mode)]  # type: ignore[misc]
                for y in range(height) for x in range(width)])
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def upload(p: Person, channel_id: str, name: str, data: bytes,
           mime: str = "application/octet-stream") -> dict[str, Any]:
    res: dict[str, Any] = p.driver.files.upload_file(files=(name, data, mime), channel_id=channel_id)
    assert len(res["file_infos"]) == 1
    return res["file_infos"][0]


def raw_upload(p: Person, channel_id: str, parts: list[tuple[str, bytes]], **data: Any) -> httpx.Response:
    files = [("files", (name, content, "application/octet-stream")) for name, content in parts]
    return p.http.post("/api/v4/files", data={"channel_id": channel_id, **data}, files=files)


def handmade_upload(p: Person, channel_id: str, filename: str, content: bytes) -> httpx.Response:
    """A multipart body built by hand: httpx would percent-encode control characters in the name."""
    body = (f'--bnd\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n\r\n'.encode()
            + content + b"\r\n--bnd--\r\n")
    return p.http.post("/api/v4/files", params={"channel_id": channel_id}, content=body,
                       headers={"Content-Type": "multipart/form-data; boundary=bnd"})


def image_of(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def staging_files(live: LiveServer) -> list[str]:
    staging = live.data_dir / "files" / ".staging"
    return os.listdir(staging) if staging.exists() else []


@pytest.fixture
def max_file_size(admin: Person) -> Iterator[int]:
    """Shrink FileSettings.MaxFileSize to 1 KiB through the config API; restore it afterwards."""
    before = admin.driver.system.get_config()["FileSettings"]["MaxFileSize"]
    admin.driver.system.patch_config({"FileSettings": {"MaxFileSize": 1024}})
    try:
        yield 1024
    finally:
        admin.driver.system.patch_config({"FileSettings": {"MaxFileSize": before}})
    assert admin.driver.system.get_config()["FileSettings"]["MaxFileSize"] == before


# --- round trips -----------------------------------------------------------------------------------

def test_plain_file_round_trip(user: Person, room: Room) -> None:
    data = b"hello, files\n" * 1000 + bytes(range(256))
    info = upload(user, room.channel_id, "notes.txt", data, "text/plain")
    assert info["name"] == "notes.txt"
    assert info["extension"] == "txt"
    assert info["size"] == len(data)
    assert info["mime_type"] == "text/plain"
    assert info["has_preview_image"] is False
    assert info["user_id"] == user.id
    assert info["channel_id"] == room.channel_id
    assert info["post_id"] == ""
    r = user.driver.files.get_file(info["id"])
    assert isinstance(r, httpx.Response)
    assert r.content == data
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-disposition"].startswith('attachment; filename="notes.txt"')
    assert r.headers["x-content-type-options"] == "nosniff"
    assert user.driver.files.get_file_info(info["id"]) == info


def test_image_gets_thumbnail_preview_and_mini_preview(user: Person, room: Room) -> None:
    data = png(2400, 1200)
    info = upload(user, room.channel_id, "wide.png", data, "image/png")
    assert (info["width"], info["height"]) == (2400, 1200)
    assert info["has_preview_image"] is True
    assert info["mime_type"] == "image/png"
    assert image_of(base64.b64decode(info["mini_preview"])).size == (16, 16)
    r = user.driver.files.get_file(info["id"])
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    assert r.headers["content-disposition"].startswith("inline")
    thumb = user.driver.files.get_file_thumbnail(info["id"])
    assert thumb.headers["content-type"] == "image/jpeg"
    im = image_of(thumb.content)
    assert (im.format, im.size) == ("JPEG", (120, 60))  # fits inside 120x100, aspect kept
    preview = image_of(user.driver.files.get_file_preview(info["id"]).content)
    assert (preview.format, preview.size) == ("JPEG", (1920, 960))  # at most 1920 wide


def test_small_transparent_image_is_not_enlarged(user: Person, room: Room) -> None:
    info = upload(user, room.channel_id, "dot.png", png(50, 40, "RGBA"), "image/png")
    assert image_of(user.driver.files.get_file_thumbnail(info["id"]).content).size == (50, 40)
    assert image_of(user.driver.files.get_file_preview(info["id"]).content).size == (50, 40)


def test_images_are_recognised_by_content_not_name(user: Person, room: Room) -> None:
    info = upload(user, room.channel_id, "picture.dat", png(30, 20))
    assert info["has_preview_image"] is True
    assert info["mime_type"] == "image/png"
    assert (info["width"], info["height"]) == (30, 20)


def test_plain_file_has_no_thumbnail(user: Person, room: Room) -> None:
    info = upload(user, room.channel_id, "a.bin", b"\x00\x01\x02")
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.files.get_file_thumbnail(info["id"])
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.files.get_file_preview(info["id"])


def test_several_files_with_client_ids_in_one_request(user: Person, room: Room) -> None:
    r = raw_upload(user, room.channel_id, [("one.txt", b"1"), ("two.txt", b"22")], client_ids=["c1", "c2"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["client_ids"] == ["c1", "c2"]
    assert [(f["name"], f["size"]) for f in body["file_infos"]] == [("one.txt", 1), ("two.txt", 2)]


def test_raw_body_upload_with_query_parameters(user: Person, room: Room) -> None:
    data = os.urandom(5000)
    r = user.http.post("/api/v4/files", params={"channel_id": room.channel_id, "filename": "raw.bin"},
                       content=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    info = r.json()["file_infos"][0]
    assert (info["name"], info["size"]) == ("raw.bin", 5000)
    assert user.driver.files.get_file(info["id"]).content == data


# --- access ------------------------------------------------------------------------------------------

def test_non_member_cannot_read_and_unattached_files_are_private(user: Person, other: Person, outsider: Person,
                                                                 room: Room) -> None:
    info = upload(user, room.channel_id, "secret.png", png(40, 40))
    # Before it is posted only the uploader may see it, even inside the channel.
    with pytest.raises(NotEnoughPermissions):
        other.driver.files.get_file_info(info["id"])
    post = user.driver.posts.create_post(channel_id=room.channel_id, message="see file", file_ids=[info["id"]])
    assert post["file_ids"] == [info["id"]]
    assert other.driver.files.get_file(info["id"]).content == user.driver.files.get_file(info["id"]).content
    assert other.driver.files.get_file_info(info["id"])["post_id"] == post["id"]
    for call in (outsider.driver.files.get_file, outsider.driver.files.get_file_info,
                 outsider.driver.files.get_file_thumbnail, outsider.driver.files.get_file_preview):
        with pytest.raises(NotEnoughPermissions):
            call(info["id"])
    assert outsider.http.get(f"/api/v4/files/{info['id']}").status_code == 403
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.posts.get_file_infos_for_post(post["id"])
    got = other.driver.posts.get_file_infos_for_post(post["id"])
    assert [(f["id"], f["post_id"]) for f in got] == [(info["id"], post["id"])]


def test_upload_needs_channel_membership(outsider: Person, room: Room, live: LiveServer) -> None:
    before = staging_files(live)
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.files.upload_file(files=("x.txt", b"data", "text/plain"), channel_id=room.channel_id)
    assert staging_files(live) == before


def test_unknown_file_is_404(user: Person) -> None:
    with pytest.raises(ResourceNotFound):
        user.driver.files.get_file_info("a" * 26)
    assert user.http.get("/api/v4/files/not-an-id/info").status_code == 400


def test_public_links_are_off_by_default(user: Person, room: Room) -> None:
    info = upload(user, room.channel_id, "l.txt", b"link me")
    with pytest.raises(FeatureDisabled):
        user.driver.files.get_file_link(info["id"])


def test_public_link_when_enabled(admin: Person, user: Person, room: Room, live: LiveServer) -> None:
    info = upload(user, room.channel_id, "pub.txt", b"public bytes")
    admin.driver.system.patch_config({"FileSettings": {"EnablePublicLink": True}})
    try:
        with pytest.raises(InvalidOrMissingParameters):  # not attached to a post yet
            user.driver.files.get_file_link(info["id"])
        user.driver.posts.create_post(channel_id=room.channel_id, message="pub", file_ids=[info["id"]])
        link = user.driver.files.get_file_link(info["id"])["link"]
        assert httpx.get(link).content == b"public bytes"
        assert httpx.get(link.replace("?h=", "?h=x")).status_code == 400
    finally:
        admin.driver.system.patch_config({"FileSettings": {"EnablePublicLink": False}})
    assert httpx.get(link).status_code == 501


# --- attaching -------------------------------------------------------------------------------------------

def test_attach_refuses_reused_foreign_and_other_channel_files(admin: Person, user: Person, other: Person,
                                                               room: Room) -> None:
    mine = upload(user, room.channel_id, "m.txt", b"m")
    user.driver.posts.create_post(channel_id=room.channel_id, message="first", file_ids=[mine["id"]])
    with pytest.raises(InvalidOrMissingParameters):  # already attached
        user.driver.posts.create_post(channel_id=room.channel_id, message="again", file_ids=[mine["id"]])
    theirs = upload(other, room.channel_id, "o.txt", b"o")
    with pytest.raises(InvalidOrMissingParameters):  # uploaded by someone else
        user.driver.posts.create_post(channel_id=room.channel_id, message="steal", file_ids=[theirs["id"]])
    elsewhere = make_room(admin, user, [])
    far = upload(user, elsewhere.channel_id, "f.txt", b"f")
    r = user.http.post("/api/v4/posts", json={"channel_id": room.channel_id, "message": "x", "file_ids": [far["id"]]})
    assert r.status_code == 400
    assert r.json()["id"] == "api.post.attach_files.wrong_channel.app_error"
    # The refused post was rolled back with its attachment: the file is still free to use.
    post = user.driver.posts.create_post(channel_id=elsewhere.channel_id, message="ok", file_ids=[far["id"]])
    assert user.driver.files.get_file_info(far["id"])["post_id"] == post["id"]


def test_file_search_by_name(user: Person, room: Room) -> None:
    word = unique("report")
    info = upload(user, room.channel_id, f"{word}-q3.pdf", b"%PDF-1.4 fake")
    unattached = upload(user, room.channel_id, f"{word}-draft.pdf", b"%PDF-1.4 fake")
    user.driver.posts.create_post(channel_id=room.channel_id, message="q3", file_ids=[info["id"]])
    found = user.driver.files.search_files(terms=word, is_or_search=False)
    assert found["order"] == [info["id"]]
    assert unattached["id"] not in found["file_infos"]
    found = user.driver.files.search_files(terms=f"{word} ext:txt", is_or_search=False)
    assert found["order"] == []
    r = user.http.post(f"/api/v4/teams/{room.team_id}/files/search", json={"terms": f"{word} ext:pdf"})
    assert r.status_code == 200
    assert r.json()["order"] == [info["id"]]


# --- limits and bad input ------------------------------------------------------------------------------

def test_oversize_upload_is_413_and_leaves_nothing_behind(user: Person, room: Room, live: LiveServer,
                                                          max_file_size: int) -> None:
    before = staging_files(live)
    with pytest.raises(ContentTooLarge):
        user.driver.files.upload_file(files=("big.bin", b"x" * (max_file_size + 1), "application/octet-stream"),
                                      channel_id=room.channel_id)
    # Far beyond the limit: refused from Content-Length without reading the body into memory.
    r = raw_upload(user, room.channel_id, [("huge.bin", os.urandom(300_000))])
    assert r.status_code == 413
    assert r.json()["id"] == "api.file.upload_file.too_large_detailed.app_error"
    r = user.http.post("/api/v4/files", params={"channel_id": room.channel_id, "filename": "raw.bin"},
                       content=b"y" * 5000)
    assert r.status_code == 413
    assert staging_files(live) == before
    assert upload(user, room.channel_id, "fits.bin", b"z" * max_file_size)["size"] == max_file_size


def test_zero_byte_file_is_refused(user: Person, room: Room) -> None:
    r = raw_upload(user, room.channel_id, [("empty.txt", b"")])
    assert r.status_code == 400
    assert r.json()["id"] == "api.file.upload_file.zero_size.app_error"


def test_non_image_with_image_name_is_refused(user: Person, room: Room) -> None:
    with pytest.raises(InvalidOrMissingParameters) as err:
        upload(user, room.channel_id, "fake.png", b"this is not a png at all")
    assert "not a valid image" in str(err.value)
    r = raw_upload(user, room.channel_id, [("truncated.jpg", png(20, 20)[:40])])
    assert r.status_code == 400
    assert r.json()["id"] == "api.file.upload_file.image_decode.app_error"


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("BMP", "bmp"),
                                          ("TIFF", "tiff"), ("WEBP", "webp")])
def test_damaged_images_never_cause_a_server_error(user: Person, room: Room, fmt: str, ext: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, fmt)
    whole = out.getvalue()
    r = raw_upload(user, room.channel_id, [(f"ok.{ext}", whole)])
    assert r.status_code == 201, r.text
    assert r.json()["file_infos"][0]["has_preview_image"] is True
    for cut in (whole[:len(whole) // 2], whole[:12], whole[:-4] + b"\xff" * 4, whole[:8] + os.urandom(200)):
        r = raw_upload(user, room.channel_id, [(f"bad.{ext}", cut)])
        assert r.status_code in (201, 400), (fmt, r.text)
        if r.status_code == 400:  # random header bytes can also declare more pixels than MaxImageResolution
            assert r.json()["id"] in ("api.file.upload_file.image_decode.app_error",
                                      "api.file.upload_file.large_image_detailed.app_error"), r.text


@pytest.mark.parametrize(("sent", "stored"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\evil.txt", "evil.txt"),
    ("/abs/path/name.txt", "name.txt"),
    ("tricky\u202etxt.exe", "trickytxt.exe"),
    ("bell\x07.txt", "bell.txt"),
])
def test_path_traversal_and_control_characters_are_stripped(user: Person, room: Room, sent: str,
                                                            stored: str) -> None:
    r = handmade_upload(user, room.channel_id, sent, b"data")
    assert r.status_code == 201, r.text
    assert r.json()["file_infos"][0]["name"] == stored


def test_long_names_are_cut_keeping_the_extension(user: Person, room: Room) -> None:
    info = upload(user, room.channel_id, "n" * 400 + ".txt", b"long")
    assert len(info["name"]) == 256
    assert info["name"].endswith("n.txt")


@pytest.mark.parametrize("name", ["..", ".", "../", "\x01\x02"])
def test_names_that_sanitise_to_nothing_are_refused(user: Person, room: Room, name: str) -> None:
    r = handmade_upload(user, room.channel_id, name, b"data")
    assert r.status_code == 400
    assert r.json()["id"] == "api.file.upload_file.bad_filename.app_error"


def test_malformed_upload_requests(user: Person, room: Room) -> None:
    h = user.http
    assert h.post("/api/v4/files", files=[("files", ("a.txt", b"a"))]).status_code == 400  # no channel_id
    r = h.post("/api/v4/files", params={"channel_id": room.channel_id}, content=b"abc")  # raw without filename
    assert r.status_code == 400
    r = h.post("/api/v4/files", content=b"--xx\r\nnot really", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400  # no boundary
    r = h.post("/api/v4/files", params={"channel_id": room.channel_id},
               content=b"--bnd\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nabc",
               headers={"Content-Type": "multipart/form-data; boundary=bnd"})
    assert r.status_code == 400  # body ends before the closing boundary
    assert r.json()["id"] == "api.file.upload_file.malformed.app_error"
    other_channel = "b" * 26
    r = h.post("/api/v4/files", params={"channel_id": other_channel}, data={"channel_id": room.channel_id},
               files=[("files", ("a.txt", b"a"))])
    assert r.status_code == 400  # two different channel ids
    r = raw_upload(user, room.channel_id, [("a.txt", b"a"), ("b.txt", b"b")], client_ids=["only-one"])
    assert r.status_code == 400
    r = raw_upload(user, room.channel_id, [(f"{i}.txt", b"x") for i in range(11)])
    assert r.status_code == 400
    assert r.json()["id"] == "api.file.upload_file.too_many_files.app_error"
    assert h.post("/api/v4/files", data={"channel_id": "nope"}, files=[("files", ("a.txt", b"a"))]).status_code == 400
