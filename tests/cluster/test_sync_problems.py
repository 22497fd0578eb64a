"""Sync problems as the System Console reads them (/metrics): a peer with shared channels off is named, not
identified by its id, and told what to do; the refusing side records it too; the problem's end is visible
(a success or an accepted message newer than the error)."""

from __future__ import annotations

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, share_node


def metric(text: str, name: str, remote_id: str) -> float | None:
    key = f'{name}{{remote_id="{remote_id}"}} '
    for line in text.splitlines():
        if line.startswith(key):
            return float(line.split()[-1])
    return None


def last_error(text: str, remote_id: str) -> str:
    for line in text.splitlines():
        if line.startswith("isthmus_sync_last_error_info{") and f'remote_id="{remote_id}"' in line:
            return line.split('error="', 1)[1].rsplit('",', 1)[0] if 'error="' in line else ""
    return ""


async def metrics(node: Node) -> str:
    r = await node.http.get("/metrics")
    assert r.status_code == 200, r.text
    return r.text


async def test_shared_channels_off_on_the_peer_is_named_on_both_sides_and_then_resolved(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha")
    d = await cluster.add("delta")  # connected workspaces on, shared channels off
    ad = await cluster.connect(a, d)
    ch = await channel(a)
    r = await a.http.post(f"/api/v4/remotecluster/{ad}/channels/{ch}/invite")
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        return metric(await metrics(d), "isthmus_sync_refused_disabled_timestamp_seconds", ad) is not None

    async def errored() -> bool:
        return "shared channels turned off" in last_error(await metrics(a), ad)

    await eventually(errored)
    await eventually(refused)
    text = await metrics(a)
    error = last_error(text, ad)
    assert error == ("Delta has shared channels turned off: its admin turns on System Console › Connected "
                     "Workspaces › Enable shared channels")
    assert ad not in error
    failed_at = metric(text, "isthmus_sync_last_error_timestamp_seconds", ad)
    assert failed_at is not None
    refused_at = metric(await metrics(d), "isthmus_sync_refused_disabled_timestamp_seconds", ad)
    assert refused_at is not None
    assert metric(await metrics(d), "isthmus_sync_last_received_timestamp_seconds", ad) is None

    # delta's admin turns shared channels on: alpha's next pass succeeds after the error, and delta has
    # accepted a message after its refusal, so both consoles can show the problem as resolved.
    before = len(cluster.net.log)
    r = await d.http.put("/api/v4/config/patch", json={"ConnectedWorkspacesSettings": {"EnableSharedChannels": True}})
    assert r.status_code == 200, r.text

    async def said_hello() -> bool:
        return any(r.url.host == "alpha.test" and b"isthmus_sync_hello" in r.content for r in cluster.net.log[before:])

    # delta had nothing shared yet, but it refused alpha: it says hello so alpha retries now, not after its backoff.
    await eventually(said_hello)

    async def resolved() -> bool:
        ok_at = metric(await metrics(a), "isthmus_sync_last_success_timestamp_seconds", ad)
        got_at = metric(await metrics(d), "isthmus_sync_last_received_timestamp_seconds", ad)
        return ok_at is not None and got_at is not None and ok_at >= failed_at and got_at >= refused_at

    await eventually(resolved)
