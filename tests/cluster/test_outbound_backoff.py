"""The sender's backoff counts what happened to the peer, and nothing else.

A pass that finds the peer's lease gone to another process of the workspace sends nothing: it is neither a success
nor a failure. Before, it counted as a success: the backoff reset (the next try came at once, not after the wait),
the backoff gauge went to 0 and the log said "works again" while the peer was still away. The long-partition test
saw it on PostgreSQL, where the jumping clock let the lease lapse between the queue's check and its pass.
"""

from __future__ import annotations

import logging

import pytest

from isthmus.federation.sender_leases import SenderLeases
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import eventually, person, shared_pair


class HandedOverEachTime(SenderLeases):
    """The lease moves to another process between the queue's check and its pass, every time."""

    def __init__(self) -> None:
        super().__init__(None)
        self.skipped = 0

    async def may_send(self, remote_id: str) -> bool:
        return True

    def may_send_now(self, remote_id: str) -> bool:
        self.skipped += 1
        return False


async def test_a_pass_skipped_for_a_lost_lease_keeps_the_backoff(cluster: Cluster,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    a, b, ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    cluster.net.down.add(b.host)
    await ann.post(ch, "while beta is away")
    outbound = a.server.shared_channels.outbound
    queue = outbound.queues[ab]

    async def failing() -> bool:
        return queue.backoff.failures >= 2
    await eventually(failing)

    leases = HandedOverEachTime()
    outbound.leases = leases
    caplog.set_level(logging.INFO, logger="isthmus")

    async def skipped(n: int) -> bool:
        return leases.skipped >= n
    await eventually(lambda: skipped(1))  # from here no pass is in flight: each one stops at the lease
    failures = queue.backoff.failures
    await eventually(lambda: skipped(4))

    assert failures >= 2
    assert queue.backoff.failures == failures
    assert not [r for r in caplog.records if "works again" in r.getMessage()]
