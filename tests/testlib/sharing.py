"""Shared-channel helpers on top of the in-process cluster (tests.testlib.cluster).

``share_node`` adds a server with shared channels enabled; people post through the real REST API of
their own server; :func:`wait_converged` is the convergence oracle (normalized channel snapshots equal
on every server, see ``isthmus.domain.snapshot``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from isthmus.domain.snapshot import channel_snapshot, diff_snapshots
from tests.testlib.clients import PASSWORD, unique
from tests.testlib.cluster import Cluster, Node

SHARED_NOTICE = "system_shared_with_workspace"
SHARE_ENV = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true"}
# Applied to os.environ by the fixture (SyncTimings.from_env): quick retries keep convergence tests fast.
SYNC_ENV = {"ISTHMUS_SYNC_BACKOFF_BASE_MS": "20", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "300",
            "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "0.25", "ISTHMUS_SYNC_OFFLINE_NOTICE_MS": "60000"}


async def share_node(cluster: Cluster, name: str, **env: str) -> Node:
    return await cluster.add(name, env={**SHARE_ENV, **env})


@dataclass
class Person:
    node: Node
    user_id: str
    username: str
    http: httpx.AsyncClient

    async def post(self, channel_id: str, message: str, **extra: Any) -> dict[str, Any]:
        r = await self.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": message, **extra})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def edit(self, post_id: str, message: str) -> dict[str, Any]:
        r = await self.http.put(f"/api/v4/posts/{post_id}/patch", json={"message": message})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def delete(self, post_id: str) -> None:
        r = await self.http.delete(f"/api/v4/posts/{post_id}")
        assert r.status_code == 200, r.text

    async def react(self, post_id: str, emoji: str) -> httpx.Response:
        return await self.http.post("/api/v4/reactions", json={"user_id": self.user_id, "post_id": post_id,
                                                                "emoji_name": emoji})

    async def unreact(self, post_id: str, emoji: str) -> None:
        r = await self.http.delete(f"/api/v4/users/{self.user_id}/posts/{post_id}/reactions/{emoji}")
        assert r.status_code == 200, r.text

    async def pin(self, post_id: str, pinned: bool = True) -> None:
        r = await self.http.post(f"/api/v4/posts/{post_id}/{'pin' if pinned else 'unpin'}")
        assert r.status_code == 200, r.text


def admin_of(node: Node) -> Person:
    return Person(node, node.admin_id, f"admin{node.name}", node.http)


async def person(node: Node, name: str = "", *, channel_id: str = "") -> Person:
    """A new local user on ``node``, member of its team (and of ``channel_id`` if given), logged in."""
    username = name or unique("u")
    r = await node.http.post("/api/v4/users", json={"username": username, "email": f"{username}@{node.host}",
                                                     "password": PASSWORD})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = await node.http.post(f"/api/v4/teams/{node.team_id}/members", json={"team_id": node.team_id,
                                                                              "user_id": user_id})
    assert r.status_code == 201, r.text
    if channel_id:
        r = await node.http.post(f"/api/v4/channels/{channel_id}/members", json={"user_id": user_id})
        assert r.status_code == 201, r.text
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=node.app), base_url=node.url, timeout=30)
    r = await client.post("/api/v4/users/login", json={"login_id": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {r.headers['Token']}"
    return Person(node, user_id, username, client)


async def channel(node: Node, name: str = "", type_: str = "O") -> str:
    r = await node.http.post("/api/v4/channels", json={"team_id": node.team_id, "name": name or unique("ch"),
                                                        "display_name": "Shared room", "type": type_})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def invite(home: Node, channel_id: str, remote_id: str, *, readonly: bool = False) -> httpx.Response:
    return await home.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite",
                                json={"readonly": readonly} if readonly else None)


async def uninvite_and_wait(home: Node, remote: Node, channel_id: str, remote_id: str) -> None:
    """The home uninvites ``remote`` and waits until the remote shows the channel no longer shared."""
    r = await home.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/uninvite")
    assert r.status_code == 200, r.text
    await eventually(lambda: not_shared(remote, channel_id))


async def has_channel(node: Node, channel_id: str) -> bool:
    r = await node.http.get(f"/api/v4/channels/{channel_id}")
    return r.status_code == 200


async def share(home: Node, channel_id: str, *remotes: tuple[Node, str], readonly: bool = False) -> None:
    """Invite each (node, connection id) and wait until each has the channel and the invite is confirmed."""
    for _node, remote_id in remotes:
        r = await invite(home, channel_id, remote_id, readonly=readonly)
        assert r.status_code == 200, r.text
    for node, remote_id in remotes:
        await eventually(lambda n=node: has_channel(n, channel_id))  # type: ignore[misc]
        await eventually(lambda r=remote_id: _confirmed(home, channel_id, r))  # type: ignore[misc]


async def shared_pair(cluster: Cluster) -> tuple[Node, Node, str, str]:
    """alpha and beta connected, and a channel homed on alpha shared with beta: (alpha, beta, the
    connection's id on alpha, the channel's id)."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    return a, b, ab, ch


async def shared_trio(cluster: Cluster) -> tuple[Node, Node, Node, str, str, str]:
    """alpha connected to beta and to gamma (not beta to gamma), and a channel homed on alpha shared with
    both: (alpha, beta, gamma, alpha's connection ids to beta and to gamma, the channel's id)."""
    a, b, c = await share_node(cluster, "alpha"), await share_node(cluster, "beta"), await share_node(cluster, "gamma")
    ab, ac = await cluster.connect(a, b), await cluster.connect(a, c)
    ch = await channel(a)
    await share(a, ch, (b, ab), (c, ac))
    return a, b, c, ab, ac, ch


async def _confirmed(home: Node, channel_id: str, remote_id: str) -> bool:
    from isthmus.domain.sharing.shares import get_channel_remote

    row = await get_channel_remote(home.server.domain, channel_id, remote_id)
    return row is not None and row.is_invite_confirmed and not row.delete_at


async def eventually(predicate: Any, within: float = 15.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def snapshot(node: Node, channel_id: str) -> dict[str, Any]:
    return await channel_snapshot(node.server.domain, channel_id)


async def wait_converged(nodes: list[Node], channel_id: str, *, within: float = 20.0, members: bool = False,
                         min_posts: int = 0) -> dict[str, Any]:
    """The convergence oracle: wait until every node's snapshot equals the first one's; return it."""
    deadline = time.monotonic() + within
    while True:
        snaps = [await snapshot(n, channel_id) for n in nodes]
        diffs = [diff_snapshots(snaps[0], s, members=members) for s in snaps[1:]]
        if not any(diffs) and len(snaps[0]["posts"]) >= min_posts:
            return snaps[0]
        if time.monotonic() > deadline:
            detail = {n.name: d for n, d in zip(nodes[1:], diffs, strict=True) if d}
            raise AssertionError(f"not converged: {json.dumps(detail, indent=1)[:4000]}")
        await asyncio.sleep(0.15)  # snapshots are full reads: polling harder only slows the servers down


async def posts_of(node: Node, channel_id: str) -> dict[str, dict[str, Any]]:
    """Live posts of a channel as the node's admin sees them over REST, without the notice each server writes
    when the channel is shared with a workspace ("now shared with Beta": tests/cluster/test_shared_notices.py)."""
    r = await node.http.get(f"/api/v4/channels/{channel_id}/posts", params={"per_page": 200})
    assert r.status_code == 200, r.text
    posts: dict[str, dict[str, Any]] = {k: p for k, p in r.json()["posts"].items()
                                        if p["type"] != SHARED_NOTICE}
    return posts


async def restart(cluster: Cluster, node: Node) -> Node:
    """Stop ``node`` abruptly (tasks cancelled mid-request) and start a new Server on the same database and
    config; peers keep reaching it at the same host. The old lifespan's later shutdown is a no-op."""
    from asgi_lifespan import LifespanManager

    from isthmus.api.app import create_app
    from isthmus.config import ConfigStore
    from isthmus.server import Server

    old = node.server
    await old.stop()
    store = ConfigStore(old.config_store.path, environ=old.config_store._environ)
    server = Server(store, clock=old.clock if not isinstance(old.clock, type(None)) else None,
                    http_transport=old.http_transport or cluster.net, bcrypt_cost=4)
    server.connections.configure(cluster.timings)
    app = create_app(server)
    await cluster._stack.enter_async_context(LifespanManager(app, startup_timeout=60, shutdown_timeout=30))
    headers = dict(node.http.headers)
    node.server, node.app = server, app
    node.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=node.url, timeout=30,
                                  headers=headers)
    cluster._stack.push_async_callback(node.http.aclose)
    cluster.net.apps[node.host] = app
    return node


UNSHARED = "This channel is no longer shared"  # "... with <the workspace's name>."


async def shared_flag(node: Node, channel_id: str) -> bool:
    r = await node.http.get(f"/api/v4/channels/{channel_id}")
    return bool(r.json()["shared"])


async def unshared_notice(node: Node, channel_id: str) -> bool:
    """The channel shows the system post "This channel is no longer shared with <workspace>."."""
    posts = await posts_of(node, channel_id)
    return any(p["message"].startswith(UNSHARED) and p["type"] == "system_unshared_from_workspace"
               for p in posts.values())


async def not_shared(node: Node, channel_id: str) -> bool:
    return not await shared_flag(node, channel_id) and await unshared_notice(node, channel_id)
