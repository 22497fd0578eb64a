"""Global user sync sends profile pictures (issue 15 item 1, §8.3 with §6.5's picture push): a person's uploaded
picture reaches a connected workspace with the profile, without any shared channel; a changed picture travels
again, an unchanged one does not (only when ``last_picture_update`` moved past the connection's cursor), and a
person without an uploaded picture gets no push."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import Person, person, share_node
from tests.testlib.sharing import eventually as _eventually

GLOBAL = {"MM_FEATUREFLAGS_ENABLESYNCALLUSERSFORREMOTECLUSTER": "true",
          "MM_CONNECTEDWORKSPACESSETTINGS_GLOBALUSERSYNCBATCHSIZE": "2"}


async def eventually(predicate: Any) -> None:
    await _eventually(predicate, within=45)


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(out, "PNG")
    return out.getvalue()


async def _upload(p: Person, color: tuple[int, int, int]) -> None:
    r = await p.http.post(f"/api/v4/users/{p.user_id}/image", files={"image": ("me.png", _png(color), "image/png")})
    assert r.status_code == 200, r.text


async def _user(node: Node, user_id: str) -> dict[str, Any] | None:
    r = await node.http.get(f"/api/v4/users/{user_id}")
    return r.json() if r.status_code == 200 else None  # type: ignore[no-any-return]


async def _picture_color(node: Node, user_id: str) -> tuple[int, ...] | None:
    """The colour of the user's uploaded picture as ``node`` serves it (None: no uploaded picture there)."""
    user = await _user(node, user_id)
    if user is None or not user["last_picture_update"]:
        return None
    r = await node.http.get(f"/api/v4/users/{user_id}/image")
    assert r.status_code == 200, r.text
    pixel = Image.open(io.BytesIO(r.content)).convert("RGB").getpixel((32, 32))
    assert isinstance(pixel, tuple)
    return pixel


def _pushes(cluster: Cluster, to: Node, user_id: str) -> int:
    return sum(1 for req in cluster.net.log if req.url.host == to.host and req.method == "POST"
               and req.url.path == f"/api/v4/remotecluster/{user_id}/image")


async def test_pictures_travel_with_global_user_sync(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha", **GLOBAL), await share_node(cluster, "beta", **GLOBAL)
    ann, zed = await person(a, "ann"), await person(a, "zed")
    others = [await person(a) for _ in range(3)]  # so that the pictures are not all in the first batch
    await _upload(ann, (200, 30, 30))
    await cluster.connect(a, b)

    async def ann_red_on_b() -> bool:
        return await _picture_color(b, ann.user_id) == (200, 30, 30)

    await eventually(ann_red_on_b)
    for p in [zed, *others]:  # profiles arrive, and without an uploaded picture nothing is pushed for them
        await eventually(lambda p=p: _user(b, p.user_id))
        assert await _picture_color(b, p.user_id) is None and _pushes(cluster, b, p.user_id) == 0
    assert _pushes(cluster, b, ann.user_id) == 1

    # A new picture travels again, with no shared channel between the two workspaces.
    await _upload(ann, (20, 160, 40))

    async def ann_green_on_b() -> bool:
        return await _picture_color(b, ann.user_id) == (20, 160, 40)

    await eventually(ann_green_on_b)
    assert _pushes(cluster, b, ann.user_id) == 2

    # A profile change without a new picture sends the profile only.
    r = await a.http.put(f"/api/v4/users/{ann.user_id}/patch", json={"nickname": "Annie"})
    assert r.status_code == 200, r.text

    async def nickname_on_b() -> bool:
        user = await _user(b, ann.user_id)
        return bool(user and user["nickname"] == "Annie")

    await eventually(nickname_on_b)
    assert _pushes(cluster, b, ann.user_id) == 2
    assert await _picture_color(b, ann.user_id) == (20, 160, 40)
