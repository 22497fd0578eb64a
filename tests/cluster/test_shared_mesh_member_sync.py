"""A mesh where the receiver has membership sync on and the channel's home has it off (issue 13 defect 2 again).

gamma knows al directly from alpha (another channel), so al is owned by alpha there; beta's channel reaches
gamma through beta, which relays al's posts. The home vouches only for users that are members of the channel
on gamma (``ownership.author_from``), and with membership sync on gamma's members come only from the home's
membership changes, which a home with membership sync off never sends: al's posts were refused for ever
("not owned by the sender"), while a user gamma first learned through beta was accepted.

The other order was refused too (found by the model test): gamma first learns al through beta's relay (owned by
beta there), then from alpha directly, which takes al over; from then on beta's relays of al needed a membership
that alpha (membership sync off) never sent, so beta could not relay al's next posts.
"""

from __future__ import annotations

from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, posts_of, share, share_node

MEMBER_SYNC = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true"}


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)


async def test_home_relays_a_directly_known_author_to_a_receiver_with_member_sync(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    c = await share_node(cluster, "gamma", **MEMBER_SYNC)
    ab, ac, bc = await cluster.connect(a, b), await cluster.connect(a, c), await cluster.connect(b, c)
    y = await channel(c)
    await share(c, y, (a, ac))
    al = await person(a, channel_id=y)
    first = await al.post(y, "al in gamma's channel")
    await eventually(lambda: _has(c, y, first["id"]))  # gamma knows al from alpha itself

    x = await channel(b)
    await share(b, x, (a, ab), (c, bc))
    r = await a.http.post(f"/api/v4/channels/{x}/members", json={"user_id": al.user_id})
    assert r.status_code == 201, r.text
    relayed = await al.post(x, "al in beta's channel")
    await eventually(lambda: _has(b, x, relayed["id"]))
    await eventually(lambda: _has(c, x, relayed["id"]))  # relayed by beta, the home


async def test_home_relays_an_author_its_own_server_took_over_after_the_home_introduced_it(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    c = await share_node(cluster, "gamma", **MEMBER_SYNC)
    ab, ac, bc = await cluster.connect(a, b), await cluster.connect(a, c), await cluster.connect(b, c)
    x = await channel(b)
    await share(b, x, (a, ab), (c, bc))
    al = await person(a, channel_id=x)
    through_beta = await al.post(x, "al in beta's channel, relayed by beta")
    await eventually(lambda: _has(c, x, through_beta["id"]))  # gamma knows al through beta only

    y = await channel(c)
    await share(c, y, (a, ac))
    r = await a.http.post(f"/api/v4/channels/{y}/members", json={"user_id": al.user_id})
    assert r.status_code == 201, r.text
    direct = await al.post(y, "al in gamma's channel, from alpha itself")
    await eventually(lambda: _has(c, y, direct["id"]))
    assert (await c.http.get(f"/api/v4/users/{al.user_id}")).json()["remote_id"] == ac  # alpha took al over

    again = await al.post(x, "al in beta's channel again")
    await eventually(lambda: _has(b, x, again["id"]))
    await eventually(lambda: _has(c, x, again["id"]))  # still vouched for by beta, the home
