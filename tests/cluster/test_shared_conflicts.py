"""Concurrent changes of one post on several servers converge: the pin is a last-writer-wins register."""

from __future__ import annotations

from isthmus.store.repo import posts as posts_repo
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, posts_of, share, share_node, shared_trio, wait_converged


async def _pin_state(node: Node, post_id: str) -> tuple[int, bool]:
    """(pin clock, pinned) as stored: the register the servers must agree on."""
    async with node.server.domain.db.read() as conn:
        row = await posts_repo.select_post(conn, post_id)
    assert row is not None
    return int(row["pin_at"]), bool(row["is_pinned"])


def _failures(node: Node, remote_id: str) -> float:
    value: float = node.server.shared_channels.metrics.failures.labels(remote_id)._value.get()
    return value


async def test_concurrent_pin_and_unpin_on_two_servers_converge(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    rid = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, rid))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    post = await ann.post(ch, "pin me, or not")
    await wait_converged([a, b], ch, min_posts=1)
    cluster.net.down.update({"alpha.test", "beta.test"})
    await ann.pin(post["id"])  # alpha pins ...
    await bob.pin(post["id"])  # ... while beta pins and unpins, later
    await bob.pin(post["id"], False)
    on_a, on_b = await _pin_state(a, post["id"]), await _pin_state(b, post["id"])
    assert on_a[1] and not on_b[1]  # nothing crossed yet
    await eventually(lambda: _cut_off(a, b, rid))
    cluster.net.down.clear()
    winner = max(on_a, on_b)  # the later clock; an exact tie goes to "pinned"
    await eventually(lambda: _pinned_everywhere([a, b], ch, post["id"], winner[1]))
    snap = await wait_converged([a, b], ch, min_posts=1)
    assert snap["posts"][0]["is_pinned"] is winner[1]
    assert await _pin_state(a, post["id"]) == await _pin_state(b, post["id"]) == winner


async def test_concurrent_pins_on_two_remotes_converge_through_the_home(cluster: Cluster) -> None:
    """Beta unpins, gamma pins later: alpha relays both, and each remote ends with the later one."""
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    ann = await person(a, channel_id=ch)
    bob, cat = await person(b, channel_id=ch), await person(c, channel_id=ch)
    post = await ann.post(ch, "three servers")
    await ann.pin(post["id"])
    await wait_converged([a, b, c], ch, min_posts=1)
    cluster.net.down.update({"alpha.test", "beta.test", "gamma.test"})
    await bob.pin(post["id"], False)
    await cat.pin(post["id"], False)
    await cat.pin(post["id"])
    states = [await _pin_state(n, post["id"]) for n in (a, b, c)]
    assert [s[1] for s in states] == [True, False, True]
    cluster.net.down.clear()
    winner = max(states)
    await eventually(lambda: _pinned_everywhere([a, b, c], ch, post["id"], winner[1]))
    await wait_converged([a, b, c], ch, min_posts=1)
    await eventually(lambda: _same_register([a, b, c], post["id"], winner))


async def _cut_off(a: Node, b: Node, remote_id: str) -> bool:
    return _failures(a, remote_id) >= 1 and _failures(b, remote_id) >= 1


async def _pinned_everywhere(nodes: list[Node], channel_id: str, post_id: str, pinned: bool) -> bool:
    for node in nodes:
        if (await posts_of(node, channel_id))[post_id]["is_pinned"] is not pinned:
            return False
    return True


async def _same_register(nodes: list[Node], post_id: str, winner: tuple[int, bool]) -> bool:
    return all([await _pin_state(n, post_id) == winner for n in nodes])
