"""An in-process cluster of complete Isthmus servers for multi-server tests (architecture §9).

Each :class:`Node` is a full ``Server`` + ``create_app`` with its own database (SQLite file, or a fresh
PostgreSQL database when ISTHMUS_TEST_POSTGRES_URL is set) and ``SiteURL = http://<name>.test``. All
nodes send their server-to-server traffic through one :class:`RoutingTransport`, an in-memory
"internet" that dispatches by host to the peer's ASGI app and can partition a host, answer 503s or
hand a host to a custom handler (a slow or broken peer). Admin calls go to each node's app directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from isthmus.api.app import create_app
from isthmus.config import ConfigStore
from isthmus.core.clock import Clock
from isthmus.core.events import Event
from isthmus.federation.settings import Timings
from isthmus.server import Server
from tests.testlib import wirelog
from tests.testlib.clients import PASSWORD, unique
from tests.testlib.live import database_name, drop_test_databases, test_database_env

_ANSWERED_BY_APP = "isthmus_test_answered_by_app"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

# Short enough that handshakes, online and offline all happen within a fraction of a second.
FAST = Timings(ping_interval_s=0.05, ping_timeout_s=2.0, send_timeout_s=2.0, offline_after_ms=600,
               accept_attempts_per_minute=1000)


class RoutingTransport(httpx.AsyncBaseTransport):
    """Routes each request to the app named by its host; can simulate faults."""

    def __init__(self) -> None:
        self.apps: dict[str, ASGIApp] = {}
        self.down: set[str] = set()              # partitioned hosts: ConnectError
        self.fail_next: dict[str, int] = {}      # host -> number of 503s to answer
        self.handlers: dict[str, Handler] = {}   # host -> custom peer behaviour
        self.log: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        log = wirelog.LOG if wirelog.LOG is not None and wirelog.WireLog.wanted(request) else None
        if log is None:
            return await self._route(request)
        body = await request.aread()
        topic = wirelog.topic_of(body)
        if wirelog.is_ours(request):
            log.write("request", request, 0, body, topic)
        response = await self._route(request)
        if request.extensions.get(_ANSWERED_BY_APP):
            log.write("answer", request, response.status_code, await response.aread(), topic)
        return response

    async def _route(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.log.append(request)
        if host in self.down:
            raise httpx.ConnectError(f"{host} unreachable", request=request)
        if self.fail_next.get(host, 0) > 0:
            self.fail_next[host] -= 1
            return httpx.Response(503, request=request, content=b"unavailable")
        if host in self.handlers:
            return await self.handlers[host](request)
        app = self.apps.get(host)
        if app is None:
            raise httpx.ConnectError(f"no route to {host}", request=request)
        request.extensions[_ANSWERED_BY_APP] = True  # an Isthmus server's own answer (recorded by wirelog)
        return await httpx.ASGITransport(app=app).handle_async_request(request)


class Node:
    def __init__(self, name: str, server: Server, app: Any) -> None:
        self.name = name
        self.host = f"{name}.test"
        self.url = f"http://{self.host}"
        self.server = server
        self.app = app
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=self.url, timeout=30)
        self.admin_id = ""
        self.token = ""
        self.team_id = ""
        self.events: list[Event] = []

    @property
    def connections(self) -> Any:
        return self.server.connections

    async def remote(self, remote_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/api/v4/remotecluster/{remote_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def remotes(self, **params: Any) -> list[dict[str, Any]]:
        r = await self.http.get("/api/v4/remotecluster", params=params)
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()
        return out

    async def row(self, remote_id: str) -> Any:
        """The stored record, tokens included (for assertions only)."""
        from isthmus.domain.remotes import get_remote

        return await get_remote(self.server.domain, remote_id, include_deleted=True)

    async def is_online(self, remote_id: str) -> bool:
        rc = await self.row(remote_id)
        return bool(self.connections.is_online(rc)) and rc.delete_at == 0

    def kinds(self, remote_id: str) -> list[str]:
        return [e.kind for e in self.events if e.origin == remote_id]


async def eventually(predicate: Callable[[], Awaitable[bool]], within: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


class Cluster:
    def __init__(self, tmp: Path, timings: Timings = FAST) -> None:
        self.tmp = tmp
        self.timings = timings
        self.online_within_s = 10.0  # how long a new connection may take to come online (connect)
        self.net = RoutingTransport()
        self.nodes: dict[str, Node] = {}
        self._stack = AsyncExitStack()
        self._databases: list[str] = []

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    async def add(self, name: str, *, clock: Clock | None = None, env: dict[str, str] | None = None,
                  enabled: bool = True, transport: httpx.AsyncBaseTransport | None = None) -> Node:
        """``transport`` wraps the node's outbound traffic (default: straight onto the routing transport)."""
        data = self.tmp / name
        data.mkdir(parents=True, exist_ok=True)
        # (creating a PostgreSQL database runs its own event loop, hence the thread)
        db_env = await asyncio.to_thread(test_database_env, data)
        self.record_database(db_env)
        environ = {"MM_SERVICESETTINGS_SITEURL": f"http://{name}.test",
                   "MM_FILESETTINGS_DIRECTORY": str(data / "files"), **db_env, **(env or {})}
        if enabled:  # when off, leave it to config.json so a test can switch it on at runtime
            environ["MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE"] = "true"
        server = Server(ConfigStore(data / "config.json", environ=environ), clock=clock,
                        http_transport=transport or self.net, bcrypt_cost=4)
        server.connections.configure(self.timings)
        app = create_app(server)
        await self._stack.enter_async_context(LifespanManager(app, startup_timeout=60, shutdown_timeout=30))
        node = Node(name, server, app)
        self._stack.push_async_callback(node.http.aclose)
        server.bus.subscribe(lambda e: node.events.append(e) if e.kind.startswith("remote_cluster_") else None)
        self.net.apps[node.host] = app
        await self._bootstrap(node)
        self.nodes[name] = node
        return node

    async def _bootstrap(self, node: Node) -> None:
        username = f"admin{node.name}"
        r = await node.http.post("/api/v4/users", json={"username": username, "email": f"{username}@example.com",
                                                         "password": PASSWORD})
        assert r.status_code == 201, r.text
        node.admin_id = r.json()["id"]
        r = await node.http.post("/api/v4/users/login", json={"login_id": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        node.token = r.headers["Token"]
        node.http.cookies.clear()  # a cookie would win over the header and demand CSRF proof
        node.http.headers["Authorization"] = f"Bearer {node.token}"
        r = await node.http.post("/api/v4/teams", json={"name": unique("team"), "display_name": "Team",
                                                         "type": "O"})
        assert r.status_code == 201, r.text
        node.team_id = r.json()["id"]

    async def invite(self, inviter: Node, name: str, password: str = "s3cret-pw") -> tuple[str, str]:
        r = await inviter.http.post("/api/v4/remotecluster", json={
            "name": name, "display_name": name.title(), "default_team_id": inviter.team_id, "password": password})
        assert r.status_code == 201, r.text
        body = r.json()
        return body["remote_cluster"]["remote_id"], body["invite"]

    async def accept(self, acceptor: Node, name: str, invite: str, password: str = "s3cret-pw") -> httpx.Response:
        return await acceptor.http.post("/api/v4/remotecluster/accept_invite", json={
            "name": name, "display_name": name.title(), "default_team_id": acceptor.team_id,
            "invite": invite, "password": password})

    async def connect(self, a: Node, b: Node) -> str:
        """Full handshake a → b over the real endpoints; returns the connection id once both are online."""
        remote_id, code = await self.invite(a, b.name)
        r = await self.accept(b, a.name, code)
        assert r.status_code == 201, r.text
        await eventually(lambda: self.both_online(a, b, remote_id), within=self.online_within_s)
        return remote_id

    async def both_online(self, a: Node, b: Node, remote_id: str) -> bool:
        return await a.is_online(remote_id) and await b.is_online(remote_id)

    async def close(self) -> None:
        # Quiesce first: a node still pinging a peer whose server already stopped would reopen that
        # peer's disposed database from a request handler.
        self.net.down.update(self.net.apps)
        for node in self.nodes.values():
            await node.connections.pinger.stop()
        await self._stack.aclose()
        if self._databases:
            await asyncio.to_thread(drop_test_databases, self._databases)

    def record_database(self, db_env: dict[str, str]) -> None:
        """Drop this node's PostgreSQL database at ``close``."""
        name = database_name(db_env)
        if name:
            self._databases.append(name)
