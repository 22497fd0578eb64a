"""A small HTTP/1.1-aware asyncio TCP proxy on loopback that injects faults between real servers.

It sits where one server believes its peer lives (the peer's SiteURL as the other side sees it), reads
each request whole (headers + Content-Length body), and forwards it over a fresh upstream connection
with ``Connection: close`` so every exchange is one request and one answer. A fault hits a request
with probability ``rate`` (seeded, so a failing run can be replayed):

- ``drop``: the request is read and the client connection is closed; nothing reaches the peer.
- ``delay``: the request waits a random 0–``max_delay_s`` seconds before it is forwarded.
- ``reset_mid``: half the request is forwarded, then both sides are reset (RST, not FIN).
- ``reset_after``: the peer receives and applies the request; the client is reset before the answer.
- ``duplicate``: the peer receives the request twice (the second answer is returned).
- ``truncate``: the peer applies the request; the client gets the answer cut in the middle of its body.
- ``blackhole``: for ``blackhole_s`` seconds after the first hit every connection is accepted and
  read, and never answered (held open until the window ends), like a link that silently eats packets.
- ``pass``: no faults (a baseline).

Counts of what happened are in :attr:`FaultProxy.stats` so a test can show the faults really fired.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

MODES = ("pass", "drop", "delay", "reset_mid", "reset_after", "duplicate", "truncate", "blackhole")
MAX_HEADER = 64 * 1024


@dataclass
class FaultPlan:
    mode: str = "pass"
    rate: float = 0.3
    max_delay_s: float = 2.0
    blackhole_s: float = 3.0
    seed: int = 18
    # Only requests whose path starts with one of these are faulted (empty: all of them).
    paths: tuple[str, ...] = ()
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        assert self.mode in MODES, self.mode
        self.rng = random.Random(self.seed)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on with a zero timeout discards the send buffer and resets."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes, str] | None:
    """(head with Connection: close, body, path) of one request, or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head[:-4].split(b"\r\n")
    path = lines[0].split(b" ")[1].decode("latin-1") if len(lines[0].split(b" ")) > 1 else ""
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        low = name.strip().lower()
        if low == b"content-length":
            length = int(value.strip())
        if low in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    kept.append(b"Connection: close")
    body = await reader.readexactly(length) if length else b""
    return b"\r\n".join(kept) + b"\r\n\r\n", body, path


class FaultProxy:
    """``FaultProxy(upstream_port).start()`` listens on ``self.port`` in its own thread."""

    def __init__(self, upstream_port: int, plan: FaultPlan | None = None) -> None:
        self.upstream_port = upstream_port
        self.plan = plan or FaultPlan()
        self.stats: Counter[str] = Counter()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._blackhole_until = 0.0
        self._started = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._blackhole_until = 0.0
        self.stats = Counter()

    def start(self) -> FaultProxy:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._listen())
            self._started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="faultproxy")
        self._thread.start()
        assert self._started.wait(10), "fault proxy did not start"
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=MAX_HEADER)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _pick(self, path: str) -> str:
        plan = self.plan
        if plan.mode == "pass" or (plan.paths and not path.startswith(plan.paths)):
            return "pass"
        if plan.mode == "blackhole":
            now = time.monotonic()
            if self._blackhole_until == 0.0 and plan.rng.random() < plan.rate:
                self._blackhole_until = now + plan.blackhole_s
            return "blackhole" if now < self._blackhole_until else "pass"
        return plan.mode if plan.rng.random() < plan.rate else "pass"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                writer.close()
                return
            head, body, path = request
            fault = self._pick(path)
            self.stats[fault] += 1
            await self._handle(fault, head, body, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            writer.transport.abort()
        except asyncio.CancelledError:
            writer.transport.abort()
            raise

    async def _handle(self, fault: str, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        if fault == "drop":
            writer.close()
            return
        if fault == "blackhole":
            await asyncio.sleep(max(0.0, self._blackhole_until - time.monotonic()))
            writer.close()
            return
        if fault == "delay":
            await asyncio.sleep(self.plan.rng.uniform(0, self.plan.max_delay_s))
        if fault == "reset_mid":
            _, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            whole = head + body
            up_writer.write(whole[: max(1, len(whole) // 2)])
            await up_writer.drain()
            _reset(up_writer)
            _reset(writer)
            return
        answer = await self._forward(head, body)
        if fault == "duplicate":
            answer = await self._forward(head, body)
        if fault == "reset_after":
            _reset(writer)
            return
        if fault == "truncate":
            split = answer.find(b"\r\n\r\n")
            cut = split + 4 + max(0, (len(answer) - split - 4) // 2) if split >= 0 else len(answer) // 2
            writer.write(answer[:cut])
            await writer.drain()
            _reset(writer)
            return
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            up_writer.write(head + body)
            await up_writer.drain()
            return await up_reader.read(-1)
        finally:
            up_writer.close()


class TcpGate:
    """A raw TCP forwarder (e.g. in front of PostgreSQL) that can be shut: :meth:`shut` cuts every open
    connection and resets new ones until :meth:`open` is called, like a database host that went away."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.is_open = True
        self.refused = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self) -> TcpGate:
        async def listen() -> None:
            server = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = int(server.sockets[0].getsockname()[1])

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(listen())
            self._started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="tcpgate")
        self._thread.start()
        assert self._started.wait(10), "tcp gate did not start"
        return self

    def shut(self) -> None:
        self.is_open = False
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._cut_all)

    def open(self) -> None:
        self.is_open = True

    def stop(self) -> None:
        self.shut()
        loop = self._loop
        if loop is None:
            return

        async def cancel_all() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _cut_all(self) -> None:
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_open:
            self.refused += 1
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        self._writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers -= {writer, up_writer}
