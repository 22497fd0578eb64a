"""The leases the shared-channel sender runs under when several processes serve one workspace (``isthmus.cluster``).

``remote:<connection id>``: only the holder's queue sends to that peer (one request in flight from the whole
workspace), and the holder of more than its share hands some over after a pass. ``job:outbox-prune``: one process
prunes. Without leases (``SenderLeases(None)``, e.g. a bare ``Outbound`` in a unit test) this process sends to all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from isthmus.cluster.leases import Leases

PRUNE_LEASE = "job:outbox-prune"


def lease_name(remote_id: str) -> str:
    return f"remote:{remote_id}"


class SenderLeases:
    def __init__(self, leases: Leases | None = None) -> None:
        self.leases = leases

    def want(self, remote_id: str, on_gain: Callable[[], None]) -> None:
        if self.leases is not None:
            self.leases.want(lease_name(remote_id), on_gain)  # taken over: send what is pending

    def unwant(self, remote_id: str) -> None:
        if self.leases is not None:  # (the row expires by itself, or is released at shutdown)
            self.leases.unwant(lease_name(remote_id))

    async def may_send(self, remote_id: str) -> bool:
        name = lease_name(remote_id)
        return self.leases is None or self.leases.holds(name) or await self.leases.acquire(name)

    def may_send_now(self, remote_id: str) -> bool:
        """:meth:`may_send` without a query (inside the queue's lock, or for ephemeral sends such as typing)."""
        return self.leases is None or self.leases.holds(lease_name(remote_id))

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
