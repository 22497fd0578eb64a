"""Websocket slow-loris and connection floods against a real ``isthmus serve`` process (issue 18 item 5).

While a normal client keeps posting and reading over REST (and hears its own posts on its websocket):

* slow-loris at the HTTP level: connections that send a request head a byte at a time, never finishing it,
  are closed once ``RateLimitSettings.RequestHeaderTimeoutSeconds`` has passed (uvicorn alone kept them open);
* slow-loris after the upgrade: websockets that never authenticate, idle or trickling a byte every second,
  are closed (1008) once ``WebSocketAuthTimeoutSeconds`` has passed (it was 30 s);
* a flood of ``ISTHMUS_WS_FLOOD`` (CI: 300; deep run: 10000) authenticated websockets, opened from many
  loopback source addresses so the per-address cap does not stop it: each request of the normal client is
  answered, and the server's memory is bounded (peak under 2 GB) and comes back down once the flood closes.

The per-address and total caps answer the upgrade with a 429 / 503 AppError. ``ISTHMUS_WS_REPORT=path``
appends the figures (latencies, RSS from /proc/<pid>/status, counts) as one JSON line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import resource
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.common import ServerProcess, process_usage
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.loopback.conftest import SpawnServer
from tests.testlib.clients import PASSWORD, unique

pytestmark = pytest.mark.loopback

FLOOD = int(os.environ.get("ISTHMUS_WS_FLOOD", "300"))
PER_ADDRESS = 200  # the test server's MaxWebSocketsPerAddress; the flood spreads over FLOOD / 200 addresses
SLOW_LORIS = 20
ENV = {"MM_RATELIMITSETTINGS_REQUESTHEADERTIMEOUTSECONDS": "2",
       "MM_RATELIMITSETTINGS_WEBSOCKETAUTHTIMEOUTSECONDS": "2",
       "MM_RATELIMITSETTINGS_MAXWEBSOCKETSPERADDRESS": str(PER_ADDRESS)}
# Well past both 2 s windows, well short of the 30 s auth window the server had: a missing limit fails.
CLOSED_WITHIN_S = 15.0


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_mib(srv: ServerProcess) -> float:
    assert srv.proc is not None
    return process_usage(srv.proc.pid)["rss_mib"]


def _server_fd_limit(srv: ServerProcess) -> int:
    assert srv.proc is not None
    line = next(x for x in Path(f"/proc/{srv.proc.pid}/limits").read_text().splitlines()
                if x.startswith("Max open files"))
    return int(line.split()[3])


@dataclass
class Account:
    token: str
    user_id: str
    http: httpx.AsyncClient


async def _account(srv: ServerProcess, team_id: str | None = None) -> Account:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as anon:
        name = unique("u")
        r = await anon.post("/api/v4/users", json={"username": name, "password": PASSWORD,
                                                   "email": f"{name}@example.com"})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await anon.post("/api/v4/users/login", json={"login_id": name, "password": PASSWORD})
        token = r.headers["Token"]
    return Account(token, user_id, httpx.AsyncClient(base_url=srv.url, timeout=30,
                                                     headers={"Authorization": f"Bearer {token}"}))


async def _open(srv: ServerProcess | str, token: str, source: str) -> ClientConnection:
    """An authenticated websocket from loopback address ``source``, once its ``hello`` arrived."""
    url = srv if isinstance(srv, str) else srv.url
    ws = await connect(url.replace("http://", "ws://") + "/api/v4/websocket",
                       additional_headers={"Authorization": f"Bearer {token}"}, local_addr=(source, 0),
                       open_timeout=60, max_queue=4)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert hello["event"] == "hello", hello
    return ws


async def _head_loris(srv: ServerProcess) -> float:
    """A request head sent a byte a second, never finished: seconds until the server hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    started = time.monotonic()
    head = b"GET /api/v4/users/me HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 1000
    try:
        for i in range(len(head)):
            writer.write(head[i:i + 1])
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1024), 1.0) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                pass
            if time.monotonic() - started > CLOSED_WITHIN_S:
                break
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started
    finally:
        writer.close()
    raise AssertionError("a request head trickled a byte a second was never cut off")


async def _ws_loris(srv: ServerProcess, trickle: bool) -> float:
    """A websocket upgraded but never authenticated (idle, or a frame trickled a byte a second): seconds until
    the server closes it, checked to be with 1008 "not authenticated"."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /api/v4/websocket HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    started = time.monotonic()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    # A masked text frame that announces 125 bytes and gets them one per second.
    frame = bytes([0x81, 0x80 | 125]) + os.urandom(4) + b"x" * 125
    received = b""
    sent = 0
    try:
        while time.monotonic() - started < CLOSED_WITHIN_S:
            if trickle and sent < len(frame):
                writer.write(frame[sent:sent + 1])
                await writer.drain()
                sent += 1
            try:
                chunk = await asyncio.wait_for(reader.read(1024), 1.0)
            except TimeoutError:
                continue
            received += chunk
            if chunk == b"" or b"not authenticated" in received:  # its close frame (the TCP close follows later)
                break
        else:
            raise AssertionError("an unauthenticated websocket was never closed")
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()
    # the server's close frame: opcode 0x8, code 1008, reason "not authenticated"
    assert b"\x88\x13\x03\xf0not authenticated" in received, received
    return time.monotonic() - started


class NormalClient:
    """Posts and reads over REST in a loop, and hears its posts on its own websocket, timing every request.

    It runs in a thread of its own with its own event loop, as another program would: the flood's thousands of
    sockets in the test's loop must not stall it (a stalled client's keep-alive connection goes stale)."""

    def __init__(self, srv: ServerProcess, me: Account, channel_id: str) -> None:
        self.srv, self.me, self.channel_id = srv, me, channel_id
        self.latencies_ms: list[float] = []
        self.failures: list[str] = []
        self.posted: set[str] = set()
        self.heard: set[str] = set()
        self.halt = threading.Event()

    async def run(self) -> None:
        ws = await _open(self.srv, self.me.token, "127.0.0.1")
        listener = asyncio.create_task(self._listen(ws))
        http = httpx.AsyncClient(base_url=self.srv.url, timeout=30,
                                 headers={"Authorization": f"Bearer {self.me.token}"})
        try:
            n = 0
            while not self.halt.is_set():
                n += 1
                await self._timed("post", http.post(
                    "/api/v4/posts", json={"channel_id": self.channel_id, "message": f"still here {n}"}))
                await self._timed("read", http.get(f"/api/v4/channels/{self.channel_id}/posts",
                                                   params={"per_page": 20}))
                await asyncio.sleep(0.05)
            # every post this client made reached its own websocket, flood or not
            deadline = time.monotonic() + 30
            while not self.posted <= self.heard and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            listener.cancel()
            await ws.close()
            await http.aclose()

    async def _timed(self, what: str, request: Any) -> None:
        started = time.monotonic()
        try:
            r = await request
        except httpx.HTTPError as err:
            self.failures.append(f"{what}: {err!r}")
            return
        self.latencies_ms.append((time.monotonic() - started) * 1000)
        if r.status_code not in (200, 201):
            self.failures.append(f"{what}: {r.status_code} {r.text[:200]}")
        elif what == "post":
            self.posted.add(r.json()["id"])

    async def _listen(self, ws: ClientConnection) -> None:
        async for raw in ws:
            event = json.loads(raw)
            if event.get("event") == "posted":
                self.heard.add(json.loads(event["data"]["post"])["id"])


def _answer(conn: Connection) -> float:
    if not conn.poll(600):
        raise AssertionError("the flooding process did not answer")
    answer = conn.recv()
    if isinstance(answer, str):
        raise AssertionError(f"the flood failed: {answer}")
    return float(answer)


def _flood_child(url: str, token: str, count: int, conn: Connection) -> None:
    """The flooding process: on "open" opens ``count`` authenticated websockets (PER_ADDRESS less a few per
    loopback source address) and answers the seconds it took; on "close" closes them all; on "exit" ends."""
    _raise_fd_limit()
    per_source = PER_ADDRESS - 10

    async def main() -> None:
        gate = asyncio.Semaphore(64)

        async def one(i: int) -> ClientConnection:
            async with gate:
                k = i // per_source
                return await _open(url, token, f"127.0.{1 + k // 250}.{1 + k % 250}")

        flood: list[ClientConnection] = []
        while True:
            what = await asyncio.to_thread(conn.recv)
            started = time.monotonic()
            try:
                if what == "open":
                    flood = await asyncio.gather(*(one(i) for i in range(count)))
                elif what == "close":
                    await asyncio.gather(*(ws.close() for ws in flood))
                    flood = []
                else:
                    return
            except Exception as err:
                conn.send(repr(err))
                return
            conn.send(time.monotonic() - started)

    asyncio.run(main())


@pytest.fixture
def server(spawn: SpawnServer) -> Iterator[ServerProcess]:
    _raise_fd_limit()
    yield spawn("wsflood", env=ENV).start()


async def test_slow_loris_and_flood_leave_the_server_serving(server: ServerProcess) -> None:
    srv = server
    me = await _account(srv)
    r = await me.http.post("/api/v4/teams", json={"name": unique("team"), "display_name": "Team", "type": "O"})
    assert r.status_code == 201, r.text
    r = await me.http.post("/api/v4/channels", json={"team_id": r.json()["id"], "name": unique("ch"),
                                                     "display_name": "Flood", "type": "O"})
    assert r.status_code == 201, r.text
    normal = NormalClient(srv, me, r.json()["id"])
    flooder = await _account(srv)
    await asyncio.sleep(1)
    rss_start = _rss_mib(srv)

    worker = asyncio.create_task(asyncio.to_thread(asyncio.run, normal.run()))
    try:
        loris = [asyncio.create_task(_head_loris(srv)) for _ in range(SLOW_LORIS)]
        loris += [asyncio.create_task(_ws_loris(srv, trickle=i % 2 == 0)) for i in range(SLOW_LORIS)]

        # The flood: FLOOD authenticated websockets from a process of its own (an attacker is another program; in
        # this process its thousands of sockets would stall the normal client's thread for the GIL). Twice: the
        # second flood must fit in the memory the first one left (what the allocator keeps is reused, not leaked).
        floods: list[dict[str, float]] = []
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        flooder_proc = ctx.Process(target=_flood_child, args=(srv.url, flooder.token, FLOOD, child), daemon=True)
        flooder_proc.start()
        try:
            for _ in range(2):
                parent.send("open")
                opened_s = await asyncio.to_thread(_answer, parent)
                await asyncio.sleep(2)
                peak = _rss_mib(srv)
                parent.send("close")
                closed_s = await asyncio.to_thread(_answer, parent)
                await asyncio.sleep(3)  # the server lets go of the closed sockets
                floods.append({"open_s": opened_s, "close_s": closed_s, "peak": peak, "after": _rss_mib(srv)})
            parent.send("exit")
        finally:
            flooder_proc.join(30)
            if flooder_proc.is_alive():
                flooder_proc.kill()
        loris_closed_s = await asyncio.gather(*loris)
    finally:
        normal.halt.set()  # also on a failure above: the client's thread would keep the event loop from closing
    await worker
    rss_peak, rss_after = floods[0]["peak"], floods[-1]["after"]
    opened_s, closed_s = floods[0]["open_s"], floods[0]["close_s"]
    assert srv.proc is not None
    hwm = process_usage(srv.proc.pid)["vmhwm_mib"]

    assert not normal.failures, normal.failures[:10]
    assert normal.posted and normal.posted <= normal.heard
    assert hwm < 2048, hwm  # no unbounded growth per connection
    # Nothing kept per closed socket: the second flood grew the server no further than the first did. (RSS does
    # not fall back to its start after the first: the allocator keeps freed memory for the next use.)
    assert floods[1]["peak"] < floods[0]["peak"] + max(32.0, 0.1 * (floods[0]["peak"] - rss_start)), floods
    log = srv.log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]

    report = os.environ.get("ISTHMUS_WS_REPORT")
    if report:
        lat = sorted(normal.latencies_ms)
        heads, sockets = loris_closed_s[:SLOW_LORIS], loris_closed_s[SLOW_LORIS:]
        figures = {
            "flood": FLOOD, "slow_loris": 2 * SLOW_LORIS, "server_fd_limit": _server_fd_limit(srv),
            "flood_open_s": round(opened_s, 1), "flood_close_s": round(closed_s, 1),
            "head_loris_closed_s": [round(min(heads), 1), round(max(heads), 1)],
            "ws_loris_closed_s": [round(min(sockets), 1), round(max(sockets), 1)],
            "normal_requests": len(lat), "normal_failures": len(normal.failures),
            "latency_ms_p50": round(statistics.median(lat), 1), "latency_ms_p95": round(lat[int(len(lat) * .95)], 1),
            "latency_ms_max": round(lat[-1], 1), "rss_start_mib": round(rss_start, 1),
            "rss_peak_mib": round(rss_peak, 1), "rss_hwm_mib": round(hwm, 1), "rss_after_mib": round(rss_after, 1),
            "floods": [{k: round(v, 1) for k, v in f.items()} for f in floods]}
        with open(report, "a") as fh:  # noqa: ASYNC230
            fh.write(json.dumps(figures) + "\n")


@pytest.fixture
def small_server(spawn: SpawnServer) -> ServerProcess:
    # a sync fixture: making the PostgreSQL database runs its own event loop
    return spawn("wscaps", env={**ENV, "MM_RATELIMITSETTINGS_MAXWEBSOCKETSPERADDRESS": "5",
                                "MM_RATELIMITSETTINGS_MAXWEBSOCKETS": "8"}).start()


async def test_caps_refuse_the_upgrade_with_an_app_error(small_server: ServerProcess) -> None:
    srv = small_server
    who = await _account(srv)
    mine = [await _open(srv, who.token, "127.0.3.1") for _ in range(5)]
    for _ in range(3):
        with pytest.raises(InvalidStatus) as refused:
            await _open(srv, who.token, "127.0.3.1")
    # logged, once a minute per address, not once per refused socket
    assert srv.log().count("websocket refused: 5 already open from 127.0.3.1") == 1, srv.log()[-2000:]
    body = json.loads(refused.value.response.body or b"{}")
    assert refused.value.response.status_code == 429 and body["status_code"] == 429, body
    assert body["id"] == "api.web_socket.too_many_from_address" and body["request_id"], body
    mine += [await _open(srv, who.token, "127.0.3.2") for _ in range(3)]
    with pytest.raises(InvalidStatus) as full:
        await _open(srv, who.token, "127.0.3.3")  # another address, but the server holds its 8
    body = json.loads(full.value.response.body or b"{}")
    assert full.value.response.status_code == 503 and body["id"] == "api.web_socket.server_full", body
    assert full.value.response.headers["Retry-After"]
    # REST still answers meanwhile, and a closed socket frees its place
    assert (await who.http.get("/api/v4/users/me")).status_code == 200
    await mine.pop().close()
    await mine.pop(0).close()
    deadline = time.monotonic() + 10
    while True:
        try:
            mine.append(await _open(srv, who.token, "127.0.3.1"))
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "a closed websocket never freed its place"
            await asyncio.sleep(0.1)
    for ws in mine:
        await ws.close()
    # a request head bigger than 64 KiB is refused, not buffered
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /api/v4/system/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert "Traceback" not in srv.log(), srv.log()[-3000:]
