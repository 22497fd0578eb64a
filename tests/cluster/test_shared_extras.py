"""Files across servers (same id, same bytes, relayed), the offline notice, metrics and the REST reads."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from PIL import Image

from isthmus.core.events import Event
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    person,
    posts_of,
    share,
    share_node,
    shared_pair,
    shared_trio,
    wait_converged,
)


async def upload(p: Person, channel_id: str, name: str, data: bytes, mime: str) -> dict[str, Any]:
    r = await p.http.post("/api/v4/files", data={"channel_id": channel_id}, files={"files": (name, data, mime)})
    assert r.status_code == 201, r.text
    info: dict[str, Any] = r.json()["file_infos"][0]
    return info


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_files_keep_their_id_and_bytes_on_every_server(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    cat = await person(c, channel_id=ch)
    text = b"minutes of the meeting\n" * 100
    doc = await upload(ann, ch, "minutes.txt", text, "text/plain")
    image = await upload(bob, ch, "red.png", png(), "image/png")
    p1 = await ann.post(ch, "the minutes", file_ids=[doc["id"]])
    p2 = await bob.post(ch, "a picture", file_ids=[image["id"]])
    snap = await wait_converged([a, b, c], ch, min_posts=2)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert by_id[p1["id"]]["files"] == [[doc["id"], hashlib.sha256(text).hexdigest(), "minutes.txt", len(text)]]
    assert by_id[p2["id"]]["file_ids"] == [image["id"]]
    # the bytes are downloadable everywhere under the same id, and the image got its preview on gamma too
    for viewer, file_id, expected in ((bob, doc["id"], text), (cat, doc["id"], text), (ann, image["id"], png()),
                                      (cat, image["id"], png())):
        r = await viewer.http.get(f"/api/v4/files/{file_id}")
        assert r.status_code == 200 and r.content == expected, (viewer.node.name, r.status_code)
    r = await cat.http.get(f"/api/v4/files/{image['id']}/info")
    assert r.json()["width"] == 40 and r.json()["has_preview_image"] is True
    # beta's file reached gamma through alpha, and nothing was pushed back to beta
    uploads = [r for r in cluster.net.log if "/remotecluster/upload/" in r.url.path]
    hosts = sorted(r.url.host for r in uploads)
    assert hosts == ["alpha.test", "beta.test", "gamma.test", "gamma.test"]  # each file once to each server


async def test_offline_notice_then_delivery(cluster: Cluster) -> None:
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    seen: list[Event] = []
    a.server.bus.subscribe(lambda e: seen.append(e) if e.kind == "ephemeral_message" else None)
    cluster.net.down.add("beta.test")
    await eventually(lambda: _offline(a, ab))
    post = await ann.post(ch, "anyone there?")
    await eventually(lambda: _noticed(seen, ann.user_id))
    notice = json.loads(seen[0].data["post"])
    assert notice["channel_id"] == ch and notice["create_at"] == post["create_at"] + 1
    assert "could not be delivered" in notice["message"] and "Beta" in notice["message"]
    cluster.net.down.clear()
    await wait_converged([a, b], ch, min_posts=1)
    assert post["id"] in await posts_of(b, ch)
    assert sum(1 for e in seen if e.user_id == ann.user_id) == 1  # once, not once per retry


async def _has_channel(node: Node, channel_id: str) -> bool:
    return (await node.http.get(f"/api/v4/channels/{channel_id}")).status_code == 200


async def _offline(node: Node, remote_id: str) -> bool:
    return not await node.is_online(remote_id)


async def _noticed(seen: list[Event], user_id: str) -> bool:
    return any(e.user_id == user_id for e in seen)


async def test_metrics_show_queue_depth_sends_and_failures(cluster: Cluster) -> None:
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "one")
    await wait_converged([a, b], ch, min_posts=1)
    cluster.net.down.add("beta.test")
    for i in range(3):
        await ann.post(ch, f"queued {i}")
    await eventually(lambda: _metric(a, f'isthmus_sync_failures_total{{remote_id="{ab}"}}', 1))
    text = (await a.http.get("/metrics")).text
    assert _value(text, f'isthmus_sync_queue_depth{{remote_id="{ab}"}}') == 3
    assert _value(text, f'isthmus_sync_oldest_unsent_age_seconds{{remote_id="{ab}"}}') > 0
    assert _value(text, f'isthmus_sync_sends_total{{remote_id="{ab}"}}') >= 1
    assert 'isthmus_sync_last_error_info{error="' in text
    cluster.net.down.clear()
    await wait_converged([a, b], ch, min_posts=4)
    r = await a.http.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    assert _value(r.text, f'isthmus_sync_queue_depth{{remote_id="{ab}"}}') == 0
    assert _value((await b.http.get("/metrics")).text,
                  f'isthmus_sync_items_received_total{{kind="post",remote_id="{ab}"}}') == 4


def _value(text: str, key: str) -> float:
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{key} not in metrics")


async def _metric(node: Node, key: str, at_least: float) -> bool:
    text = (await node.http.get("/metrics")).text
    try:
        return _value(text, key) >= at_least
    except AssertionError:
        return False


async def test_rest_reads_and_switches(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab), readonly=True)
    r = await a.http.get(f"/api/v4/sharedchannels/{a.team_id}")
    assert r.status_code == 200
    [sc] = [x for x in r.json() if x["id"] == ch]
    assert sc["home"] is True and sc["readonly"] is True and "remote_id" not in sc
    r = await b.http.get(f"/api/v4/sharedchannels/{b.team_id}")
    [copy] = [x for x in r.json() if x["id"] == ch]
    assert copy["home"] is False and copy["remote_id"] == ab and copy["name"] == sc["name"]
    r = await a.http.get(f"/api/v4/remotecluster/{ab}/sharedchannelremotes")
    assert r.status_code == 200 and [x["channel_id"] for x in r.json()] == [ch]
    assert r.json()[0]["is_invite_confirmed"] is True and "last_post_id" in r.json()[0]
    r = await a.http.get(f"/api/v4/remotecluster/{ab}/sharedchannelremotes", params={"exclude_home": "true"})
    assert r.json() == []
    r = await b.http.get(f"/api/v4/remotecluster/{ab}/sharedchannelremotes", params={"exclude_remote": "true"})
    assert r.json() == []
    r = await a.http.get(f"/api/v4/sharedchannels/remote_info/{ab}")
    assert r.json()["name"] == "beta" and "token" not in r.json()
    outsider = await person(a)
    r = await outsider.http.get(f"/api/v4/sharedchannels/remote_info/{ab}")
    assert r.status_code == 403
    member = await person(a, channel_id=ch)
    r = await member.http.get(f"/api/v4/sharedchannels/remote_info/{ab}")
    assert r.status_code == 200
    r = await member.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/invite")
    assert r.status_code == 403  # manage_shared_channels
    r = await member.http.get(f"/api/v4/sharedchannels/users/{member.user_id}/can_dm/{outsider.user_id}")
    assert r.json() == {"can_dm": True}
    r = await b.http.get(f"/api/v4/sharedchannels/users/me/can_dm/{member.user_id}")  # member is remote on beta?
    assert r.status_code in (200, 404)
    for bad in (f"/api/v4/sharedchannels/{ch}x/remotes", "/api/v4/sharedchannels/remote_info/nope"):
        assert (await a.http.get(bad)).status_code == 400
    # the switch: a server with EnableSharedChannels off answers 501, and switching it on at runtime works
    d = await cluster.add("delta")
    ad = await cluster.connect(a, d)
    dch = await channel(d)
    r = await d.http.post(f"/api/v4/remotecluster/{ad}/channels/{dch}/invite")
    assert r.status_code == 501 and r.json()["id"] == "api.shared_channel.service_not_enabled.app_error"
    assert (await d.http.get(f"/api/v4/sharedchannels/{d.team_id}")).status_code == 501
    assert (await a.http.post(f"/api/v4/remotecluster/{ad}/channels/{ch}/invite")).status_code == 200
    await eventually(lambda: _metric(a, f'isthmus_sync_failures_total{{remote_id="{ad}"}}', 1))
    assert not await _has_channel(d, ch)  # refused for now, but kept pending (not withdrawn)
    r = await d.http.put("/api/v4/config/patch", json={"ConnectedWorkspacesSettings": {"EnableSharedChannels": True}})
    assert r.status_code == 200, r.text
    await eventually(lambda: _has_channel(d, ch))  # alpha's pending invite is accepted once delta is on
    await share(d, dch, (a, ad))


async def test_ui_events_on_share(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    seen: dict[str, list[Event]] = {"alpha": [], "beta": []}
    for node in (a, b):
        node.server.bus.subscribe(lambda e, n=node.name: seen[n].append(e))  # type: ignore[misc]
    ch = await channel(a)
    r = await a.http.get(f"/api/v4/channels/{ch}")
    assert r.json()["shared"] is False
    await share(a, ch, (b, ab))
    updated = [json.loads(e.data["channel"]) for e in seen["alpha"] if e.kind == "channel_updated"]
    assert updated and updated[0]["id"] == ch and updated[0]["shared"] is True
    remote_updates = [e for e in seen["alpha"] if e.kind == "shared_channel_remote_updated"]
    assert remote_updates and remote_updates[-1].data == {"channel_id": ch, "remote_id": ab}
    assert remote_updates[-1].channel_id == ch  # scoped to the channel's members
    assert [e.kind for e in seen["beta"] if e.data.get("channel_id") == ch][:1] == ["channel_created"]
    assert (await b.http.get(f"/api/v4/channels/{ch}")).json()["shared"] is True
