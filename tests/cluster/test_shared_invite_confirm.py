"""An invite confirmed only by a sync from the invited server (``domain/sharing/confirm.py``).

A sync from the invited server confirms its pending invite, since the server's answer may be lost. But that sync
can come from the server's copy of an earlier invite, torn down since by the uninvite's notice. When the server
then answers "channel is no longer shared", the home sends the invite again. It used to drop the re-invite, and
everything the re-invite owed was lost (the model-based test's run xp, on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json

import httpx

from isthmus.domain.sharing import confirm
from isthmus.domain.sharing.shares import get_channel_remote
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    admin_of,
    eventually,
    invite,
    person,
    posts_of,
    shared_flag,
    shared_pair,
    uninvite_and_wait,
)


async def _row(home: Node, channel_id: str, remote_id: str) -> dict[str, object]:
    row = await get_channel_remote(home.server.domain, channel_id, remote_id)
    assert row is not None
    return {"live": not row.delete_at, "confirmed": row.is_invite_confirmed, "by_sync": row.confirmed_by_sync}


async def test_a_re_invite_confirmed_by_a_sync_from_the_earlier_copy_is_sent_again(cluster: Cluster) -> None:
    a, b, ab, ch = await shared_pair(cluster)  # alpha homes the channel, shared with beta
    bob = await person(b, channel_id=ch)
    release = asyncio.Event()
    late: list[asyncio.Task[httpx.Response]] = []

    async def deliver(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return await httpx.ASGITransport(app=a.app).handle_async_request(request)

    async def alpha_gets_betas_sync_late(request: httpx.Request) -> httpx.Response:
        if not late and request.url.path.endswith("/remotecluster/msg") and \
                json.loads(request.content)["msg"]["topic"] == "sharedchannel_sync":
            # Held in the network: beta may give up waiting, alpha still gets it once released
            late.append(asyncio.create_task(deliver(request)))
            return await asyncio.shield(late[0])
        return await httpx.ASGITransport(app=a.app).handle_async_request(request)

    cluster.net.handlers[a.host] = alpha_gets_betas_sync_late
    await bob.post(ch, "written on beta, on its way to alpha for a long while")
    await eventually(lambda: _true(bool(late)))
    await uninvite_and_wait(a, b, ch, ab)  # beta's copy is gone; its sync is still on the way
    cluster.net.down.add(b.host)  # alpha's next invite cannot reach beta for now
    missed = await admin_of(a).post(ch, "written on alpha while beta was not invited")
    r = await invite(a, ch, ab)
    assert r.status_code == 200, r.text
    assert await _row(a, ch, ab) == {"live": True, "confirmed": False, "by_sync": False}

    release.set()  # the old copy's sync arrives: alpha takes it for beta's answer to the new invite
    await late[0]
    assert await _row(a, ch, ab) == {"live": True, "confirmed": True, "by_sync": True}

    del cluster.net.handlers[a.host]
    cluster.net.down.discard(b.host)
    # Beta answers alpha's next sync "no longer shared": alpha invites it again instead of dropping it
    await eventually(lambda: _has(b, ch, missed["id"]))
    assert await shared_flag(b, ch)
    assert await _row(a, ch, ab) == {"live": True, "confirmed": True, "by_sync": False}


async def test_a_no_longer_shared_answer_leaves_an_invite_sent_since_pending(cluster: Cluster) -> None:
    # The answer was given before the admin invited beta again (handled after it): the new invite will share the
    # channel there again, so alpha keeps it. A confirmed invite is dropped, as before.
    a, b, ab, ch = await shared_pair(cluster)
    await uninvite_and_wait(a, b, ch, ab)
    cluster.net.down.add(b.host)
    assert (await invite(a, ch, ab)).status_code == 200
    assert await confirm.do_peer_lacks_channel(a.server.domain, ch, ab, workspace="beta") == ""
    assert await _row(a, ch, ab) == {"live": True, "confirmed": False, "by_sync": False}

    cluster.net.down.discard(b.host)
    await eventually(lambda: _has(b, ch, ""))
    await eventually(lambda: _confirmed(a, ch, ab))
    assert await confirm.do_peer_lacks_channel(a.server.domain, ch, ab, workspace="beta") == "removed"
    assert (await _row(a, ch, ab))["live"] is False


async def _confirmed(home: Node, channel_id: str, remote_id: str) -> bool:
    return (await _row(home, channel_id, remote_id))["confirmed"] is True


async def _true(value: bool) -> bool:
    return value


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return await shared_flag(node, channel_id) and (not post_id or post_id in await posts_of(node, channel_id))
