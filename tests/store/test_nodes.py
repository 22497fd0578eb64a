"""The node registry (``isthmus.cluster.nodes``) on the real database: a process alone by configuration,
starting on a machine, drops the rows of processes of that machine that are gone (a restart after ``kill -9``
would otherwise see its dead predecessor as another live process for ten seconds, and say so as an error); rows
of other machines and of processes still running stay, and with clustering on nothing is dropped."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from isthmus.cluster.nodes import NodeRegistry
from isthmus.config import ConfigStore
from isthmus.core.clock import FakeClock
from isthmus.core.ids import new_id
from isthmus.store.engine import Database
from isthmus.store.repo import cluster as repo
from tests.store.test_repos import db, db_url

__all__ = ["db", "db_url"]  # fixtures, re-exported so pytest finds them here


def _row(node_id: str, hostname: str, pid: int, now: int) -> dict[str, object]:
    return {"id": node_id, "cluster_name": "", "hostname": hostname, "pid": pid, "address": "", "version": "x",
            "config_hash": "", "schema_version": "", "started_at": now, "last_seen_at": now}


async def test_a_starting_process_forgets_dead_processes_of_its_machine_only(db: Database, tmp_path: Path) -> None:
    clock = FakeClock()
    now = clock.now_ms()
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    dead_pid = gone.pid
    here = socket.gethostname()
    dead, running, elsewhere = new_id(), new_id(), new_id()
    async with db.write() as conn:
        await repo.upsert_node(conn, _row(dead, here, dead_pid, now))
        await repo.upsert_node(conn, _row(running, here, os.getppid(), now))
        await repo.upsert_node(conn, _row(elsewhere, here + "-other-machine", dead_pid, now))

    store = ConfigStore(tmp_path / "config.json", environ={})
    clustered = NodeRegistry(db, clock, store, new_id())
    await clustered.register()  # clustering on: a pid missing here may live in another container of this name
    assert {n["id"] for n in await clustered.live()} == {clustered.node_id, dead, running, elsewhere}
    await clustered.unregister()

    me = NodeRegistry(db, clock, store, new_id())
    await me.register(forget_dead_here=True)  # alone by configuration
    assert {n["id"] for n in await me.live()} == {me.node_id, running, elsewhere}
    assert await me.others_alive()
