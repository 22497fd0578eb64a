"""Permission sweep (issue 18 item 5): every GET route the server registers, aimed at another team's things.

Alpha holds team X (where ``xavier`` is a plain member) and team Y (invite only) with a public, a private and
an archived channel, a direct message, a channel shared with connection C1 (beta) and one shared with C2
(gamma) only, each with a post, a reply, a reaction, a pin and (in the private channel) a file. Then:

1. xavier calls every GET route, each path parameter filled with each of Y's ids (and, for list routes, the
   usual filters ``team_id``/``in_team``/``in_channel``… set to Y's ids): every answer is refused (4xx) or a
   2xx whose body holds none of Y's ids, names or message texts;
2. the same routes with C1's server-to-server credentials instead of a session: refused, nothing of Y;
3. C1 asks over ``/remotecluster/msg`` for the snapshot of, and a re-send of the posts of, each channel not
   shared with it (and a re-send of those posts under the channel it does share): refused or empty, and no frame
   carrying them reaches beta. The snapshot of the channel C1 does share is the positive control.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import httpx
from fastapi.routing import APIRoute

from isthmus.api.routes import ROUTERS
from isthmus.core.ids import new_id
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import person, share, share_node
from tests.testlib.wire_check import FrameRecorder, send


async def ok(r: httpx.Response, status: int = 201) -> Any:
    assert r.status_code == status, r.text
    return r.json()


async def test_a_member_of_team_x_and_a_connection_read_nothing_of_team_y(cluster: Cluster) -> None:
    a, b, c = (await share_node(cluster, "alpha"), await share_node(cluster, "beta"),
               await share_node(cluster, "gamma"))
    c1, c2 = await cluster.connect(a, b), await cluster.connect(a, c)
    xavier = await person(a)  # member of alpha's team X only
    yolanda, yves = await person(a), await person(a)
    team_y = await ok(await yolanda.http.post("/api/v4/teams", json={
        "name": "yteamsecret", "display_name": "Ysecret Team", "type": "I"}))
    y = team_y["id"]
    await ok(await yolanda.http.post(f"/api/v4/teams/{y}/members", json={"team_id": y, "user_id": yves.user_id}))
    await ok(await yolanda.http.post(f"/api/v4/teams/{y}/members", json={"team_id": y, "user_id": a.admin_id}))
    secrets: set[str] = {y, "yteamsecret", "Ysecret Team"}
    channels: dict[str, str] = {}
    posts: list[str] = []
    for kind, type_ in (("pub", "O"), ("priv", "P"), ("arch", "O"), ("c1", "O"), ("c2", "O")):
        ch = await ok(await yolanda.http.post("/api/v4/channels", json={
            "team_id": y, "name": f"ysecret-{kind}", "display_name": f"Ysecret {kind}", "type": type_}))
        channels[kind] = ch["id"]
        secrets |= {ch["id"], f"ysecret-{kind}", f"Ysecret {kind}"}
    dm = await ok(await yolanda.http.post("/api/v4/channels/direct", json=[yolanda.user_id, yves.user_id]))
    channels["dm"] = dm["id"]
    secrets.add(dm["id"])
    upload = await ok(await yolanda.http.post("/api/v4/files", params={"channel_id": channels["priv"]},
                                              files={"files": ("ysecret.txt", b"ysecret file body")}))
    file_id = upload["file_infos"][0]["id"]
    secrets |= {file_id, "ysecret.txt", "ysecret file body"}
    for kind, channel_id in channels.items():
        extra = {"file_ids": [file_id]} if kind == "priv" else {}
        root = await yolanda.post(channel_id, f"Ysecret message in {kind}", **extra)
        reply = await yolanda.post(channel_id, f"Ysecret reply in {kind}", root_id=root["id"])
        await yolanda.react(root["id"], "smile")
        await yolanda.pin(root["id"])
        posts += [root["id"], reply["id"]]
        secrets |= {root["id"], reply["id"], f"Ysecret message in {kind}", f"Ysecret reply in {kind}"}
    await ok(await yolanda.http.delete(f"/api/v4/channels/{channels['arch']}"), 200)
    await share(a, channels["c1"], (b, c1))
    await share(a, channels["c2"], (c, c2))
    token = await ok(await a.http.post(f"/api/v4/users/{yolanda.user_id}/tokens",
                                             json={"description": "ysecret token"}), 200)
    secrets |= {token["id"], token["token"], "ysecret token"}

    values: dict[str, list[str]] = {
        "team_id": [y], "team_name": ["yteamsecret"], "name": ["yteamsecret"],
        "channel_id": list(channels.values()), "channel_name": [f"ysecret-{k}" for k in channels if k != "dm"],
        "post_id": posts, "thread_id": posts[::2], "file_id": [file_id], "user_id": [yolanda.user_id, "me"],
        "other_user_id": [yves.user_id], "username": [yolanda.username], "email": [f"{yolanda.username}@alpha.test"],
        "token_id": [token["id"]], "remote_id": [c1, c2], "invite_id": [new_id()], "category": ["favorite_channel"],
        "category_id": [new_id()], "emoji_id": [new_id()], "role_id": [new_id()], "role_name": ["team_admin"],
    }
    filters = {"team_id": y, "in_team": y, "in_channel": channels["priv"], "not_in_channel": channels["priv"],
               "channel_id": channels["priv"], "per_page": "200", "since": "0", "include_deleted": "true",
               "term": "ysecret", "terms": "ysecret"}
    # every GET route the app registers (the routers it mounts under /api/v4, and /metrics)
    routes = ["/api/v4" + r.path for router in ROUTERS for r in router.routes
              if isinstance(r, APIRoute) and "GET" in r.methods and "websocket" not in r.path] + ["/metrics"]
    assert len(routes) > 80

    remote_creds = await a.row(c1)
    callers = {
        "xavier": dict(xavier.http.headers),
        "connection C1": {"X-RemoteCluster-Id": c1, "X-RemoteCluster-Token": remote_creds.token},
    }
    calls = 0

    async def sweep(who: str, headers: dict[str, str]) -> list[str]:
        nonlocal calls
        leaks: list[str] = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=a.app), base_url=a.url, timeout=30) as raw:
            for route in routes:
                names = re.findall(r"\{(\w+)(?::\w+)?\}", route)
                for combo in list(itertools.product(*(values[n] for n in names)))[:60]:
                    path = route
                    for n, v in zip(names, combo, strict=True):
                        path = re.sub(r"\{" + n + r"(?::\w+)?\}", v, path, count=1)
                    for params in ({}, filters):
                        r = await raw.get(path, params=params, headers=headers)
                        calls += 1
                        assert r.status_code < 500 or r.status_code == 501, \
                            f"{who} GET {path} {params} -> {r.status_code} {r.text[:300]}"
                        if r.status_code >= 300:
                            continue
                        body = r.content.decode("utf-8", "replace")
                        found = sorted(s for s in secrets if s in body)
                        if found:
                            leaks.append(f"{who} GET {path} {params or ''} -> {r.status_code} shows {found[:4]}")
        return leaks

    # the sweep sees what it looks for: Y's own member reads Y's things through many of the same routes
    assert len(await sweep("yolanda", dict(yolanda.http.headers))) > 50
    leaks = [leak for who, headers in callers.items() for leak in await sweep(who, headers)]
    assert not leaks, "\n".join(leaks[:40])

    # 3. C1 asks alpha for what is not shared with it
    rec = FrameRecorder.install(cluster, b)
    control = await send(b, a, c1, "isthmus_channel_snapshot", {"channel_id": channels["c1"], "since": 0})
    assert control.status == "OK" and posts[6] in str(control.payload), control.err  # c1's root post
    not_c1 = [k for k in channels if k != "c1"]
    for kind in not_c1:
        r = await send(b, a, c1, "isthmus_channel_snapshot", {"channel_id": channels[kind], "since": 0})
        assert r.status == "FAIL" and not any(s in str(r.payload) for s in secrets), (kind, r.payload)
        r = await send(b, a, c1, "isthmus_channel_resend", {"channel_id": channels[kind], "post_ids": posts})
        assert r.status == "FAIL", (kind, r.payload)
    r = await send(b, a, c1, "isthmus_channel_resend", {"channel_id": channels["c1"], "post_ids": posts})
    assert r.status == "OK" and set(r.payload["queued"]) <= set(posts[6:8]), r.payload
    await asyncio.sleep(2)  # give alpha's sender time to send anything it (wrongly) queued
    others = {p for i, p in enumerate(posts) if i not in (6, 7)} | {channels[k] for k in not_c1}
    carried = [f.topic for f in rec.frames if any(s in str(f.payload) for s in others)]
    assert not carried, carried
    print(f"permission sweep: {len(routes)} GET routes, {calls} requests, 0 leaks")
