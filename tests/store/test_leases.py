"""Leases (``isthmus.cluster.leases``) on the real database: of several processes asking for one lease at once
exactly one gets it; the holder renews it; nobody else gets it before it expires; after expiry (its holder
died) another takes it over. Single-process mode always wins, even over a row left by a crash."""

from __future__ import annotations

import asyncio

from isthmus.cluster.leases import Leases, LeaseTimings
from isthmus.core.clock import FakeClock
from isthmus.core.ids import new_id
from isthmus.store.engine import Database
from tests.store.test_repos import db, db_url

__all__ = ["db", "db_url"]  # fixtures, re-exported so pytest finds them here

TIMINGS = LeaseTimings(renew_ms=3_000, period_ms=9_000, margin_ms=1_500)


def _nodes(db: Database, clock: FakeClock, n: int, *, single: bool = False) -> list[Leases]:
    return [Leases(db, clock, new_id(), single=single, timings=TIMINGS) for _ in range(n)]


async def test_one_of_many_racing_processes_gets_a_lease_and_keeps_it_until_it_expires(db: Database) -> None:
    clock = FakeClock()
    nodes = _nodes(db, clock, 4)
    won = await asyncio.gather(*(n.acquire("remote:x") for n in nodes))
    assert sum(won) == 1
    holder = nodes[won.index(True)]
    others = [n for n in nodes if n is not holder]

    clock.advance(4_000)  # the holder renews; the others are told no
    assert await holder.acquire("remote:x")
    assert not any(await asyncio.gather(*(n.acquire("remote:x") for n in others)))

    clock.advance(7_000)  # renewed at 4 s for 9 s: still its own at 11 s (it lets go 1.5 s before expiry)
    assert not any([await n.acquire("remote:x") for n in others])
    assert holder.holds("remote:x")

    clock.advance(2_500)  # the holder died after its renewal at 4 s: expired at 13 s
    assert not holder.holds("remote:x")  # it would have stopped by itself (margin before expiry)
    won = await asyncio.gather(*(n.acquire("remote:x") for n in others))
    assert sum(won) == 1
    assert not await holder.acquire("remote:x")  # the old holder, back, is refused


async def test_single_process_mode_always_takes_the_lease(db: Database) -> None:
    clock = FakeClock()
    [crashed] = _nodes(db, clock, 1)
    assert await crashed.acquire("job:pinger")
    [me] = _nodes(db, clock, 1, single=True)  # a restart after a crash: alone by construction
    assert await me.acquire("job:pinger")
    await me.release_all()
    assert not me.holds("job:pinger")


async def test_a_holder_asked_to_yield_hands_over_only_after_the_work_under_it(db: Database) -> None:
    clock = FakeClock()
    holder, asker = _nodes(db, clock, 2)
    guard = asyncio.Lock()
    holder.want("remote:x", guard=guard)
    assert await holder.acquire("remote:x")
    yields: list[asyncio.Task[None]] = []
    asker.ask_to_yield = lambda name: yields.append(asyncio.create_task(holder.yield_lease(name)))

    await guard.acquire()  # the holder's request in flight
    taking = asyncio.create_task(asker.take_for("remote:x", 5_000))
    await asyncio.sleep(0.3)
    assert not taking.done() and yields and holder.holds("remote:x")
    guard.release()  # answered: the holder hands over, the asker takes it
    assert await asyncio.wait_for(taking, 5)
    assert asker.holds("remote:x") and not holder.holds("remote:x")
    assert not await holder.acquire("remote:x")  # it does not snatch it back at its next tick


async def test_taking_a_lease_its_holder_keeps_gives_up_after_the_wait(db: Database) -> None:
    clock = FakeClock()
    holder, asker = _nodes(db, clock, 2)
    assert await holder.acquire("remote:x")
    asked: list[str] = []
    asker.ask_to_yield = asked.append  # a holder that never answers (the bus is away)
    assert not await asker.take_for("remote:x", 400)
    assert asked == ["remote:x"] and holder.holds("remote:x") and not asker.holds("remote:x")
