"""Custom emoji: upload (multipart image + emoji JSON), read, search, image, delete, events, refusals."""

from __future__ import annotations

import io
import json

from PIL import Image

from tests.realtime.wsclient import ws_for
from tests.testlib.clients import Person, unique
from tests.testlib.live import LiveServer


def _png(side: int = 64, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "PNG")
    return out.getvalue()


def _upload(p: Person, name: str, image: bytes, **meta: str) -> tuple[int, dict[str, object]]:
    r = p.http.post("/api/v4/emoji", files={"image": ("e.png", image, "image/png")},
                    data={"emoji": json.dumps({"name": name, "creator_id": p.id, **meta})})
    return r.status_code, r.json()


def test_upload_read_search_delete(live: LiveServer, user: Person, other: Person) -> None:
    ws = ws_for(live, other)
    name = unique("party").lower()
    status, made = _upload(user, name, _png())
    assert status == 201, made
    assert made["name"] == name and made["creator_id"] == user.id
    assert json.loads(ws.wait_event("emoji_added")["data"]["emoji"])["name"] == name
    assert other.http.get(f"/api/v4/emoji/{made['id']}").json()["name"] == name
    assert other.http.get(f"/api/v4/emoji/name/{name}").json()["id"] == made["id"]
    assert [e["id"] for e in other.http.post("/api/v4/emoji/names", json=[name, "nope"]).json()] == [made["id"]]
    assert made["id"] in [e["id"] for e in other.http.get("/api/v4/emoji", params={"per_page": 200}).json()]
    assert [e["name"] for e in other.http.post("/api/v4/emoji/search", json={"term": name[:6], "prefix_only": True})
            .json()].count(name) == 1
    assert name in [e["name"] for e in other.http.get("/api/v4/emoji/autocomplete", params={"name": name[:5]}).json()]
    img = other.http.get(f"/api/v4/emoji/{made['id']}/image")
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(img.content)).size == (64, 64)
    assert other.http.delete(f"/api/v4/emoji/{made['id']}").status_code == 403  # not theirs
    assert user.http.delete(f"/api/v4/emoji/{made['id']}").status_code == 200
    assert other.http.get(f"/api/v4/emoji/{made['id']}").status_code == 404
    status, again = _upload(other, name, _png())  # the name is free again
    assert status == 201, again
    ws.close()


def test_large_images_are_scaled_and_bad_ones_refused(user: Person, admin: Person) -> None:
    status, made = _upload(user, unique("big").lower(), _png(500))
    assert status == 201, made
    img = user.http.get(f"/api/v4/emoji/{made['id']}/image").content
    assert max(Image.open(io.BytesIO(img)).size) == 128
    taken = str(made["name"])
    for name, image in ((taken, _png()), ("Upper", _png()), ("", _png()), ("x" * 65, _png()),
                        (unique("junk").lower(), b"not an image"), (unique("huge").lower(), _png(1100))):
        status, body = _upload(user, name, image)
        assert status == 400, (name, body)
        assert {"id", "message", "status_code", "request_id"} <= body.keys()
    r = user.http.post("/api/v4/emoji", files={"image": ("e.png", _png(), "image/png")}, data={"emoji": "{"})
    assert r.status_code == 400
    r = user.http.post("/api/v4/emoji", data={"emoji": json.dumps({"name": "noimage"})})
    assert r.status_code == 400
    r = user.http.post("/api/v4/emoji", files={"image": ("e.png", b"\0" * (1 << 20) + b"x", "image/png")},
                       data={"emoji": json.dumps({"name": "toolarge"})})
    assert r.status_code == 413
    assert admin.http.delete(f"/api/v4/emoji/{made['id']}").status_code == 200  # admins may delete any


def test_turned_off(admin: Person, user: Person) -> None:
    admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"EnableCustomEmoji": False}})
    try:
        status, body = _upload(user, unique("off").lower(), _png())
        assert status == 501 and "EnableCustomEmoji" in str(body["message"])
        assert user.http.get("/api/v4/config/client").json()["EnableCustomEmoji"] == "false"
    finally:
        admin.http.put("/api/v4/config/patch", json={"ServiceSettings": {"EnableCustomEmoji": True}})
