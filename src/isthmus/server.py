"""Composition root: builds and owns every service of one Isthmus node.

``Server(config_store)`` wires the database, event bus and domain; later layers (realtime hub,
federation sender, command registry) attach here too. Tests build it with overrides (clock,
http transport, bcrypt cost) and several can live in one process, one per simulated workspace.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import partial
from typing import Any

from isthmus.cluster.service import ClusterService
from isthmus.commands.builtin import build_registry
from isthmus.commands.share_channel import share_channel_command
from isthmus.config import ConfigStore
from isthmus.core.clock import Clock, SystemClock
from isthmus.core.events import EventBus
from isthmus.domain.context import Domain
from isthmus.domain.roles import load_roles
from isthmus.federation.connections import Connections
from isthmus.federation.sender_leases import SenderLeases
from isthmus.federation.sync.service import SharedChannels
from isthmus.realtime.hub import Hub
from isthmus.realtime.reminders import Reminders
from isthmus.store.engine import Database, sqlalchemy_url
from isthmus.store.migrate import upgrade

log = logging.getLogger("isthmus")

MIN_BCRYPT_COST = 10  # Mattermost's cost
STATUS_SWEEP_LEASE = "job:status-sweep"
REMINDERS_LEASE = "job:reminders"


def bcrypt_cost_from_env(environ: Mapping[str, str]) -> int:
    """``ISTHMUS_BCRYPT_COST``, but never below 10 unless ``ISTHMUS_TESTING=1`` is set as well.

    Low costs only exist to keep test suites fast; a stray low value left in a production
    environment would make stolen password hashes cheap to crack, so it is raised (with a warning).
    """
    raw = environ.get("ISTHMUS_BCRYPT_COST", "").strip()
    try:
        cost = int(raw) if raw else MIN_BCRYPT_COST
    except ValueError:
        log.warning("ISTHMUS_BCRYPT_COST=%r is not a number; using %d", raw, MIN_BCRYPT_COST)
        cost = MIN_BCRYPT_COST
    floor = 4 if environ.get("ISTHMUS_TESTING") == "1" else MIN_BCRYPT_COST  # 4: bcrypt's minimum
    if cost < floor:
        log.warning("ISTHMUS_BCRYPT_COST=%d is below %d; using %d (set ISTHMUS_TESTING=1 for test runs)",
                    cost, floor, floor)
    return min(31, max(floor, cost))  # 31: bcrypt's maximum


class Server:
    def __init__(self, config_store: ConfigStore, *, clock: Clock | None = None,
                 http_transport: Any = None, bcrypt_cost: int | None = None) -> None:
        self.config_store = config_store
        cfg = config_store.config
        self.db = Database(sqlalchemy_url(cfg.SqlSettings.DriverName, cfg.SqlSettings.DataSource),
                           pool_size=cfg.SqlSettings.MaxOpenConns)
        self.bus = EventBus()
        self.clock: Clock = clock or SystemClock()
        self.http_transport = http_transport
        cost = bcrypt_cost if bcrypt_cost is not None else bcrypt_cost_from_env(os.environ)
        self.domain = Domain(db=self.db, bus=self.bus, clock=self.clock, config_store=config_store,
                             bcrypt_cost=cost)
        # Several processes on one database: node registry, leases, cross-process events (isthmus.cluster).
        self.cluster = ClusterService(self.domain)
        self.hub = Hub(self.domain)
        self.cluster.leases.want(STATUS_SWEEP_LEASE)
        self.hub.may_sweep_statuses = partial(self.cluster.leases.acquire, STATUS_SWEEP_LEASE)
        # Persistent notifications of urgent posts: a periodic job reminds the people they name.
        self.reminders = Reminders(self.domain)
        self.cluster.leases.want(REMINDERS_LEASE)
        self.reminders.may_run = partial(self.cluster.leases.acquire, REMINDERS_LEASE)
        # Secure connections; its ping loop runs only while EnableRemoteClusterService is on.
        self.connections = Connections(self.domain, http_transport=http_transport)
        self.connections.leases = self.connections.pinger.leases = self.cluster.leases
        # Shared channels (sync engine); its sender runs only while EnableSharedChannels is on.
        self.shared_channels = SharedChannels(self.domain, self.connections)
        self.shared_channels.outbound.leases = SenderLeases(self.cluster.leases)
        # Slash commands (built-ins, /secure-connection, /share-channel); more commands are registered on it.
        self.commands = build_registry(self.domain, self.connections,
                                       extra=[share_channel_command(self.shared_channels)])
        self.started = False

    @property
    def config(self) -> Any:
        return self.config_store.config

    async def bootstrap(self) -> None:
        """Migrations and roles only: enough for one-shot CLI commands, which must not start the
        websocket hub, the connection ping loop or the shared-channel sender."""
        await upgrade(self.db)
        await load_roles(self.domain)

    async def start(self) -> None:
        await self.bootstrap()
        await self.cluster.start()
        # Users connected to another live process are not offline: only a process alone resets statuses.
        self.hub.reset_statuses_at_start = await self.cluster.alone()
        await self.hub.start()
        await self.connections.start()
        await self.shared_channels.start()
        await self.reminders.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        await self.commands.stop()
        await self.reminders.stop()
        await self.shared_channels.stop()
        await self.connections.stop()
        await self.hub.stop()
        await self.cluster.stop()
        await self.db.dispose()
