"""Bus transports: PostgreSQL LISTEN/NOTIFY (default) and Redis pub/sub (``ClusterSettings.BusURL``).

Each keeps one dedicated connection for listening (asyncpg ``add_listener`` / a Redis ``PubSub``) and one
for sending, and reconnects on its own after a loss, calling ``on_reconnect`` since messages sent in the
gap are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from isthmus.cluster.bus import PG_PAYLOAD_LIMIT, OnMessage

log = logging.getLogger(__name__)
RECONNECT_S = 1.0


def channel_name(data_source: str, cluster_name: str) -> str:
    """One channel per workspace database (a Redis may serve several workspaces), no credentials in it."""
    parts = urlsplit(data_source)
    where = urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))
    digest = hashlib.sha256(f"{cluster_name}|{where}|{parts.port}".encode()).hexdigest()[:16]
    return f"isthmus_{digest}"


def asyncpg_dsn(data_source: str) -> str:
    return data_source.replace("postgresql+asyncpg://", "postgresql://", 1)


class PostgresTransport:
    max_payload: int | None = PG_PAYLOAD_LIMIT

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = asyncpg_dsn(dsn)
        self.channel = channel
        self._listen: Any = None
        self._send: Any = None
        self._on_message: OnMessage | None = None
        self._on_reconnect: Callable[[], None] = lambda: None
        self._watch: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

    async def start(self, on_message: OnMessage, on_reconnect: Callable[[], None]) -> None:
        self._on_message, self._on_reconnect = on_message, on_reconnect
        await self._connect_listener()
        self._watch = asyncio.create_task(self._watchdog(), name="isthmus-cluster-bus-pg-watch")

    async def _connect_listener(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        await conn.add_listener(self.channel, self._notified)
        self._listen = conn

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._on_message is not None:
            self._on_message(payload)

    async def _watchdog(self) -> None:
        """A dropped listening connection is replaced; what was sent meanwhile is lost (caches dropped)."""
        while True:
            await asyncio.sleep(RECONNECT_S)
            if self._listen is not None and not self._listen.is_closed():
                continue
            try:
                await self._connect_listener()
            except Exception as err:
                log.warning("cluster bus: PostgreSQL listener not reconnected yet: %s", err)
                continue
            log.info("cluster bus: PostgreSQL listener reconnected")
            self._on_reconnect()

    async def send(self, payload: str) -> None:
        import asyncpg

        async with self._send_lock:
            if self._send is None or self._send.is_closed():
                self._send = await asyncpg.connect(self.dsn)
            await self._send.execute("SELECT pg_notify($1, $2)", self.channel, payload)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        for conn in (self._listen, self._send):
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close(timeout=5)
        self._listen = self._send = None


class RedisTransport:
    max_payload: int | None = None

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, on_message: OnMessage, on_reconnect: Callable[[], None]) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.from_url(self.url, decode_responses=True)
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self.channel)  # before start returns: nothing published after it is missed
        self._task = asyncio.create_task(self._listen(pubsub, on_message, on_reconnect),
                                         name="isthmus-cluster-bus-redis")

    async def _listen(self, pubsub: Any, on_message: OnMessage, on_reconnect: Callable[[], None]) -> None:
        while True:
            try:
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if msg is not None and msg.get("type") == "message":
                        on_message(str(msg["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("cluster bus: Redis subscription lost (%s); reconnecting", err)
                await asyncio.sleep(RECONNECT_S)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                pubsub = self._client.pubsub()
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(self.channel)
                    on_reconnect()

    async def send(self, payload: str) -> None:
        await self._client.publish(self.channel, payload)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
