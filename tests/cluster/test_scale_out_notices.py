"""A notice sent from a REST call in one process waits for the request another process has in flight to the same
peer (issue 17): the process that took the call asks the lease holder on the bus to yield, the holder hands the
lease over once its request is answered, and only then does the notice go out. The peer never has two requests
from the workspace in flight, and the notice is not lost."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, replace

import httpx
import pytest

from tests.cluster.test_scale_out_clocks import MEMBER_SYNC, _client
from tests.cluster.test_shared_notices import UNSHARED, notices
from tests.testlib.clients import Person
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, share, share_node, wait_converged

pytestmark = pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                                reason="several processes on one database need PostgreSQL (ISTHMUS_TEST_POSTGRES_URL)")


class Gate:
    """The outbound traffic of both processes of alpha: sync messages to beta are counted while in flight, held
    while the gate is closed, and their topics noted with the process that sent them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.open = asyncio.Event()
        self.open.set()
        self.in_flight = 0
        self.most = 0
        self.sent: list[tuple[str, str]] = []

    def of(self, process: str) -> httpx.AsyncBaseTransport:
        gate = self

        class Via(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                return await gate.handle(process, request)
        return Via()

    async def handle(self, process: str, request: httpx.Request) -> httpx.Response:
        if request.url.host != "beta.test" or not request.url.path.endswith("/remotecluster/msg"):
            return await self.inner.handle_async_request(request)
        self.sent.append((process, str(json.loads(await request.aread())["msg"]["topic"])))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.open.wait()
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1


@dataclass
class World:
    gate: Gate
    a1: Node
    a2: Node
    b: Node
    ch: str
    ann: Person


async def _two_processes_of_alpha(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> World:
    """beta homes a channel shared with alpha; alpha has a post in it, then a second process on its database."""
    # Long enough that a loaded machine's stalls never let process 1's lease run out (a takeover is not tested
    # here: the yield hands the lease over at once).
    monkeypatch.setenv("ISTHMUS_CLUSTER_LEASE_MS", "6000")
    cluster.timings = replace(cluster.timings, send_timeout_s=30.0)  # the gate holds a request for seconds
    gate = Gate(cluster.net)
    env = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true", **MEMBER_SYNC}
    a1 = await cluster.add("alpha", env=env, transport=gate.of("process 1"))
    b = await share_node(cluster, "beta", **MEMBER_SYNC)
    ba = await cluster.connect(b, a1)
    ch = await channel(b)
    await share(b, ch, (a1, ba))
    ann = await person(a1, channel_id=ch)
    await ann.post(ch, "before")
    await wait_converged([a1, b], ch, min_posts=1)
    a2 = await cluster.add("alpha2", env={**env, "MM_SQLSETTINGS_DRIVERNAME": "postgres",
                                          "MM_SQLSETTINGS_DATASOURCE": a1.server.config.SqlSettings.DataSource,
                                          "MM_SERVICESETTINGS_SITEURL": "http://alpha.test"},
                        transport=gate.of("process 2"))
    return World(gate, a1, a2, b, ch, ann)


async def test_a_notice_from_another_process_waits_for_the_lease_holders_request_in_flight(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    w = await _two_processes_of_alpha(cluster, monkeypatch)
    gate, a1, a2, b, ch, ann = w.gate, w.a1, w.a2, w.b, w.ch, w.ann
    [lease] = [n for n in a1.server.cluster.leases.held if n.startswith("remote:")]
    assert a1.server.cluster.leases.holds(lease) and not a2.server.cluster.leases.holds(lease)

    # Process 1 has a post in flight to beta, held at the gate.
    gate.open.clear()
    await ann.post(ch, "in flight")
    await eventually(lambda: _true(gate.in_flight == 1))

    # Process 2 has a notice to send to beta that no durable row carries (a copy unshared after its row for the
    # home was gone: ``ShareLifecycle._notify``). It must not go out while process 1's request is in flight.
    a2.server.shared_channels.share._notify(lease.removeprefix("remote:"), ch, deleted=False)
    await asyncio.sleep(1.5)  # process 2 asked for the lease meanwhile; process 1 keeps it until answered
    assert gate.in_flight == 1 and gate.most == 1
    assert a1.server.cluster.leases.holds(lease) and not a2.server.cluster.leases.holds(lease)

    gate.open.set()

    async def beta_told() -> bool:
        return (await notices(b, ch))[-1:] == [(UNSHARED, "This channel is no longer shared with Alpha.")]
    await eventually(beta_told, within=20)
    assert gate.most == 1  # never two requests from alpha in flight to beta
    assert ("process 2", "sharedchannel_unshare") in gate.sent  # from the process that had the notice
    posts = {p["message"] for p in (await b.http.get(f"/api/v4/channels/{ch}/posts")).json()["posts"].values()}
    assert {"before", "in flight"} <= posts  # the held post was delivered too


async def test_a_durable_notice_written_through_another_process_goes_out_once_from_the_holder(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The common path: an archive through process 2 writes a durable notice, which process 1 (the holder)
    delivers after its request in flight; still never two in flight."""
    w = await _two_processes_of_alpha(cluster, monkeypatch)
    gate, a1, a2, b, ch, ann = w.gate, w.a1, w.a2, w.b, w.ch, w.ann
    gate.open.clear()
    await ann.post(ch, "in flight")
    await eventually(lambda: _true(gate.in_flight == 1))
    admin2 = _client(a2, a1.http.headers["Authorization"])
    r = await admin2.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200, r.text
    await asyncio.sleep(1.0)
    assert gate.most == 1
    gate.open.set()

    async def beta_told() -> bool:
        return (await notices(b, ch))[-1:] == [(UNSHARED, "This channel is no longer shared with Alpha.")]
    await eventually(beta_told, within=20)
    assert gate.most == 1
    assert [t for _, t in gate.sent].count("sharedchannel_unshare") == 1
    await admin2.aclose()


async def _true(value: bool) -> bool:
    return value
