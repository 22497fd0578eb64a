"""A remote that stopped receiving catches up: a re-invite backfills what it missed, and a deletion on the home
while the remote is unreachable still archives the remote's copy once it is back."""

from __future__ import annotations

import pytest

from isthmus.core.events import Event
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    UNSHARED,
    channel,
    eventually,
    invite,
    not_shared,
    person,
    posts_of,
    restart,
    share,
    share_node,
    shared_flag,
    shared_pair,
    wait_converged,
)


async def _archived(node: Node, channel_id: str) -> bool:
    r = await node.http.get(f"/api/v4/channels/{channel_id}")
    return r.status_code == 200 and r.json()["delete_at"] > 0


def _watch_deletions(node: Node) -> list[Event]:
    """The ``channel_deleted`` events ``node`` publishes (what its websocket clients get) from now on."""
    seen: list[Event] = []
    node.server.bus.subscribe(lambda e: seen.append(e) if e.kind == "channel_deleted" else None)
    return seen


def _failures(node: Node, remote_id: str) -> float:
    value: float = node.server.shared_channels.metrics.failures.labels(remote_id)._value.get()
    return value


@pytest.mark.parametrize("others", [0, 1], ids=["last-remote", "still-shared-with-another"])
async def test_reinvite_backfills_what_the_remote_missed(cluster: Cluster, others: int) -> None:
    """Uninvited with the channel unshared on the home (nothing recorded meanwhile) or still shared with gamma
    (recorded, and pruned once gamma acknowledged): either way the re-invite delivers every post, edit, delete,
    pin and reaction written in between, once."""
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    remotes: list[tuple[Node, str]] = [(b, ab)]
    if others:
        c = await share_node(cluster, "gamma")
        remotes.append((c, await cluster.connect(a, c)))
    ch = await channel(a)
    await share(a, ch, *remotes)
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    kept = await ann.post(ch, "before the uninvite")
    edited = await ann.post(ch, "will be edited")
    doomed = await ann.post(ch, "will be deleted")
    nodes = [a] + [n for n, _ in remotes]
    await wait_converged(nodes, ch, min_posts=3)  # beta replies to a post it must have first
    reply = await bob.post(ch, "beta's reply", root_id=kept["id"])
    assert (await bob.react(kept["id"], "wave")).status_code == 200
    await wait_converged(nodes, ch, min_posts=4)
    r = await a.http.post(f"/api/v4/remotecluster/{ab}/channels/{ch}/uninvite")
    assert r.status_code == 200
    await eventually(lambda: not_shared(b, ch))
    missed = [await ann.post(ch, f"while beta was out {i}") for i in range(3)]
    missed.append(await ann.post(ch, "a reply beta missed", root_id=kept["id"]))
    await ann.edit(edited["id"], "edited while beta was out")
    await ann.delete(doomed["id"])
    await ann.pin(kept["id"])
    assert (await ann.react(reply["id"], "eyes")).status_code == 200
    if others:
        await wait_converged([a, remotes[1][0]], ch, min_posts=8)
        assert await a.server.shared_channels.outbound.prune() > 0  # gamma acknowledged: beta's rows are gone
    assert missed[0]["id"] not in await posts_of(b, ch)
    r = await invite(a, ch, ab)
    assert r.status_code == 200, r.text
    snap = await wait_converged(nodes, ch, min_posts=8)
    by_id = {p["id"]: p for p in snap["posts"]}
    assert len(snap["posts"]) == 8  # nothing twice
    assert all(m["id"] in by_id for m in missed)
    assert by_id[edited["id"]]["message"] == "edited while beta was out"
    assert by_id[doomed["id"]]["deleted"]
    assert by_id[kept["id"]]["is_pinned"]
    assert by_id[reply["id"]]["reactions"] == [[ann.user_id, "eyes"]]
    assert by_id[kept["id"]]["reactions"] == [[bob.user_id, "wave"]]
    assert await shared_flag(b, ch)
    after = await bob.post(ch, "and beta is back")  # and it syncs both ways again
    await wait_converged(nodes, ch, min_posts=9)
    assert after["id"] in await posts_of(a, ch)


async def test_deleting_on_the_home_while_the_remote_is_down_archives_it_when_back(cluster: Cluster) -> None:
    a, b, _ab, ch = await shared_pair(cluster)
    deletions = _watch_deletions(b)
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "hello")
    await wait_converged([a, b], ch, min_posts=1)
    cluster.net.down.add("beta.test")
    r = await a.http.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200
    await eventually(lambda: _tried(cluster, "beta.test", b"sharedchannel_unshare"))  # and could not get through
    assert not await _archived(b, ch) and await shared_flag(b, ch)
    cluster.net.down.clear()
    await eventually(lambda: _archived(b, ch))
    assert [e.data["channel_id"] for e in deletions] == [ch]
    await eventually(lambda: not_shared(b, ch))
    posts = await posts_of(b, ch)
    assert sum(1 for p in posts.values() if p["message"].startswith(UNSHARED)) == 1


async def test_the_pending_deletion_notice_survives_a_restart_of_the_home(cluster: Cluster) -> None:
    a, b, _ab, ch = await shared_pair(cluster)
    deletions = _watch_deletions(b)
    cluster.net.down.add("beta.test")
    r = await a.http.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200
    await eventually(lambda: _tried(cluster, "beta.test", b"sharedchannel_unshare"))
    a = await restart(cluster, a)  # nothing in memory survives: the notice is in the database
    cluster.net.down.clear()
    await eventually(lambda: _archived(b, ch))
    assert [e.data["channel_id"] for e in deletions] == [ch]
    await eventually(lambda: not_shared(b, ch))


async def test_remote_that_syncs_first_after_the_deletion_archives_too(cluster: Cluster) -> None:
    """Beta writes while cut off, so its own sync may reach alpha before alpha's notice reaches beta: the FAIL
    answer says the channel was deleted (Mattermost's substring still matches) and beta archives its copy."""
    a, b, ab, ch = await shared_pair(cluster)
    deletions = _watch_deletions(b)
    bob = await person(b, channel_id=ch)
    cluster.net.down.update({"alpha.test", "beta.test"})
    r = await a.http.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200
    await bob.post(ch, "anyone there?")
    await eventually(lambda: _tried(cluster, "beta.test", b"sharedchannel_unshare"))
    await eventually(lambda: _failed(b, ab))  # beta's post could not get through either
    b.connections.topics.pop("sharedchannel_unshare")  # beta ignores the notice: only the FAIL can tell it
    cluster.net.down.clear()
    await eventually(lambda: _archived(b, ch))
    assert [e.data["channel_id"] for e in deletions] == [ch]
    await eventually(lambda: not_shared(b, ch))  # archived first, then unshared (a crash between: the notice redone)


async def _tried(cluster: Cluster, host: str, needle: bytes) -> bool:
    """A request carrying ``needle`` was sent to ``host`` (partitioned hosts log it, then refuse it)."""
    return any(needle in r.content for r in cluster.net.log if r.url.host == host)


async def _failed(node: Node, remote_id: str) -> bool:
    return _failures(node, remote_id) >= 1


async def test_a_remote_deleting_its_copy_never_deletes_the_home_channel(cluster: Cluster) -> None:
    """Beta archives its copy while cut off; alpha's next sync gets FAIL "...; channel was deleted" from beta.
    Only a channel's home may delete it: alpha just stops sharing with beta and keeps its channel."""
    a, b, _ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    cluster.net.down.add("alpha.test")  # beta's notice cannot reach alpha; alpha still reaches beta
    a.connections.topics.pop("sharedchannel_unshare")  # and alpha would ignore it anyway: only the FAIL tells
    r = await b.http.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200
    await ann.post(ch, "still here")
    await eventually(lambda: _flag_off(a, ch))  # alpha learned from the FAIL and stopped sharing
    cluster.net.down.clear()
    assert not await _archived(a, ch)
    r = await a.http.get(f"/api/v4/sharedchannels/{ch}/remotes")
    assert r.json() == []


async def _flag_off(node: Node, channel_id: str) -> bool:
    return not await shared_flag(node, channel_id)


async def test_the_deletion_notice_commits_with_the_deletion(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The home dies right after the deletion commits, before any after-commit listener ran: the notice was
    written in the deletion's own transaction, so the restarted home still tells beta."""
    a, b, _ab, ch = await shared_pair(cluster)
    cluster.net.down.add("beta.test")

    async def lost(_events: object) -> None:  # the crash: committed, nothing published
        return None

    monkeypatch.setattr(a.server.bus, "publish", lost)
    r = await a.http.delete(f"/api/v4/channels/{ch}")
    assert r.status_code == 200
    monkeypatch.undo()
    a = await restart(cluster, a)
    cluster.net.down.clear()
    await eventually(lambda: _archived(b, ch))
    await eventually(lambda: not_shared(b, ch))
    assert not await shared_flag(a, ch)
