"""The shared-channel sender: one single-flight queue per connection (architecture §7).

Durable truth is the database: ``sync_outbox`` rows (written in the transaction of each change) and a
cursor per (channel, remote) that moves only after the peer answered OK. Everything in memory here is
a hint that can be lost at any time (a restart simply resumes from the cursors).

Each :class:`RemoteQueue` is one asyncio task that never has two requests to its peer in flight (a
per-remote lock, and across processes the lease, also cover notices sent from REST calls). It wakes on

* a poke: a change was appended to the outbox (``sync_outbox_appended``), no debounce, so a post
  reaches the peer within milliseconds and a burst coalesces naturally while one request is in flight.
  While backing off, a poke pings the peer instead (at most once a second): a good answer drops the backoff,
  so a link that heals is noticed by the first post after it;
* the peer talking to us (any inbound message) or coming back online (``remote_cluster_online``):
  proof it is reachable, so any backoff is dropped. For that reason every queue says hello
  (``isthmus_sync_hello``) once after the server starts: a peer that backed off while we were down
  delivers its backlog right away, not when its timer fires;
* a periodic sweep, which also retries after a backoff and catches rows written by other processes.

Several processes (``sender_leases``): a queue sends only while its process holds the lease ``remote:<id>`` (one
request in flight from the whole workspace); a process taking it over resumes from the durable cursors, so at
most the batch in flight is sent again (harmless: upserts). Pruning runs under ``job:outbox-prune``.

Failures back off exponentially with jitter (``federation.backoff``), are counted in metrics, mark the
connection for a re-announce on the next good ping (#37499) and log only on the 1st, 2nd, 4th, 8th …
consecutive failure, so one dead peer cannot flood the logs (#36962).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from isthmus.core.events import Event
from isthmus.core.waiting import wait_event
from isthmus.domain.changes import EVENT_OUTBOX_APPENDED
from isthmus.domain.context import Domain, transaction
from isthmus.domain.remotes import EVENT_DELETED, get_remote
from isthmus.domain.sharing.shares import EVENT_SHARES_CHANGED
from isthmus.federation.backoff import Backoff
from isthmus.federation.connections import Connections
from isthmus.federation.pinger import EVENT_ONLINE
from isthmus.federation.sender_leases import SenderLeases
from isthmus.federation.settings import positive_fields_from_env
from isthmus.federation.sync.metrics import SyncMetrics
from isthmus.federation.transport import TransportError
from isthmus.store.failures import classify
from isthmus.store.repo import outbox as outbox_repo
from isthmus.store.repo import shared as repo

log = logging.getLogger(__name__)

ENV_PREFIX = "ISTHMUS_SYNC_"
PRUNE_EVERY_MS = 60_000
PRUNE_BATCH = 500  # outbox rows deleted per transaction
METRICS_DEPTH_CAP = 10_000  # pending rows counted per share for the queue-depth gauge
PROBE_EVERY_MS = 1_000  # while backing off, new work pings the peer at most this often
EVENT_PEER_CONTACT = "sync_peer_contact"  # internal: a peer talked to this process (for the one sending to it)


@dataclass(frozen=True)
class SyncTimings:
    backoff_base_ms: int = 1_000
    backoff_max_ms: int = 10 * 60 * 1000
    sweep_interval_s: float = 30.0
    # NotifyRemoteOfflineThreshold: only posts younger than this get the "could not deliver" notice.
    offline_notice_ms: int = 10_000
    notice_timeout_s: float = 10.0

    @staticmethod
    def from_env(environ: dict[str, str] | None = None) -> SyncTimings:
        return SyncTimings(**positive_fields_from_env(SyncTimings, ENV_PREFIX, environ))


# One pass for one queue (the engine, plugged in by the service) -> more pending right now
SyncOnce = Callable[["RemoteQueue"], Awaitable[bool]]


class RemoteQueue:
    """The sender task of one connection."""

    def __init__(self, outbound: Outbound, remote_id: str) -> None:
        self.outbound = outbound
        self.remote_id = remote_id
        t = outbound.timings
        self.backoff = Backoff(outbound.d.clock, base_ms=t.backoff_base_ms, max_ms=t.backoff_max_ms)
        self.lock = asyncio.Lock()  # single flight: held for every request to this peer
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.stopping = False  # checked by the loop too, so a stop never depends on the cancellation alone
        self.last_error = ""
        # Posts per message: halved after a timeout (a slow peer still makes progress), doubled back after
        # each success up to MaxPostsPerSync.
        self.batch_limit = 0
        # Say hello once after our start: a peer that backed off while we were down retries at once instead of
        # when its backoff timer fires (which, after a long outage, is up to backoff_max_ms later).
        self.hello_pending = False
        self.probing = False
        self.probed_at = 0

    def start(self) -> None:
        self.stopping = False
        self.outbound.leases.want(self.remote_id, self.poke, self.lock)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name=f"isthmus-sync-{self.remote_id}")

    def poke(self) -> None:
        self.wake.set()

    def contact(self) -> None:
        """The peer is reachable (it talked to us, or answered a ping): if we were backing off, retry now.
        (A healthy queue is not woken: every inbound message would otherwise cost a pass.)"""
        if self.backoff.failures:
            self.backoff.reset_on_inbound()
            self.outbound.metrics.backoff.labels(self.remote_id).set(0)
            self.wake.set()

    async def _run(self) -> None:
        sweep = self.outbound.timings.sweep_interval_s
        while not self.stopping:
            timeout = sweep if self.backoff.ready() else min(sweep, self.backoff.wait_ms() / 1000)
            await wait_event(self.wake, max(timeout, 0.001))
            poked = self.wake.is_set()
            self.wake.clear()
            if not self.backoff.ready():
                if poked:
                    self._probe()
                continue
            if not await self.outbound.leases.may_send(self.remote_id):
                continue  # another process sends to this peer; the lease's on_gain pokes us if that changes
            try:
                more = await self.outbound.run_once(self)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self._failed(err)
                continue
            if more is None:
                # The lease went to another process between the check above and the pass: nothing was sent, so
                # neither a success (which would reset the backoff and log "works again") nor a failure.
                continue
            await self.outbound.leases.spread(self.remote_id, self.lock)
            if self.backoff.failures:
                log.info("sync to secure connection %s works again after %d failures", self.remote_id,
                         self.backoff.failures)
            self.batch_limit = min(self.batch_limit * 2, self.outbound.max_posts()) if self.batch_limit else 0
            self.backoff.on_success()
            self.outbound.metrics.backoff.labels(self.remote_id).set(0)
            self.outbound.metrics.record_success(self.remote_id, self.outbound.d.now())
            if more:
                self.wake.set()

    def _probe(self) -> None:
        """New work while backing off: ask the peer with one cheap ping whether it is back, at most one in flight
        and one per PROBE_EVERY_MS. A link that heals is then noticed by the first post after it, not when the
        backoff (up to backoff_max_ms) or the next ping round (60 s) comes around."""
        now = self.outbound.d.now()
        if self.probing or now - self.probed_at < PROBE_EVERY_MS:
            return
        self.probing, self.probed_at = True, now
        self.outbound.spawn(self._run_probe())

    async def _run_probe(self) -> None:
        try:
            rc = await get_remote(self.outbound.d, self.remote_id, include_deleted=True)
            if await self.outbound.conns.pinger.ping_now(rc):
                self.contact()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a probe is a hint; the backoff still retries on its own
            log.debug("probe of secure connection %s failed: %s", self.remote_id, err)
        finally:
            self.probing = False

    def _failed(self, err: Exception) -> None:
        d, metrics = self.outbound.d, self.outbound.metrics
        if isinstance(err, TransportError) and "timed out" in str(err):
            self.batch_limit = max(1, (self.batch_limit or self.outbound.max_posts()) // 2)
        delay = self.backoff.on_failure()
        self.last_error = str(err) or type(err).__name__
        metrics.record_failure(self.remote_id, self.last_error, d.now())
        metrics.backoff.labels(self.remote_id).set(delay / 1000)
        self.outbound.conns.pinger.mark_send_failed(self.remote_id)
        if self.backoff.should_log():
            log.warning("sync to secure connection %s failed (%d in a row, next try in %.1fs): %s", self.remote_id,
                        self.backoff.failures, delay / 1000, self.last_error)

    async def stop(self) -> None:
        self.stopping = True
        self.outbound.leases.unwant(self.remote_id)
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass
            self.task = None


class Outbound:
    """All sender queues of one server. ``sync_once`` (the engine) is plugged in by the service."""

    def __init__(self, d: Domain, conns: Connections, metrics: SyncMetrics, timings: SyncTimings) -> None:
        self.d = d
        self.conns = conns
        self.metrics = metrics
        self.timings = timings
        self.queues: dict[str, RemoteQueue] = {}
        self.sync_once: SyncOnce | None = None
        self.leases = SenderLeases()  # the composition root plugs the cluster's leases in
        self._told_contact: dict[str, int] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._pruned_at = 0
        self._pruning = False
        self.running = False
        # Peers whose sync we refused while shared channels were off here: they back off, so when sharing is
        # switched on we say hello to them too (they have nothing shared with us yet to be found below).
        self.refused_while_off: set[str] = set()

    async def start(self) -> None:
        self.running = True
        self.leases.want_pruning(True)
        self.d.bus.subscribe(self.on_event)
        async with self.d.db.read() as conn:
            from sqlalchemy import or_, select

            from isthmus.store.schema.shared import shared_channel_remotes as scr

            # Also peers left with nothing shared but an unshare notice still to deliver (e.g. a deletion).
            ids = {r[0] for r in (await conn.execute(select(scr.c.remote_id).where(
                or_(scr.c.delete_at == 0, scr.c.unshare_notice > 0)).distinct())).all()}
        ids |= self.refused_while_off
        self.refused_while_off.clear()
        for remote_id in sorted(ids):
            q = self.queue(remote_id)
            q.hello_pending = True
            q.poke()

    async def stop(self) -> None:
        self.running = False
        self.leases.want_pruning(False)
        self.d.bus.unsubscribe(self.on_event)
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        for q in list(self.queues.values()):
            await q.stop()
        self.queues.clear()

    def queue(self, remote_id: str) -> RemoteQueue:
        q = self.queues.get(remote_id)
        if q is None:
            q = self.queues[remote_id] = RemoteQueue(self, remote_id)
        if self.running:
            q.start()
        return q

    def poke(self, remote_id: str) -> None:
        if self.running:
            self.queue(remote_id).poke()

    def contact(self, remote_id: str) -> None:
        """Inbound traffic from ``remote_id``: reset its backoff and send what is pending. If another process
        sends to it, that one is told (at most once a second: the bus carries it, see ``isthmus.cluster``)."""
        if not self.running:
            return
        self.queue(remote_id).contact()
        now = self.d.now()
        if not self.leases.may_send_now(remote_id) and now - self._told_contact.get(remote_id, 0) >= 1_000:
            self._told_contact[remote_id] = now
            self.spawn(self.d.bus.publish([Event(EVENT_PEER_CONTACT, origin=remote_id)]))

    def on_event(self, event: Event) -> None:
        if not self.running:
            return
        if event.kind == EVENT_OUTBOX_APPENDED:
            # Poke every sender except the change's origin (it would only skip the row). Connections are
            # few; a queue whose remote does not share the channel finds nothing pending.
            for rid, q in self.queues.items():
                if rid != event.origin:
                    q.poke()
        elif event.kind == EVENT_SHARES_CHANGED:
            changed = event.data.get("remote_id")
            if isinstance(changed, str) and changed:
                self.queue(changed).poke()
        elif event.kind == EVENT_ONLINE and event.origin:
            q = self.queue(event.origin)
            q.contact()
            q.poke()  # back online: pending invites and anything queued go now
        elif event.kind == EVENT_PEER_CONTACT and event.origin:
            self.queue(event.origin).contact()  # the peer talked to another process: it is reachable
        elif event.kind == EVENT_DELETED and event.origin:
            gone = self.queues.pop(event.origin, None)
            if gone is not None:
                self.spawn(gone.stop())

    async def run_once(self, q: RemoteQueue) -> bool | None:
        """One pass for one remote under its single-flight lock; True if more is pending right now, None if this
        process no longer holds the remote's lease (no pass ran)."""
        now = self.d.now()
        if now - self._pruned_at > PRUNE_EVERY_MS and not self._pruning and \
                self.leases.may_prune():
            self._pruned_at, self._pruning = now, True
            self.spawn(self._prune_in_background())  # not on this sender's path: it syncs meanwhile
        if self.sync_once is None:
            return False
        async with q.lock:  # the engine reads the connection itself (in the pass's one read transaction)
            if not self.leases.may_send_now(q.remote_id):
                return None  # handed over between the queue's check and this lock
            return await self.sync_once(q)

    def max_posts(self) -> int:
        return max(1, int(self.d.config.ConnectedWorkspacesSettings.MaxPostsPerSync))

    async def exclusive(self, remote_id: str, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run one request to ``remote_id`` with nothing else in flight to it (invites and notices from REST), from
        this process or any other serving the workspace (``SenderLeases.exclusive``)."""
        q = self.queues.get(remote_id)
        if q is None:  # no sender for it (a removed connection being told goodbye): nothing to serialise with
            return await work()
        return await self.leases.exclusive(remote_id, q.lock, work)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def prune(self) -> int:
        """Drop outbox rows every live remote of their channel has acknowledged, in bounded batches.

        The floor is per channel (its lowest live cursor; everything when no live remote is left): a global
        minimum would stop at the cursor of an idle channel, which only moves when that channel has rows.
        Each batch is its own short transaction of at most PRUNE_BATCH rows and the loop yields between
        them, so a large backlog never holds the write lock (or the event loop) for long. The newest row
        always stays, so SQLite never hands out a sequence number twice."""
        async with self.d.db.read() as conn:
            newest = await repo.max_seq(conn)
            floors = await outbox_repo.select_prune_floors(conn)
            global_floor = await repo.min_live_cursor(conn)
        removed = 0
        for channel_id, (floor, oldest) in sorted(floors.items()):
            upto = newest - 1 if floor is None else min(floor, newest - 1)
            if oldest > upto:
                continue  # nothing acknowledged yet: no write transaction for it
            removed += await self._prune_batches(partial(outbox_repo.delete_channel_rows_upto, channel_id=channel_id,
                                                         upto_seq=upto))
        # Rows of channels no share names any more (none is written without one, but a share can go): the old
        # rule, every live cursor passed them.
        below = min(newest, global_floor) if global_floor is not None else newest
        removed += await self._prune_batches(partial(outbox_repo.delete_rows_below, below_seq=below))
        return removed

    async def _prune_batches(self, delete_batch: Callable[..., Awaitable[int]]) -> int:
        removed = 0
        while True:
            async with transaction(self.d) as tx:
                n = await delete_batch(tx.conn, limit=PRUNE_BATCH)
            removed += n
            if n < PRUNE_BATCH:
                return removed
            await asyncio.sleep(0)  # let requests and senders in between batches

    async def _prune_in_background(self) -> None:
        try:
            removed = await self.prune()
            if removed:
                log.debug("pruned %d acknowledged outbox rows", removed)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # housekeeping must never stop the sender
            if classify(err) is None:
                log.exception("outbox pruning failed")
            else:  # the database is away or full: one line, not an error with a traceback
                log.warning("outbox pruning skipped: %s", classify(err))
        finally:
            self._pruning = False

    async def refresh_metrics(self) -> None:
        """Queue depth and lag per remote, straight from the outbox (called before a metrics scrape). Bounded:
        at most METRICS_DEPTH_CAP rows per share are looked at, so a scrape costs the same with any backlog
        (the depth gauge saturates there; the lag is that of the oldest row, exact)."""
        now = self.d.now()
        for remote_id in list(self.queues):
            async with self.d.db.read() as conn:
                depth, oldest = await outbox_repo.select_queue_figures(conn, remote_id, METRICS_DEPTH_CAP)
            self.metrics.set_queue(remote_id, depth, now if oldest is None else oldest, now)
