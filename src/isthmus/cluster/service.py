"""The cluster side of one serving process, built by the composition root (``isthmus.server``).

* registers this process in ``cluster_nodes`` and keeps its heartbeat (``nodes``);
* holds the leases (``leases``) that make the federation sender, the pinger and the periodic jobs run in
  exactly one process;
* with ``ClusterSettings.Enable`` on PostgreSQL, relays events between processes (``bus``) and, before a
  peer's events reach local listeners, drops what they make stale in this process's caches: sessions
  (revoked, a role or profile change), statuses, roles; saved config is applied here too.

SQLite, or Enable off: one process. The registry and the lease rows are still written (one code path),
leases always go to this process, and there is no bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from isthmus.cluster.bus import Relay, Transport
from isthmus.cluster.leases import TICK_MS, Leases
from isthmus.cluster.nodes import NodeRegistry
from isthmus.cluster.transports import PostgresTransport, RedisTransport, channel_name
from isthmus.config import Config, ConfigError
from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain import statuses
from isthmus.domain.context import Domain
from isthmus.domain.roles import load_roles
from isthmus.domain.sessions import SESSIONS_REVOKED
from isthmus.domain.sharing.shares import EVENT_ARCHIVED_UNSHARED, EVENT_CONNECTION_UNSHARED
from isthmus.domain.users import forget_user

STOP_WRITES_S = 3.0  # how long a stopping process tries to hand back its leases and sign off
log = logging.getLogger(__name__)

# Their listeners do work once per workspace (notices, messages to a peer): run by the process that made them.
LOCAL_ONLY = frozenset({EVENT_ARCHIVED_UNSHARED, EVENT_CONNECTION_UNSHARED})
# After these, a cached session of event.user_id may be revoked or carry old roles.
SESSION_EVENTS = frozenset({SESSIONS_REVOKED, "user_updated", "user_role_updated"})


class ClusterService:
    def __init__(self, d: Domain) -> None:
        self.d = d
        self.node_id = new_id()
        cfg = d.config.ClusterSettings
        self.enabled = bool(cfg.Enable) and not d.db.is_sqlite
        self.nodes = NodeRegistry(d.db, d.clock, d.config_store, self.node_id)
        self.leases = Leases(d.db, d.clock, self.node_id, single=not self.enabled)
        self.relay: Relay | None = None
        self._task: asyncio.Task[None] | None = None
        self._applying_config = False
        self._listening = False
        self._yields: set[asyncio.Task[None]] = set()

    def _transport(self) -> Transport:
        cfg = self.d.config
        source = cfg.SqlSettings.DataSource
        channel = channel_name(source, cfg.ClusterSettings.ClusterName)
        if cfg.ClusterSettings.BusURL:
            return RedisTransport(cfg.ClusterSettings.BusURL, channel)
        return PostgresTransport(source, channel)

    async def start(self) -> None:
        await self.nodes.register(forget_dead_here=not self.enabled)
        if self.enabled and self.relay is None:
            self.relay = Relay(self.d.bus, self._transport(), self.node_id, local_only=LOCAL_ONLY,
                               before_publish=self._invalidate, on_control=self._on_control,
                               on_reconnect=self._drop_caches)
            await self.relay.start()
            relay = self.relay
            self.leases.ask_to_yield = lambda name: relay.send_control({"yield": name})
            if not self._listening:
                self.d.config_store.on_change(self._config_saved)
                self._listening = True
        elif not self.enabled and await self.nodes.others_alive():
            log.error("another isthmus process serves this database but ClusterSettings.Enable is off here: "
                      "set ClusterSettings.Enable=true in every process, or each will send to connected "
                      "workspaces on its own and websocket clients will miss each other's events")
        self._task = asyncio.create_task(self._beat(), name="isthmus-cluster-heartbeat")

    async def stop_heartbeat(self) -> None:
        """No more heartbeats or lease renewals (also what a crash looks like to the other processes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def stop(self) -> None:
        await self.stop_heartbeat()
        # Courtesy writes, bounded: with the database away a shutdown must not wait for it (the leases expire and
        # the node's heartbeat goes stale by themselves; a PostgreSQL outage test hung here past 30 s).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.leases.release_all(), STOP_WRITES_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nodes.unregister(), STOP_WRITES_S)
        if self.relay is not None:
            self.leases.ask_to_yield = None
            await self.relay.stop()
            self.relay = None

    async def alone(self) -> bool:
        """No other live process on this database (SQLite or Enable off: always)."""
        return not self.enabled or not await self.nodes.others_alive()

    async def live_nodes(self) -> list[dict[str, Any]]:
        return await self.nodes.live()

    async def _beat(self) -> None:
        beat_every = self.leases.timings.renew_ms
        last_beat = self.d.clock.now_ms()
        while True:
            await asyncio.sleep(TICK_MS / 1000)
            try:
                await self.leases.tick()
                if self.d.clock.now_ms() - last_beat >= beat_every:
                    last_beat = self.d.clock.now_ms()
                    await self.nodes.heartbeat()
                    if self.enabled:
                        self.leases.live_nodes = max(1, len(await self.nodes.live()))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database is away: leases run out on their own (Leases.holds)
                log.warning("cluster heartbeat failed: %s", err)

    # ---- what a peer's events make stale here ----------------------------------------------------

    async def _invalidate(self, events: list[Event]) -> None:
        for e in events:
            if e.kind in SESSION_EVENTS and e.user_id:
                forget_user(self.d, e.user_id)
            elif e.kind == "status_change" and e.user_id:
                statuses.forget_cached(self.d, e.user_id)
            elif e.kind == "role_updated":
                await load_roles(self.d)

    def _drop_caches(self) -> None:
        """Messages may have been lost (the bus reconnected): nothing cached here can be trusted."""
        for name in ("sessions", "statuses"):
            cache = self.d.caches.get(name)
            if isinstance(cache, dict):
                cache.clear()
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(load_roles(self.d))

    # ---- config ----------------------------------------------------------------------------------

    def _config_saved(self, _config: Config) -> None:
        if self.relay is not None and not self._applying_config:
            self.relay.send_control({"config": self.d.config_store.file_document()})

    async def _on_control(self, body: dict[str, Any]) -> None:
        wanted = body.get("yield")
        if isinstance(wanted, str):  # not awaited here: the holder waits for its request in flight first
            task = asyncio.get_running_loop().create_task(self.leases.yield_lease(wanted))
            self._yields.add(task)
            task.add_done_callback(self._yields.discard)
            return
        doc = body.get("config")
        if not isinstance(doc, dict):
            return
        self._applying_config = True  # applying it must not send it back
        try:
            self.d.config_store.replace(doc)
        except ConfigError as err:
            log.error("config saved in another process is not valid here, kept ours: %s", err)
        finally:
            self._applying_config = False
