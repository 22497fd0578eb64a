"""The node registry: every serving process has a ``cluster_nodes`` row, refreshed by a heartbeat.

A row seen within ``NODE_TIMEOUT_MS`` is a live process (``GET /api/v4/cluster/status`` lists those);
rows of processes that died without a clean stop are deleted by the next live process after
``FORGET_AFTER_MS``. A process that runs alone by configuration (SQLite, or ClusterSettings.Enable off) also drops
at once the rows of its machine whose pid is gone: a restart after ``kill -9`` must not take its dead predecessor
for another process and say so as an error. (Not with clustering on: containers may share a hostname but not a pid
space, so a pid missing here may be alive elsewhere.)
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from typing import Any

from isthmus import SERVER_VERSION
from isthmus.config import ConfigStore
from isthmus.core.clock import Clock
from isthmus.store.engine import Database
from isthmus.store.repo import cluster as repo

NODE_TIMEOUT_MS = 10_000
FORGET_AFTER_MS = 10 * 60_000


def config_hash(store: ConfigStore) -> str:
    """Mattermost's ClusterInfo.ConfigHash: processes with different settings show different hashes
    (secrets and the per-process listen address left out)."""
    doc = store.config.model_dump()
    doc["SqlSettings"].pop("DataSource", None)
    doc["ClusterSettings"].pop("BusURL", None)
    doc["ServiceSettings"].pop("ListenAddress", None)
    return hashlib.md5(json.dumps(doc, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


class NodeRegistry:
    def __init__(self, db: Database, clock: Clock, config_store: ConfigStore, node_id: str) -> None:
        self.db = db
        self.clock = clock
        self.config_store = config_store
        self.node_id = node_id
        self.started_at = 0
        self.registered = False

    def _row(self, now: int, schema_version: str) -> dict[str, Any]:
        cfg = self.config_store.config
        return {"id": self.node_id, "cluster_name": cfg.ClusterSettings.ClusterName,
                "hostname": socket.gethostname(), "pid": os.getpid(),
                "address": cfg.ServiceSettings.ListenAddress, "version": SERVER_VERSION,
                "config_hash": config_hash(self.config_store), "schema_version": schema_version,
                "started_at": self.started_at, "last_seen_at": now}

    async def register(self, *, forget_dead_here: bool = False) -> None:
        now = self.clock.now_ms()
        self.started_at = self.started_at or now
        async with self.db.write() as conn:
            row = self._row(now, await repo.select_schema_version(conn))
            for other in await repo.select_live_nodes(conn, now - NODE_TIMEOUT_MS) if forget_dead_here else []:
                if other["id"] != self.node_id and other["hostname"] == row["hostname"] and \
                        not _pid_alive(int(other["pid"] or 0)):
                    await repo.delete_node(conn, other["id"])
            await repo.upsert_node(conn, row)
            await repo.delete_nodes_seen_before(conn, now - FORGET_AFTER_MS)
        self.registered = True

    async def heartbeat(self) -> None:
        now = self.clock.now_ms()
        async with self.db.write() as conn:
            if not await repo.touch_node(conn, self.node_id, now):  # forgotten meanwhile: register again
                await repo.upsert_node(conn, self._row(now, await repo.select_schema_version(conn)))

    async def unregister(self) -> None:
        if not self.registered:
            return
        self.registered = False
        async with self.db.write() as conn:
            await repo.delete_node(conn, self.node_id)

    async def live(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            return await repo.select_live_nodes(conn, self.clock.now_ms() - NODE_TIMEOUT_MS)

    async def others_alive(self) -> bool:
        return any(n["id"] != self.node_id for n in await self.live())


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown: leave it to its heartbeat's timeout
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, someone else's
        return True
    return True
