"""Real ``isthmus serve`` processes wired together the way two admins would do it, over REST only.

* :class:`Node` — one server process with its own data dir (SQLite, or a fresh PostgreSQL database),
  shared channels switched on by environment, its first API user (a system admin by the first-user
  rule) logged in, and one team.
* :func:`connect` — ``POST /api/v4/remotecluster`` on the inviter, ``POST /remotecluster/accept_invite``
  on the acceptor; waits until the inviter sees the connection confirmed.
* :func:`share` — ``POST /remotecluster/{rid}/channels/{cid}/invite`` on the home; waits until the
  remote has the channel.

Clients are aiohttp sessions (cheap per request, so the two shared CPUs go to the servers).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from bench.common import ServerProcess, server_usage

PASSWORD = "Bench-passw0rd-1"
SHARE_ENV = {
    "MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true",
    "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
    "MM_TEAMSETTINGS_MAXUSERSPERTEAM": "1000",
}


class BenchError(RuntimeError):
    pass


async def check(resp: aiohttp.ClientResponse, *expected: int) -> Any:
    """The JSON body of ``resp``; raises with the body when the status is not one of ``expected``."""
    text = await resp.text()
    if resp.status not in (expected or (200, 201)):
        raise BenchError(f"{resp.method} {resp.url.path} answered {resp.status}: {text[:500]}")
    return await resp.json(content_type=None) if text else None


class Node:
    """One ``isthmus serve`` process plus an admin session on it."""

    def __init__(self, name: str, data_dir: Path, *, postgres_url: str | None = None,
                 env: dict[str, str] | None = None, cprofile: bool = False) -> None:
        self.name = name
        # --cprofile: the whole process under cProfile (exact call counts; written when SIGTERM ends it).
        self.cprofile_out = data_dir / "cprofile.out" if cprofile else None
        command = [sys.executable, "-m", "cProfile", "-o", str(self.cprofile_out), "-m", "isthmus", "serve"] \
            if cprofile else None
        self.server = ServerProcess(data_dir, env={**SHARE_ENV, **(env or {})}, postgres_url=postgres_url,
                                    command=command)
        self.url = self.server.url
        self.token = ""
        self.user_id = ""
        self.team_id = ""
        self.session: aiohttp.ClientSession | None = None
        self.incarnation = 0
        self.usage: dict[str, dict[str, float]] = {}  # "A#1" -> VmHWM / CPU at its stop (or at the end)
        self.healthy_at = 0.0  # monotonic time the last start logged "ready"

    @property
    def label(self) -> str:
        return f"{self.name}#{self.incarnation}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> float:
        """Start (or restart) the process; returns seconds from spawn to the ready line."""
        t0 = time.monotonic()
        self.server.start(timeout=120)
        self.healthy_at = time.monotonic()
        self.incarnation += 1
        return self.healthy_at - t0

    def record_usage(self) -> dict[str, float]:
        usage = server_usage(self.server)
        if usage:
            self.usage[self.label] = usage
        return usage

    def stop(self) -> None:
        """SIGTERM, after recording the process's peak RSS and CPU seconds (gone once it exits)."""
        self.record_usage()
        code = self.server.stop(timeout=60)
        if code != 0:
            raise BenchError(f"{self.name} exited with {code}:\n{self.server.log()[-3000:]}")
        if self.cprofile_out is not None and self.cprofile_out.exists():
            self.cprofile_out.rename(self.cprofile_out.with_name(f"cprofile-{self.label}.out"))

    def cpu_s(self) -> float:
        return server_usage(self.server).get("cpu_s", 0.0)

    # -- REST ---------------------------------------------------------------------------------

    def http(self) -> aiohttp.ClientSession:
        """A keep-alive session that authenticates as this node's admin (no cookies: header auth only)."""
        if self.session is None or self.session.closed:
            self.session = new_session(self.url, self.token)
        return self.session

    async def bootstrap(self) -> None:
        """First API user (so a system admin), logged in, and one team."""
        async with new_session(self.url) as s:
            user = {"username": f"admin{self.name.lower()}", "email": f"admin@{self.name.lower()}.example",
                    "password": PASSWORD}
            self.user_id = (await check(await s.post("/api/v4/users", json=user), 201))["id"]
            self.token = await login(s, user["username"])
        team = await check(await self.http().post("/api/v4/teams", json={
            "name": f"bench{self.name.lower()}", "display_name": f"Bench {self.name}", "type": "O"}), 201)
        self.team_id = team["id"]

    async def add_user(self, username: str, channel_id: str = "") -> tuple[str, str]:
        """A new user in the team (and ``channel_id``), logged in; returns (user id, token)."""
        s = self.http()
        body = {"username": username, "email": f"{username}@{self.name.lower()}.example", "password": PASSWORD}
        user_id = (await check(await s.post("/api/v4/users", json=body), 201))["id"]
        await check(await s.post(f"/api/v4/teams/{self.team_id}/members",
                                 json={"team_id": self.team_id, "user_id": user_id}), 201)
        if channel_id:
            await check(await s.post(f"/api/v4/channels/{channel_id}/members", json={"user_id": user_id}), 201)
        async with new_session(self.url) as anon:
            token = await login(anon, username)
        return user_id, token

    async def create_channel(self, name: str) -> str:
        ch = await check(await self.http().post("/api/v4/channels", json={
            "team_id": self.team_id, "name": name, "display_name": name.title(), "type": "O"}), 201)
        return str(ch["id"])

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def new_session(base_url: str, token: str = "", limit: int = 32) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return aiohttp.ClientSession(base_url=base_url, headers=headers, cookie_jar=aiohttp.DummyCookieJar(),
                                 connector=aiohttp.TCPConnector(limit=limit),
                                 timeout=aiohttp.ClientTimeout(total=120))


async def login(s: aiohttp.ClientSession, username: str) -> str:
    r = await s.post("/api/v4/users/login", json={"login_id": username, "password": PASSWORD})
    await check(r, 200)
    return r.headers["Token"]


async def wait_until(predicate: Any, within: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)


async def connect(inviter: Node, acceptor: Node) -> str:
    """Secure connection through the real invite/accept flow; returns the connection's remote id."""
    r = await check(await inviter.http().post("/api/v4/remotecluster", json={
        "name": acceptor.name.lower(), "display_name": acceptor.name, "default_team_id": inviter.team_id,
        "password": "bench-invite-pw"}), 201)
    remote_id = str(r["remote_cluster"]["remote_id"])
    await check(await acceptor.http().post("/api/v4/remotecluster/accept_invite", json={
        "name": inviter.name.lower(), "display_name": inviter.name, "default_team_id": acceptor.team_id,
        "invite": r["invite"], "password": "bench-invite-pw"}), 201)

    async def confirmed() -> bool:
        rc = await check(await inviter.http().get(f"/api/v4/remotecluster/{remote_id}"), 200)
        return bool(rc.get("site_url") == acceptor.url)

    await wait_until(confirmed, 30, f"{inviter.name} to confirm the connection to {acceptor.name}")
    return remote_id


async def share(home: Node, channel_id: str, remote: Node, remote_id: str) -> None:
    """Share ``channel_id`` from ``home`` with ``remote`` and wait until the remote has the channel."""
    await check(await home.http().post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite",
                                       json={}), 200)

    async def arrived() -> bool:
        async with remote.http().get(f"/api/v4/channels/{channel_id}") as r:
            return r.status == 200

    await wait_until(arrived, 30, f"channel {channel_id} to reach {remote.name}")
