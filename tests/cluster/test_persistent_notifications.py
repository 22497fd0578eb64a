"""Persistent notifications of urgent posts (issue 15 item 4): the people an urgent post names are reminded every
interval, at most the configured number of times, until they acknowledge, react or reply (or the post goes); the
recipient limit refuses a post; in a shared channel each server reminds its own users only. The job is driven
directly with the time played forward (no waiting)."""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.events import Event
from isthmus.domain.persistent_notifications import EVENT, send_due
from isthmus.store.repo import persistent_notifications as repo
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    has_channel,
    person,
    share,
    share_node,
    wait_converged,
)

PERSISTENT = {"priority": "urgent", "requested_ack": False, "persistent_notifications": True}
MINUTE = 60_000


class Reminded:
    """The persistent_notification_triggered events a node publishes."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.events: list[Event] = []
        node.server.bus.subscribe(lambda e: self.events.append(e) if e.kind == EVENT else None)

    async def run(self, at: int) -> list[str]:
        """Run the job at time ``at``; the users reminded this time, sorted."""
        self.events.clear()
        sent = await send_due(self.node.server.domain, now=at)
        users = sorted(e.user_id for e in self.events)
        assert sent == len(users)
        return users


async def _pending(node: Node, post_id: str) -> list[str]:
    async with node.server.db.read() as conn:
        return [r["user_id"] for r in await repo.select_for_post(conn, post_id)]


async def _urgent(p: Person, channel_id: str, message: str) -> dict[str, Any]:
    return await p.post(channel_id, message, metadata={"priority": PERSISTENT})


async def test_reminders_until_each_user_answers(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha", MM_SERVICESETTINGS_PERSISTENTNOTIFICATIONINTERVALMINUTES="2",
                         MM_SERVICESETTINGS_PERSISTENTNOTIFICATIONMAXCOUNT="3")
    ch = await channel(a)
    ann, bob, cat, dan = [await person(a, channel_id=ch) for _ in range(4)]
    job = Reminded(a)
    post = await _urgent(ann, ch, f"server room on fire @{bob.username} @{cat.username} @{dan.username}")
    t0 = post["create_at"]
    assert sorted(await _pending(a, post["id"])) == sorted([bob.user_id, cat.user_id, dan.user_id])

    assert await job.run(t0 + 2 * MINUTE - 1) == []  # not an interval yet
    assert await job.run(t0 + 2 * MINUTE) == sorted([bob.user_id, cat.user_id, dan.user_id])
    event = next(e for e in job.events if e.user_id == bob.user_id)
    assert json.loads(event.data["post"])["id"] == post["id"] and event.channel_id == "" and event.team_id == ""
    assert json.loads(event.data["mentions"]) == [bob.user_id] and event.data["sender_name"] == f"@{ann.username}"
    assert await job.run(t0 + 3 * MINUTE) == []  # the next one is an interval after the last

    # Each user's own answer stops his reminders only: bob acknowledges, cat replies, dan reacts later.
    assert (await bob.http.post(f"/api/v4/users/me/posts/{post['id']}/ack")).status_code == 200
    await cat.post(ch, "on it", root_id=post["id"])
    assert await job.run(t0 + 4 * MINUTE) == [dan.user_id]
    assert await _pending(a, post["id"]) == [dan.user_id]
    assert (await dan.react(post["id"], "fire")).status_code == 200
    assert await job.run(t0 + 6 * MINUTE) == []
    assert await _pending(a, post["id"]) == []

    # Nobody answers: PersistentNotificationMaxCount reminders, then the row is gone.
    quiet = await _urgent(ann, ch, f"still burning @{dan.username}")
    t1 = quiet["create_at"]
    got = [await job.run(t1 + k * 2 * MINUTE) for k in range(1, 6)]
    assert got == [[dan.user_id]] * 3 + [[], []]
    assert await _pending(a, quiet["id"]) == []

    # A deleted post reminds nobody; neither does a post in a channel the user left.
    gone = await _urgent(ann, ch, f"false alarm @{dan.username} @{bob.username}")
    await ann.delete(gone["id"])
    left = await _urgent(ann, ch, f"one more @{cat.username}")
    r = await cat.http.delete(f"/api/v4/channels/{ch}/members/{cat.user_id}")
    assert r.status_code == 200, r.text
    assert await job.run(max(gone["create_at"], left["create_at"]) + 2 * MINUTE) == []
    assert await _pending(a, gone["id"]) == [] and await _pending(a, left["id"]) == []


async def test_recipient_limits_and_direct_messages(cluster: Cluster) -> None:
    a = await share_node(cluster, "alpha", MM_SERVICESETTINGS_PERSISTENTNOTIFICATIONMAXRECIPIENTS="2")
    ch = await channel(a)
    ann, bob, cat, dan = [await person(a, channel_id=ch) for _ in range(4)]
    body = {"channel_id": ch, "message": f"@{bob.username} @{cat.username} @{dan.username} now",
            "metadata": {"priority": PERSISTENT}}
    r = await ann.http.post("/api/v4/posts", json=body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["id"] == "api.post.post_priority.max_recipients_persistent_notification_post.request_error"
    assert "at most 2 people" in err["message"] and err["request_id"]
    r = await ann.http.post("/api/v4/posts", json={**body, "message": "nobody named"})
    assert r.status_code == 400
    assert r.json()["id"] == "api.post.post_priority.min_recipients_persistent_notification_post.request_error"
    r = await ann.http.get(f"/api/v4/channels/{ch}/posts")
    assert r.json()["order"] == []  # nothing of the refused posts was kept
    # Without persistent notifications the same message is fine; a reply can never ask for them.
    await ann.post(ch, body["message"], metadata={"priority": {"priority": "urgent"}})

    # In a direct message the other member is reminded without being mentioned.
    r = await ann.http.post("/api/v4/channels/direct", json=[ann.user_id, bob.user_id])
    assert r.status_code == 201, r.text
    dm = r.json()["id"]
    post = await _urgent(ann, dm, "call me")
    job = Reminded(a)
    assert await job.run(post["create_at"] + 5 * MINUTE) == [bob.user_id]  # the default interval: 5 minutes
    assert job.events[0].data["channel_display_name"] == f"@{ann.username}"


async def test_each_server_reminds_its_own_users(cluster: Cluster) -> None:
    """alpha (home) and beta share a channel; an urgent post names one user of each. alpha reminds its user only,
    beta its own (beta's lower recipient limit never refuses a post written elsewhere); bob's acknowledgement on
    beta stops his reminders there, amy on alpha is still reminded."""
    a = await share_node(cluster, "alpha")
    b = await share_node(cluster, "beta", MM_SERVICESETTINGS_PERSISTENTNOTIFICATIONMAXRECIPIENTS="1")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, amy = await person(a, "ann", channel_id=ch), await person(a, "amy", channel_id=ch)
    bob, bea = await person(b, "bob", channel_id=ch), await person(b, "bea", channel_id=ch)
    await bob.post(ch, "hello")  # so that alpha knows bob (as bob:beta) and bea
    await bea.post(ch, "hi")
    await amy.post(ch, "hey")  # and beta knows amy
    await wait_converged([a, b], ch, min_posts=3)
    post = await _urgent(ann, ch, "pager down @amy @bob:beta @bea:beta")
    await wait_converged([a, b], ch, min_posts=4)
    assert await _pending(a, post["id"]) == [amy.user_id]
    assert sorted(await _pending(b, post["id"])) == sorted([bob.user_id, bea.user_id])

    at_a, at_b = Reminded(a), Reminded(b)
    t = post["create_at"] + 5 * MINUTE
    assert await at_a.run(t) == [amy.user_id]
    assert await at_b.run(t) == sorted([bob.user_id, bea.user_id])
    assert (await bob.http.post(f"/api/v4/users/me/posts/{post['id']}/ack")).status_code == 200
    await wait_converged([a, b], ch, min_posts=4)
    assert await at_b.run(t + 5 * MINUTE) == [bea.user_id]
    assert await at_a.run(t + 5 * MINUTE) == [amy.user_id]  # bob's answer is his own


async def test_a_shared_direct_message_is_reminded_by_the_recipients_server(cluster: Cluster) -> None:
    """ann (alpha) sends bob (beta) an urgent DM with persistent notifications: beta reminds bob, alpha reminds
    nobody (bob is not its user); bob's reply on beta stops them."""
    from tests.cluster.test_shared_dms import DMS, _has, _introduce, _open_dm

    a, b = await share_node(cluster, "alpha", **DMS), await share_node(cluster, "beta", **DMS)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann, bob = await person(a, channel_id=ch), await person(b, channel_id=ch)
    await _introduce(a, ch, ann, bob)
    dm = await _open_dm(ann, bob.user_id)
    await eventually(lambda: has_channel(b, dm["id"]))
    post = await _urgent(ann, dm["id"], "call me back")

    async def arrived() -> bool:
        return await _has(b, dm["id"], post["id"])

    await eventually(arrived)
    assert await _pending(a, post["id"]) == [] and await _pending(b, post["id"]) == [bob.user_id]
    at_a, at_b = Reminded(a), Reminded(b)
    t = post["create_at"] + 5 * MINUTE
    assert await at_a.run(t) == []
    assert await at_b.run(t) == [bob.user_id]
    assert json.loads(at_b.events[0].data["post"])["id"] == post["id"]
    await bob.post(dm["id"], "calling", root_id=post["id"])
    assert await at_b.run(t + 5 * MINUTE) == []
