"""The leases the shared-channel sender runs under when several processes serve one workspace (``isthmus.cluster``).

``remote:<connection id>``: only the holder's queue sends to that peer (one request in flight from the whole
workspace), and the holder of more than its share hands some over after a pass. ``job:outbox-prune``: one process
prunes. Without leases (``SenderLeases(None)``, e.g. a bare ``Outbound`` in a unit test) this process sends to all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from isthmus.cluster.leases import Leases

PRUNE_LEASE = "job:outbox-prune"
EXCLUSIVE_WAIT_MS = 30_000  # a holder yields after its request in flight (timeouts 10-30 s) or dies (9 s lease)


class NotOurTurn(Exception):
    """Another process kept sending to the peer past EXCLUSIVE_WAIT_MS: the one-off request was not sent."""


def lease_name(remote_id: str) -> str:
    return f"remote:{remote_id}"


class SenderLeases:
    def __init__(self, leases: Leases | None = None) -> None:
        self.leases = leases

    def want(self, remote_id: str, on_gain: Callable[[], None], lock: asyncio.Lock | None = None) -> None:
        if self.leases is not None:  # taken over: send what is pending; ``lock``: a yield waits for the request
            self.leases.want(lease_name(remote_id), on_gain, lock)

    def unwant(self, remote_id: str) -> None:
        if self.leases is not None:  # (the row expires by itself, or is released at shutdown)
            self.leases.unwant(lease_name(remote_id))

    async def may_send(self, remote_id: str) -> bool:
        name = lease_name(remote_id)
        return self.leases is None or self.leases.holds(name) or await self.leases.acquire(name)

    def may_send_now(self, remote_id: str) -> bool:
        """:meth:`may_send` without a query (inside the queue's lock, or for ephemeral sends such as typing)."""
        return self.leases is None or self.leases.holds(lease_name(remote_id))

    async def exclusive(self, remote_id: str, lock: asyncio.Lock, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run one request started outside the queue (a notice from a REST call) with nothing else in flight to the
        peer from the whole workspace: under the queue's lock, while this process holds the peer's lease (asked of
        its holder if another process has it)."""
        if self.leases is None or self.leases.single:  # one process: the queue's lock is enough
            async with lock:
                return await work()
        name = lease_name(remote_id)
        while True:
            if not self.leases.holds(name) and \
                    not await self.leases.take_for(name, EXCLUSIVE_WAIT_MS):
                raise NotOurTurn(f"another process of this workspace kept sending to connection {remote_id}")
            async with lock:
                if self.leases.holds(name):
                    return await work()
            # lost between the take and the lock (spread to another process): ask again

    async def spread(self, remote_id: str, lock: asyncio.Lock) -> None:
        """After a pass: this peer's lease to another process if this one holds more than its share (under the
        queue's lock, so no request to the peer is in flight or starts meanwhile)."""
        name = lease_name(remote_id)
        if self.leases is not None and self.leases.over_fair_share(name):
            async with lock:
                await self.leases.hand_over(name)

    def want_pruning(self, wanted: bool) -> None:
        if self.leases is not None:
            if wanted:
                self.leases.want(PRUNE_LEASE)
            else:
                self.leases.unwant(PRUNE_LEASE)

    def may_prune(self) -> bool:
        return self.leases is None or self.leases.holds(PRUNE_LEASE)
