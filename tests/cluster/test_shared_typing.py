"""Typing indicators cross servers (issue 15 item 8a, our ``isthmus_typing`` topic): a person typing on one
server shows as typing to the channel's members on the others, through the home, rate limited per person and
channel, never sent back to where it came from; a peer cannot make one of our own people type."""

from __future__ import annotations

from isthmus.core.events import Event
from isthmus.domain.remotes import get_remote
from isthmus.federation.sync.typing_relay import TOPIC_TYPING
from isthmus.federation.wire import Msg
from tests.testlib import wirelog
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    eventually,
    person,
    shared_pair,
    shared_trio,
    wait_converged,
)


def typing_seen(node: Node) -> list[Event]:
    seen: list[Event] = []

    def listener(event: Event) -> None:
        if event.kind == "typing":
            seen.append(event)
    node.server.domain.bus.subscribe(listener)
    return seen


async def _type(p: Person, channel_id: str) -> None:
    r = await p.http.post("/api/v4/users/me/typing", json={"channel_id": channel_id})
    assert r.status_code == 200, r.text


async def test_typing_reaches_every_server_through_the_home_rate_limited(cluster: Cluster) -> None:
    a, b, c, _ab, _ac, ch = await shared_trio(cluster)
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    cat = await person(c, channel_id=ch)
    for p in (ann, bob, cat):  # each takes part once, so the others know them
        await p.post(ch, f"hi from {p.username}")
    await wait_converged([a, b, c], ch, min_posts=3)
    on_a, on_b, on_c = typing_seen(a), typing_seen(b), typing_seen(c)

    await _type(bob, ch)
    await _type(bob, ch)  # a client repeats itself while typing: at most one crosses per interval

    def from_bob(events: list[Event]) -> list[Event]:
        return [e for e in events if e.data["user_id"] == bob.user_id and e.channel_id == ch]

    async def everywhere() -> bool:
        return bool(from_bob(on_a)) and bool(from_bob(on_c))
    await eventually(everywhere)
    got = from_bob(on_c)[0]
    assert got.data == {"parent_id": "", "user_id": bob.user_id} and bob.user_id in got.omit_users
    await _type(cat, ch)  # a later, separate indicator: once it is through, bob's second would be too
    await eventually(lambda: _has(on_b, cat.user_id))
    assert len(from_bob(on_a)) == 1 and len(from_bob(on_c)) == 1  # the repeat within the interval did not cross
    assert [e.origin for e in from_bob(on_b)] == [None, None]  # beta's own two; nothing came back to it


async def _has(events: list[Event], user_id: str) -> bool:
    return any(e.data["user_id"] == user_id for e in events)


async def test_a_peer_cannot_make_a_local_person_type(cluster: Cluster) -> None:
    a, b, ab, ch = await shared_pair(cluster)
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    await bob.post(ch, "hello")
    await wait_converged([a, b], ch, min_posts=1)
    on_a = typing_seen(a)
    rc = await get_remote(b.server.domain, ab)
    with wirelog.hand_made():
        reply = await b.server.connections.client.send_msg(
            rc.site_url, Msg.new(TOPIC_TYPING, {"channel_id": ch, "user_id": ann.user_id, "parent_id": ""},
                                 b.server.domain.now()), remote_id=rc.remote_id, token=rc.remote_token)
    assert reply.ok
    await _type(bob, ch)  # a real one after the forged one: once it is through, the forged one is not
    await eventually(lambda: _has(on_a, bob.user_id))
    assert [e.data["user_id"] for e in on_a] == [bob.user_id]
