"""Leases: work that must run in exactly one process of the workspace.

A lease is a row (``leases``: name, holder node, expires_at) taken or renewed with one conditional write
(``store.repo.cluster.take_lease``), so of two processes asking at once exactly one wins. The holder renews
every ``renew_ms`` (3 s) for ``period_ms`` (9 s); a holder that dies (kill -9) stops renewing and another
process takes the lease at its next tick after expiry, within ``period_ms + renew_ms`` (< 10 s with a
sub-second tick after expiry, see ``Leases.tick``). A holder that cannot renew (database away) stops
treating the lease as its own ``margin_ms`` before the row expires, so two holders never overlap while
the clocks of the machines agree to within that margin.

Names: ``remote:<connection id>`` for the sender to one connection (one request in flight per remote across
the workspace), ``job:<name>`` for periodic jobs (pinger, outbox pruning, status sweep).

Single-process mode (SQLite, or ``ClusterSettings.Enable`` off): the same rows are written, but a take
always wins (``force``): the process is alone by construction, and a lease left by an earlier run of it
(a crash) must not make it wait.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from isthmus.core.clock import Clock
from isthmus.store.engine import Database
from isthmus.store.repo import cluster as repo

log = logging.getLogger(__name__)
TICK_MS = 500


@dataclass(frozen=True)
class LeaseTimings:
    renew_ms: int = 3_000
    period_ms: int = 9_000
    margin_ms: int = 1_500

    @staticmethod
    def from_env() -> LeaseTimings:
        """``ISTHMUS_CLUSTER_LEASE_MS`` (period; renewal every third of it): tests shorten the takeover."""
        raw = os.environ.get("ISTHMUS_CLUSTER_LEASE_MS", "").strip()
        if raw.isdigit() and int(raw) >= 300:
            period = int(raw)
            return LeaseTimings(renew_ms=period // 3, period_ms=period, margin_ms=period // 6)
        return LeaseTimings()


class Leases:
    def __init__(self, db: Database, clock: Clock, node_id: str, *, single: bool,
                 timings: LeaseTimings | None = None) -> None:
        self.db = db
        self.clock = clock
        self.node_id = node_id
        self.single = single
        self.timings = timings or LeaseTimings.from_env()
        self.held: dict[str, int] = {}          # name -> when it stops being ours (our clock), if not renewed
        self.renewed_at: dict[str, int] = {}    # name -> our last successful write of it
        self.busy_until: dict[str, int] = {}    # name -> another holder's expiry: no point asking before
        self.wanted: dict[str, Callable[[], None]] = {}  # name -> called when we gain it
        self.guards: dict[str, asyncio.Lock] = {}  # name -> held while work runs under it (yield waits for it)
        # Ask the other processes to yield a lease (set by ClusterService: a message on the bus); None: no bus.
        self.ask_to_yield: Callable[[str], None] | None = None
        self.takeovers = 0
        self.live_nodes = 1  # kept up to date by the heartbeat (ClusterService): spreads remote:* leases

    def holds(self, name: str) -> bool:
        """In memory, no query: ours and not about to expire."""
        until = self.held.get(name)
        return until is not None and until > self.clock.now_ms()

    def want(self, name: str, on_gain: Callable[[], None] | None = None, guard: asyncio.Lock | None = None) -> None:
        """Ask for ``name`` at every tick until released; ``on_gain`` runs when this process gets it. ``guard``:
        the lock its work runs under, so a yield to another process never cuts a piece of work in two."""
        self.wanted[name] = on_gain or (lambda: None)
        if guard is not None:
            self.guards[name] = guard

    def unwant(self, name: str) -> None:
        self.wanted.pop(name, None)
        self.guards.pop(name, None)

    async def acquire(self, name: str, *, eager: bool = False) -> bool:
        """Ours now? Renews or takes with one write, unless another holder's unexpired lease is known (``eager``:
        ask the database anyway, for a caller waiting on a holder it asked to yield)."""
        now = self.clock.now_ms()
        if self.holds(name) and now - self.renewed_at.get(name, 0) < self.timings.renew_ms:
            return True  # taken or renewed within the last renew period
        if not self.holds(name) and self.busy_until.get(name, 0) > now and not eager:
            return False
        expires = now + self.timings.period_ms
        try:
            async with self.db.write() as conn:
                since = await repo.take_lease(conn, name, self.node_id, now, expires, force=self.single)
                row = None if since is not None else await repo.select_lease(conn, name)
        except Exception as err:  # the database is away: keep what we had until it runs out, then stop
            log.warning("lease %s not renewed: %s", name, err)
            return self.holds(name)
        if since is not None:
            # Gained, as opposed to renewed: the row was another's (or none). Not "we had let it run out in
            # memory": a lease renewed late (a busy loop, a clock jump) was never anyone else's.
            gained = since == now
            self.held[name] = expires - self.timings.margin_ms
            self.renewed_at[name] = now
            self.busy_until.pop(name, None)
            if gained:
                log.info("this process now holds %s", name)
                self.takeovers += 1
                on_gain = self.wanted.get(name)
                if on_gain is not None:
                    on_gain()
            return True
        if self.held.pop(name, None) is not None:
            log.warning("lease %s lost to another process", name)
        # Ask again at the holder's expiry, or after a renew period if that comes first (a holder handing the
        # lease over deletes the row early), or a tick from now if the row vanished meanwhile.
        self.busy_until[name] = min(int(row["expires_at"]), now + self.timings.renew_ms) if row else now
        return False

    def over_fair_share(self, name: str, prefix: str = "remote:") -> bool:
        """Should ``name`` (held here) go to another process? Leases of ``prefix`` are spread: a process holding
        more than ceil(wanted / live processes) of them hands over the ones past that count (by name, so every
        process agrees which), and the others, which want them too, take them at their next tick."""
        if self.single or self.live_nodes < 2 or not self.holds(name):
            return False
        mine = sorted(n for n in self.held if n.startswith(prefix) and self.holds(n))
        fair = -(-sum(1 for n in self.wanted if n.startswith(prefix)) // self.live_nodes)
        return name in mine[fair:]

    async def hand_over(self, name: str, why: str = "spreading the work") -> None:
        """Release ``name`` now and leave it to the others for a lease period (then it is fair game again, so a
        lease nobody else took is not left unheld for long). The caller makes sure no work runs under it."""
        self.held.pop(name, None)
        self.busy_until[name] = self.clock.now_ms() + self.timings.period_ms
        try:
            async with self.db.write() as conn:
                await repo.release_leases(conn, self.node_id, [name])
        except Exception as err:
            log.warning("lease %s not handed over (it expires on its own): %s", name, err)
            return
        log.info("handed %s over to another process (%s)", name, why)

    async def yield_lease(self, name: str) -> None:
        """Another process needs ``name`` for one piece of work (``take_for``): hand it over once the work running
        under it here is done. It comes back by the usual spreading, or at our tick after a lease period."""
        if self.single or not self.holds(name):
            return
        guard = self.guards.get(name)
        if guard is None:
            await self.hand_over(name, "it asked for it")
            return
        async with guard:
            if self.holds(name):
                await self.hand_over(name, "it asked for it")

    async def take_for(self, name: str, wait_ms: int) -> bool:
        """Make ``name`` ours for one piece of work started in this process (a notice from a REST call): ask its
        holder to yield, and take it as soon as it is free, or when a dead holder's lease ran out. False if it
        is still another's after ``wait_ms``."""
        loop = asyncio.get_running_loop()  # real time: the work waits on real processes, whatever the clock
        deadline = loop.time() + wait_ms / 1000
        asked_at: float | None = None
        while True:
            if self.holds(name) or await self.acquire(name, eager=True):
                return True
            now = loop.time()
            if now >= deadline:
                return False
            if self.ask_to_yield is not None and (asked_at is None or now - asked_at >= self.timings.renew_ms / 1000):
                self.ask_to_yield(name)  # again after a while: a message sent while the bus reconnected is lost
                asked_at = now
            await asyncio.sleep(min(TICK_MS / 5000, deadline - now))

    async def tick(self) -> None:
        """Renew what we hold (once per ``renew_ms``) and try what we want once its holder's lease has run out.
        Called every TICK_MS: cheap (no query) when nothing is due, and a dead holder's lease is taken at most
        TICK_MS after its expiry."""
        for name in list(self.wanted):
            await self.acquire(name)

    async def release_all(self) -> None:
        """Clean stop: hand everything over at once instead of after expiry."""
        names = list(self.held)
        self.held.clear()
        if not names:
            return
        try:
            async with self.db.write() as conn:
                await repo.release_leases(conn, self.node_id, names)
        except Exception as err:
            log.warning("leases not released (they expire on their own): %s", err)
