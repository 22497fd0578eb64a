"""Three servers (issue 15 items 6 and 8b, "through the home"): alpha is the home of a channel shared with beta
and gamma, each connected to alpha only.

* Plugin components (``EnableSharedChannelsPlugins``): each server applies its own flag to what it stores and
  relays; a server with the flag off never shows buttons or menus, whoever wrote the post, and integration output
  shown to one person only (an ephemeral post) in a shared channel loses them there too.
* Per-connection profile policy for relayed users: a user of beta relayed by alpha to gamma reaches gamma with no
  more than beta's policy towards alpha allows, and no more than alpha's policy towards gamma allows (email above
  all: never on the wire to gamma when either policy keeps it back, and forgotten there when beta stops sharing)."""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.events import Event
from isthmus.domain.synced.users import PROP_REMOTE_EMAIL
from isthmus.store.repo import users as users_repo
from tests.cluster.test_shared_plugins import ATTACHMENT, PROPS, _stripped
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import (
    Person,
    admin_of,
    channel,
    eventually,
    person,
    posts_of,
    share,
    share_node,
    wait_converged,
)

PLUGINS_OFF = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSPLUGINS": "false"}


async def _three(cluster: Cluster, *, alpha: dict[str, str] | None = None, beta: dict[str, str] | None = None,
                 gamma: dict[str, str] | None = None) -> tuple[Node, Node, Node, str, str, str]:
    a = await share_node(cluster, "alpha", **(alpha or {}))
    b = await share_node(cluster, "beta", **(beta or {}))
    c = await share_node(cluster, "gamma", **(gamma or {}))
    ab, ac = await cluster.connect(a, b), await cluster.connect(a, c)
    ch = await channel(a)
    await share(a, ch, (b, ab), (c, ac))
    return a, b, c, ab, ac, ch


# --- plugin components ----------------------------------------------------------------------------------------

async def test_each_server_applies_its_own_plugin_flag_through_the_home(cluster: Cluster) -> None:
    """gamma has the flag off: beta's buttons reach alpha (on) intact and gamma stripped, also after an edit;
    a post written on gamma has none anywhere."""
    a, b, c, _, _, ch = await _three(cluster, gamma=PLUGINS_OFF)
    bot = await person(b, channel_id=ch)
    post = await bot.post(ch, "release ready", props=PROPS)
    await wait_converged([a, b, c], ch, min_posts=1)
    assert (await posts_of(a, ch))[post["id"]]["props"]["attachments"] == [ATTACHMENT]
    assert _stripped((await posts_of(c, ch))[post["id"]]["props"])
    r = await bot.http.put(f"/api/v4/posts/{post['id']}/patch", json={"message": "release ready (2.3.1)"})
    assert r.status_code == 200, r.text

    async def edited_on_gamma() -> bool:
        got = (await posts_of(c, ch)).get(post["id"])
        return got is not None and got["message"] == "release ready (2.3.1)"

    await eventually(edited_on_gamma)
    assert _stripped((await posts_of(c, ch))[post["id"]]["props"])
    assert (await posts_of(a, ch))[post["id"]]["props"]["attachments"] == [ATTACHMENT]

    gbot = await person(c, channel_id=ch)
    theirs = await gbot.post(ch, "from gamma", props=PROPS)
    await wait_converged([a, b, c], ch, min_posts=2)
    for node in (a, b, c):
        assert _stripped((await posts_of(node, ch))[theirs["id"]]["props"])


async def test_a_home_with_the_flag_off_relays_no_components(cluster: Cluster) -> None:
    """alpha (the home) has the flag off: beta's post keeps its buttons on beta only; alpha stores it without
    them and gamma, which has the flag on, gets what alpha relays."""
    a, b, c, _, _, ch = await _three(cluster, alpha=PLUGINS_OFF)
    bot = await person(b, channel_id=ch)
    post = await bot.post(ch, "release ready", props=PROPS)
    await wait_converged([a, b, c], ch, min_posts=1)
    assert (await posts_of(b, ch))[post["id"]]["props"]["attachments"] == [ATTACHMENT]
    for node in (a, c):
        assert _stripped((await posts_of(node, ch))[post["id"]]["props"])


async def test_integration_output_shown_to_one_person_loses_components_in_a_shared_channel(
        cluster: Cluster) -> None:
    """An ephemeral post (what a slash command or an integration shows one person) in a shared channel of a
    server with the flag off has no buttons; in a channel that is not shared it keeps them."""
    a, _, _, _, _, ch = await _three(cluster, alpha=PLUGINS_OFF)
    admin = admin_of(a)
    r = await admin.http.post(f"/api/v4/channels/{ch}/members", json={"user_id": admin.user_id})
    assert r.status_code in (200, 201), r.text
    plain = await channel(a)
    seen: list[Event] = []
    a.server.bus.subscribe(lambda e: seen.append(e) if e.kind == "ephemeral_message" else None)
    for channel_id in (ch, plain):
        r = await admin.http.post("/api/v4/posts/ephemeral", json={
            "user_id": admin.user_id, "post": {"channel_id": channel_id, "message": "pick one", "props": PROPS}})
        assert r.status_code == 201, r.text
    shown = {json.loads(e.data["post"])["channel_id"]: json.loads(e.data["post"])["props"] for e in seen}
    assert _stripped(shown[ch])
    assert shown[plain]["attachments"] == [ATTACHMENT]


# --- profile policy for relayed users ---------------------------------------------------------------------------

async def _copy(node: Node, user_id: str) -> dict[str, Any] | None:
    async with node.server.db.read() as conn:
        return await users_repo.select_user(conn, user_id)


async def _policy(node: Node, **share_fields: bool) -> None:
    """``node``'s policy towards its only connection (beta and gamma are connected to alpha only)."""
    remote_id = (await node.remotes())[0]["remote_id"]
    r = await node.http.patch(f"/api/v4/remotecluster/{remote_id}", json=share_fields)
    assert r.status_code == 200, r.text


async def _policy_to(node: Node, remote_id: str, **share_fields: bool) -> None:
    r = await node.http.patch(f"/api/v4/remotecluster/{remote_id}", json=share_fields)
    assert r.status_code == 200, r.text


async def _profile(p: Person, **fields: str) -> None:
    r = await p.http.put(f"/api/v4/users/{p.user_id}/patch", json=fields)
    assert r.status_code == 200, r.text


def _frames_to(cluster: Cluster, host: str, text: str) -> int:
    return sum(1 for r in cluster.net.log if r.url.host == host and text.encode() in r.content)


async def test_a_relayed_user_reaches_the_third_server_with_no_more_than_its_own_server_allows(
        cluster: Cluster) -> None:
    """beta keeps everything but the username back from alpha; alpha would share everything with gamma: gamma
    gets nothing more than alpha got."""
    a, b, c, _, ac, ch = await _three(cluster)
    await _policy(b, share_email=False, share_full_name=False, share_nickname=False, share_position=False)
    await _policy_to(a, ac, share_email=True, share_full_name=True, share_nickname=True, share_position=True)
    bob = await person(b, channel_id=ch)
    await _profile(bob, first_name="Bob", last_name="Ross", nickname="bobby", position="Painter")
    email = f"{bob.username}@{b.host}"
    await bob.post(ch, "hello from beta")
    await wait_converged([a, b, c], ch, min_posts=1)
    for node in (a, c):
        copy = await _copy(node, bob.user_id)
        assert copy is not None, node.name
        assert (copy["first_name"], copy["last_name"], copy["nickname"], copy["position"]) == ("", "", "", "")
        assert copy["props"][PROP_REMOTE_EMAIL] == ""
        assert _frames_to(cluster, node.host, email) == 0


async def test_a_relayed_user_reaches_the_third_server_with_no_more_than_the_home_allows(
        cluster: Cluster) -> None:
    """beta shares bob's email with alpha; alpha does not share email with gamma (its default): the address is
    never on the wire to gamma, not even inside the profile's props."""
    a, b, c, _, _, ch = await _three(cluster)
    await _policy(b, share_email=True)
    bob = await person(b, channel_id=ch)
    email = f"{bob.username}@{b.host}"
    await bob.post(ch, "hello from beta")
    await wait_converged([a, b, c], ch, min_posts=1)
    on_a, on_c = await _copy(a, bob.user_id), await _copy(c, bob.user_id)
    assert on_a is not None and on_a["props"][PROP_REMOTE_EMAIL] == email
    assert on_c is not None and on_c["props"][PROP_REMOTE_EMAIL] == ""
    assert _frames_to(cluster, c.host, email) == 0


async def test_email_a_server_stops_sharing_is_forgotten_on_the_third_server(cluster: Cluster) -> None:
    """Both policies share email: gamma knows bob's address through alpha. beta's admin stops sharing it: alpha
    forgets it, and so does gamma (what alpha relays then says the address is kept back)."""
    a, b, c, _, ac, ch = await _three(cluster)
    await _policy(b, share_email=True)
    await _policy_to(a, ac, share_email=True)
    bob = await person(b, channel_id=ch)
    email = f"{bob.username}@{b.host}"
    await bob.post(ch, "hello from beta")
    await wait_converged([a, b, c], ch, min_posts=1)

    async def email_on(node: Node, expected: str) -> bool:
        copy = await _copy(node, bob.user_id)
        return copy is not None and copy["props"][PROP_REMOTE_EMAIL] == expected

    await eventually(lambda: email_on(c, email))
    await _policy(b, share_email=False)
    await _profile(bob, position="Painter")  # the next profile sync goes with the new policy
    await bob.post(ch, "still here")
    await eventually(lambda: email_on(a, ""))
    await eventually(lambda: email_on(c, ""))
    copy = await _copy(c, bob.user_id)
    assert copy is not None and copy["position"] == "Painter"
