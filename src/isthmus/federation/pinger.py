"""The ping loop and each connection's online/offline state (``mattermost-protocol.md`` §4).

Every ``ping_interval_s`` (60 s) we ping every confirmed connection; a success stores
``last_ping_at = now`` in our own database (the receiver stores nothing). A connection is online
while ``last_ping_at > now − offline_after_ms`` (5 min).

State changes are published on the EventBus as ``remote_cluster_online`` / ``remote_cluster_offline``
(``origin`` = the connection id) for the sync engine to subscribe to. Unlike Mattermost, the last
published state is remembered per connection, so going offline is noticed by the first failed ping
after the threshold rather than only when the threshold happens to be crossed during a ping. And, as
Mattermost #37499 recommends, a failed ping or a failed send (:meth:`Pinger.mark_send_failed`) makes
the next successful ping announce ``online`` again even if the 5-minute window never closed, so short
outages still trigger a resync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from isthmus.cluster.leases import Leases
from isthmus.core.events import Event
from isthmus.core.waiting import wait_event
from isthmus.domain.context import Domain
from isthmus.domain.remotes import RemoteCluster, do_record_ping, list_remotes
from isthmus.federation.backoff import Backoff
from isthmus.federation.settings import Timings
from isthmus.federation.transport import RemoteClient, TransportError
from isthmus.store.failures import classify
from isthmus.store.repo.remotes import RemoteFilter

log = logging.getLogger(__name__)

EVENT_ONLINE = "remote_cluster_online"
EVENT_OFFLINE = "remote_cluster_offline"
MAX_CONCURRENT_PINGS = 10
PING_LEASE = "job:pinger"  # several serving processes: one pings (isthmus.cluster)


def state_event(rc: RemoteCluster, online: bool) -> Event:
    return Event(kind=EVENT_ONLINE if online else EVENT_OFFLINE,
                 data={"remote_id": rc.remote_id, "name": rc.name, "online": online}, origin=rc.remote_id)


class Pinger:
    def __init__(self, d: Domain, client: RemoteClient, timings: Timings) -> None:
        self.d = d
        self.client = client
        self.timings = timings
        self._known: dict[str, bool] = {}          # last state we published (or saw at startup)
        self._failed_since_ping: set[str] = set()  # #37499: announce online again after a failure
        self._backoff: dict[str, Backoff] = {}     # only to keep logs quiet for a dead peer
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._wake: asyncio.Event | None = None
        # Set by the composition root: with several processes only the holder of PING_LEASE pings.
        self.leases: Leases | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._wake = asyncio.Event()
        if self.leases is not None:
            self.leases.want(PING_LEASE, self.wake)  # taken over: ping at once, not at the next round
        self._task = asyncio.get_running_loop().create_task(self._run(), name="isthmus-remote-ping")

    async def stop(self) -> None:
        if self.leases is not None:
            self.leases.unwant(PING_LEASE)
        tasks = [t for t in [self._task, *self._background] if t is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._background.clear()

    def wake(self) -> None:
        """Run a ping round now instead of at the next tick."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                if self.leases is None or await self.leases.acquire(PING_LEASE):
                    await self.ping_all()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if classify(err) is None:
                    log.exception("remote cluster ping round failed")
                else:  # the database is away or full: say so in one line, not a traceback every round
                    log.warning("remote cluster ping round skipped: %s", classify(err))
            assert self._wake is not None
            await wait_event(self._wake, self.timings.ping_interval_s)
            self._wake.clear()

    async def ping_all(self) -> None:
        remotes = await list_remotes(self.d, RemoteFilter(only_confirmed=True, exclude_plugins=True))
        slots = asyncio.Semaphore(MAX_CONCURRENT_PINGS)

        async def one(rc: RemoteCluster) -> None:
            async with slots:
                await self.ping_now(rc)

        await asyncio.gather(*(one(rc) for rc in remotes))

    def is_online(self, rc: RemoteCluster) -> bool:
        return rc.is_online(self.d.now(), self.timings.offline_after_ms)

    def mark_send_failed(self, remote_id: str) -> None:
        """Call after a failed or unconfirmed send: the next good ping re-announces ``online``."""
        self._failed_since_ping.add(remote_id)

    def forget(self, remote_id: str) -> None:
        for table in (self._known, self._backoff, self._locks):
            table.pop(remote_id, None)
        self._failed_since_ping.discard(remote_id)

    async def ping_now(self, rc: RemoteCluster) -> bool:
        """Ping one connection, store the result and publish a state change. Never raises."""
        if not rc.is_confirmed or rc.is_plugin or rc.delete_at:
            return False
        lock = self._locks.setdefault(rc.remote_id, asyncio.Lock())
        async with lock:
            return await self._ping_locked(rc)

    async def _ping_locked(self, rc: RemoteCluster) -> bool:
        was_online = self._known.get(rc.remote_id, self.is_online(rc))
        backoff = self._backoff.setdefault(rc.remote_id, Backoff(self.d.clock))
        try:
            await self.client.ping(rc.site_url, remote_id=rc.remote_id, token=rc.remote_token,
                                   now_ms=self.d.now())
        except TransportError as err:
            self._failed_since_ping.add(rc.remote_id)
            backoff.on_failure()
            if backoff.should_log():
                log.warning("ping to secure connection %s (%s) failed (%d in a row): %s", rc.name, rc.remote_id,
                            backoff.failures, err)
            online = self.is_online(rc)
            if was_online and not online:
                self._known[rc.remote_id] = False
                await self.d.bus.publish([state_event(rc, False)])
            else:
                self._known.setdefault(rc.remote_id, online)
            return False
        if backoff.failures:
            log.info("secure connection %s (%s) answers pings again", rc.name, rc.remote_id)
        backoff.on_success()
        announce = not was_online or rc.remote_id in self._failed_since_ping
        events = [state_event(rc, True)] if announce else []
        if not await do_record_ping(self.d, rc.remote_id, self.d.now(), events):
            return False  # deleted meanwhile
        self._known[rc.remote_id] = True
        self._failed_since_ping.discard(rc.remote_id)
        return True

    def ping_soon(self, rc: RemoteCluster) -> None:
        """Fire one ping in the background (right after a handshake)."""
        self.spawn(self.ping_now(rc))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
