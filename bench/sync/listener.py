"""A websocket client on the receiving server that timestamps every ``posted`` event of one channel.

It authenticates like the Mattermost webapp (``Authorization`` header on the upgrade), checks the
``seq`` contract on the way, and records by *message text* (the benchmark puts a unique id in every
message), so a duplicate delivery shows up as a count of 2 and a post that never came as a missing key.
Arrival times are ``time.monotonic()`` taken as soon as the frame is read, before any parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter

import aiohttp
from bench.sync.cluster import BenchError, new_session


class Listener:
    def __init__(self, base_url: str, token: str, channel_ids: set[str]) -> None:
        self.base_url = base_url
        self.token = token
        self.channel_ids = channel_ids
        self.seen: dict[str, float] = {}         # message text -> first arrival
        self.counts: Counter[str] = Counter()    # message text -> posted events received
        self.last_progress = time.monotonic()
        self.prefix = ""                         # first arrivals of texts starting with it are counted cheaply
        self.prefix_seen = 0
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def start(self) -> None:
        self._session = new_session(self.base_url, self.token)
        ws = await self._session.ws_connect("/api/v4/websocket", max_msg_size=1 << 24, heartbeat=None)
        hello = json.loads((await ws.receive(timeout=30)).data)
        if hello.get("event") != "hello":
            raise BenchError(f"websocket did not say hello: {hello}")
        self._task = asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        seq = 1
        try:
            async for frame in ws:
                now = time.monotonic()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = json.loads(frame.data)
                if "seq" in event:
                    if event["seq"] != seq:
                        raise BenchError(f"websocket seq {event['seq']} != expected {seq}")
                    seq += 1
                if event.get("event") != "posted":
                    continue
                post = json.loads(event["data"]["post"])
                if post.get("channel_id") not in self.channel_ids:
                    continue
                text = post.get("message", "")
                self.counts[text] += 1
                if text not in self.seen:
                    self.seen[text] = now
                    self.last_progress = now
                    if self.prefix and text.startswith(self.prefix):
                        self.prefix_seen += 1
                    fut = self._waiters.pop(text, None)
                    if fut is not None and not fut.done():
                        fut.set_result(now)
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # surfaced by wait_for/wait_all instead of dying silently
            self.error = err
        finally:
            await ws.close()

    async def wait_for(self, text: str, within: float) -> float | None:
        """Arrival time of ``text`` (waiting up to ``within`` s); None if it never came."""
        if text in self.seen:
            return self.seen[text]
        fut = self._waiters.setdefault(text, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(fut), within)
        except TimeoutError:
            self._raise_if_broken()
            return None

    def expect(self, prefix: str) -> None:
        """Count first arrivals of texts starting with ``prefix`` from now on (cheap completion checks)."""
        self.prefix = prefix
        self.prefix_seen = sum(1 for t in self.seen if t.startswith(prefix))

    async def wait_count(self, n: int, deadline: float) -> bool:
        """True once ``n`` texts with the :meth:`expect` prefix arrived; False at ``deadline`` (monotonic)."""
        while self.prefix_seen < n:
            self._raise_if_broken()
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def wait_all(self, texts: list[str], deadline: float) -> bool:
        """True once every text arrived; False at ``deadline`` (monotonic)."""
        pending = [t for t in texts if t not in self.seen]
        while pending and time.monotonic() < deadline:
            self._raise_if_broken()
            await asyncio.sleep(0.02)
            pending = [t for t in pending if t not in self.seen]
        return not pending

    def _raise_if_broken(self) -> None:
        if self.error is not None:
            raise BenchError(f"websocket listener failed: {self.error!r}")
        if self._task is not None and self._task.done():
            raise BenchError("websocket closed by the server")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._session is not None:
            await self._session.close()
