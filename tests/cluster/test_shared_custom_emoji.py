"""Custom emoji across connected workspaces (issue 15 item 5, seed FAQ): emoji stay on their server; a
reaction or message using one reaches the other workspaces by name, where a server that lacks it keeps the
name (the web client shows ``:name:``, tests/webui/test_markdown.py), relayed through the home like any."""

from __future__ import annotations

import io

from PIL import Image

from tests.testlib.cluster import Cluster
from tests.testlib.sharing import eventually, person, shared_trio, wait_converged


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 90)).save(out, "PNG")
    return out.getvalue()


async def test_a_custom_emoji_travels_by_name_and_stays_home(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    bob = await person(b, channel_id=ch)
    r = await bob.http.post("/api/v4/emoji", files={"image": ("p.png", _png(), "image/png")},
                            data={"emoji": '{"name": "partyparrot"}'})
    assert r.status_code == 201, r.text
    post = await bob.post(ch, "look :partyparrot: here")
    assert (await bob.react(post["id"], "partyparrot")).status_code == 200
    snap = await wait_converged([a, b, c], ch, min_posts=1)
    synced = next(p for p in snap["posts"] if p["id"] == post["id"])
    assert synced["reactions"] == [[bob.user_id, "partyparrot"]]
    assert synced["message"] == "look :partyparrot: here"  # the name, untouched, everywhere
    for node in (a, c):  # alpha got it from beta, gamma through alpha: neither has the emoji itself
        r = await node.http.get("/api/v4/emoji/name/partyparrot")
        assert r.status_code == 404 and r.json()["id"] == "app.emoji.get.app_error"
    assert (await b.http.get("/api/v4/emoji/name/partyparrot")).status_code == 200

    async def reaction_listed_on_gamma() -> bool:
        r = await c.http.get(f"/api/v4/posts/{post['id']}/reactions")
        return r.status_code == 200 and [x["emoji_name"] for x in r.json()] == ["partyparrot"]

    await eventually(reaction_listed_on_gamma)
