"""The world of the model-based sync test (tests/model): 3–5 in-process servers, links that can be cut one
by one, people who act through the REST API of their own server, and a restart that keeps it all wired.

Each node sends its server-to-server traffic through its own :class:`LinkTransport`, which knows the
sender, so a single link (alpha ↔ beta) can be cut while both still reach everyone else; everything then
goes through the cluster's shared :class:`RoutingTransport` (503s, the request log).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from isthmus.api.app import create_app
from isthmus.config import ConfigStore
from isthmus.federation.settings import Timings
from isthmus.server import Server
from tests.testlib.clients import PASSWORD
from tests.testlib.cluster import Cluster, Node
from tests.testlib.live import test_database_env
from tests.testlib.sharing import SHARE_ENV, eventually

NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]
# Pings every 0.3 s instead of the cluster tests' 0.05 s (they were most of a deep run's work: 5 servers ping
# each other), and timeouts long enough for a machine loaded by a deep run (a 2 s handshake timed out at load 9).
TIMINGS = Timings(ping_interval_s=0.3, ping_timeout_s=10.0, send_timeout_s=10.0, offline_after_ms=1500,
                  accept_attempts_per_minute=1000)
MEMBER_SYNC = "MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC"


class LinkTransport(httpx.AsyncBaseTransport):
    """One node's way out: refuses the hosts whose link to this node is cut."""

    def __init__(self, world: World, src: str) -> None:
        self.world, self.src = world, src

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        dst = request.url.host.removesuffix(".test")
        if frozenset((self.src, dst)) in self.world.cut:
            raise httpx.ConnectError(f"link {self.src}-{dst} cut", request=request)
        return await self.world.cluster.net.handle_async_request(request)


@dataclass
class NodeConfig:
    max_file_size: int
    attachments: bool
    status_sync: bool
    member_sync: bool

    def env(self) -> dict[str, str]:
        return {"MM_FILESETTINGS_MAXFILESIZE": str(self.max_file_size),
                "MM_FILESETTINGS_ENABLEFILEATTACHMENTS": str(self.attachments).lower(),
                "MM_CONNECTEDWORKSPACESSETTINGS_DISABLESHAREDCHANNELSSTATUSSYNC": str(not self.status_sync).lower(),
                MEMBER_SYNC: str(self.member_sync).lower()}

    @staticmethod
    def from_bits(bits: int) -> NodeConfig:
        sizes = [100 * 1024 * 1024, 20_000, 2_000]
        return NodeConfig(max_file_size=sizes[bits % 3], attachments=(bits >> 2) % 4 != 0,
                          status_sync=(bits >> 4) % 2 == 0, member_sync=(bits >> 5) % 2 == 1)


@dataclass
class Actor:
    """A person on one node (``admin`` is that node's system admin), acting through its REST API."""
    node: str
    user_id: str
    username: str
    token: str
    admin: bool = False
    active: bool = True
    nickname: str = ""


@dataclass
class World:
    cluster: Cluster
    configs: dict[str, NodeConfig]
    cut: set[frozenset[str]] = field(default_factory=set)
    links: dict[frozenset[str], tuple[str, str]] = field(default_factory=dict)  # pair -> (inviter, remote id)
    remote_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (node, peer) -> connection id there
    actors: list[Actor] = field(default_factory=list)

    def node(self, name: str) -> Node:
        return self.cluster[name]

    async def add_node(self, name: str, config: NodeConfig) -> Node:
        self.configs[name] = config
        c = self.cluster
        data = c.tmp / name
        data.mkdir(parents=True, exist_ok=True)
        db_env = await asyncio.to_thread(test_database_env, data)
        c.record_database(db_env)
        environ = {"MM_SERVICESETTINGS_SITEURL": f"http://{name}.test",
                   "MM_FILESETTINGS_DIRECTORY": str(data / "files"), **db_env, **SHARE_ENV, **config.env(),
                   "MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true"}
        server = Server(ConfigStore(data / "config.json", environ=environ), http_transport=LinkTransport(self, name),
                        bcrypt_cost=4)
        server.connections.configure(c.timings)
        app = create_app(server)
        await c._stack.enter_async_context(LifespanManager(app, startup_timeout=60, shutdown_timeout=30))
        node = Node(name, server, app)
        c._stack.push_async_callback(node.http.aclose)
        c.net.apps[node.host] = app
        await c._bootstrap(node)
        c.nodes[name] = node
        self.actors.append(Actor(name, node.admin_id, f"admin{name}", node.token, admin=True))
        for i in (1, 2):
            self.actors.append(await self._local_user(node, f"{name}{i}"))
        return node

    async def _local_user(self, node: Node, username: str) -> Actor:
        r = await node.http.post("/api/v4/users", json={"username": username, "email": f"{username}@{node.host}",
                                                         "password": PASSWORD})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await node.http.post(f"/api/v4/teams/{node.team_id}/members",
                                 json={"team_id": node.team_id, "user_id": user_id})
        assert r.status_code == 201, r.text
        async with self.client_for(node.name, "") as anon:
            r = await anon.post("/api/v4/users/login", json={"login_id": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return Actor(node.name, user_id, username, r.headers["Token"])

    def client_for(self, node: str, token: str) -> httpx.AsyncClient:
        """A fresh client on ``node``'s current app (a restart replaces the app; sessions live in the database)."""
        n = self.node(node)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=n.app), base_url=n.url, timeout=60,
                                 headers=headers)

    async def call(self, actor: Actor, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self.client_for(actor.node, actor.token) as client:
            return await client.request(method, path, **kwargs)

    async def connect(self, a: str, b: str) -> None:
        """The handshake, again if the acceptor's confirmation call timed out (set-up of a deep run on a loaded
        machine: one PostgreSQL run's confirm took over 10 s); the invite nobody took is deleted first."""
        na, nb = self.node(a), self.node(b)
        for attempt in range(3):
            remote_id, code = await self.cluster.invite(na, b)
            r = await self.cluster.accept(nb, a, code)
            if r.status_code == 201:
                break
            assert attempt < 2 and "timed out" in r.text, r.text
            gone = await na.http.delete(f"/api/v4/remotecluster/{remote_id}")
            assert gone.status_code == 200, gone.text
        await eventually(lambda: self.cluster.both_online(na, nb, remote_id), within=self.cluster.online_within_s)
        self.links[frozenset((a, b))] = (a, remote_id)
        self.remote_ids[(a, b)] = remote_id
        rows = await self.node(b).remotes()
        self.remote_ids[(b, a)] = next(r["remote_id"] for r in rows if r["site_url"] == self.node(a).url)

    def peers(self, name: str) -> list[str]:
        return sorted(p for pair in self.links for p in pair if name in pair and p != name)

    async def restart(self, name: str) -> None:
        """Stop ``name`` abruptly and start a new Server on the same database and config (sharing.restart)."""
        c, node = self.cluster, self.node(name)
        old = node.server
        await old.stop()
        store = ConfigStore(old.config_store.path, environ=old.config_store._environ)
        server = Server(store, http_transport=LinkTransport(self, name), bcrypt_cost=4)
        server.connections.configure(c.timings)
        app = create_app(server)
        await c._stack.enter_async_context(LifespanManager(app, startup_timeout=60, shutdown_timeout=30))
        headers = dict(node.http.headers)
        node.server, node.app = server, app
        node.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=node.url, timeout=60,
                                      headers=headers)
        c._stack.push_async_callback(node.http.aclose)
        c.net.apps[node.host] = app


async def new_world(tmp: Path, configs: list[NodeConfig], edges: list[tuple[int, int]]) -> World:
    world = World(Cluster(tmp, TIMINGS), {})
    world.cluster.online_within_s = 60.0  # a deep run shares the machine: 10 s timed out at load 9
    for i, config in enumerate(configs):
        await world.add_node(NAMES[i], config)
    for i, j in edges:
        await world.connect(NAMES[i], NAMES[j])
    return world
