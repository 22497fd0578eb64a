"""Durable profile changes and last-writer-wins clocks for profiles, statuses and memberships (issue 13, defects
8 and 9): a profile change is recorded with the change itself, and a late older message never overwrites a
newer state on the receiver."""

from __future__ import annotations

from typing import Any

import pytest

from isthmus.core.ids import new_id
from tests.cluster.test_shared_hostile import send
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    channel,
    eventually,
    person,
    restart,
    share,
    share_node,
    wait_converged,
)

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true"}


async def _pair(cluster: Cluster, **env: str) -> tuple[Node, Node, str, str, Person]:
    """alpha homes a channel shared with beta; bob (beta) posted there, so alpha has bob as a synthetic user."""
    a, b = await share_node(cluster, "alpha", **env), await share_node(cluster, "beta", **env)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    bob = await person(b, channel_id=ch)
    await bob.post(ch, "hi from bob")
    await wait_converged([a, b], ch, min_posts=1)
    return a, b, ab, ch, bob


async def _user(node: Node, user_id: str) -> dict[str, Any]:
    r = await node.http.get(f"/api/v4/users/{user_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- 13.8: a profile change is durable --------------------------------------------------------------------

async def test_profile_change_and_deactivation_survive_a_crash_after_commit(cluster: Cluster,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """beta dies right after bob's patch and deactivation commit, before any after-commit listener ran: the
    outbox rows were written in the changes' own transactions, so the restarted beta still tells alpha."""
    a, b, _ab, _ch, bob = await _pair(cluster)
    cluster.net.down.add("alpha.test")

    async def lost(_events: object) -> None:  # the crash: committed, nothing published
        return None

    monkeypatch.setattr(b.server.bus, "publish", lost)
    r = await b.http.put(f"/api/v4/users/{bob.user_id}/patch", json={"nickname": "Bobby"})
    assert r.status_code == 200, r.text
    r = await b.http.delete(f"/api/v4/users/{bob.user_id}")
    assert r.status_code == 200, r.text
    monkeypatch.undo()
    b = await restart(cluster, b)
    cluster.net.down.clear()

    async def deactivated_on_alpha() -> bool:
        got = await _user(a, bob.user_id)
        return bool(got["delete_at"] > 0 and got["nickname"] == "Bobby")

    await eventually(deactivated_on_alpha)
