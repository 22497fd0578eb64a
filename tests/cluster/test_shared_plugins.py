"""Plugin components in shared channels (``EnableSharedChannelsPlugins``, issue 15 item 6): with the flag off the
buttons and menus of message attachments are neither shown nor actionable in a shared channel, on the server
that wrote the post and on the one that received it; the text stays. With the flag on they travel unchanged."""

from __future__ import annotations

from typing import Any

from tests.testlib.cluster import Cluster
from tests.testlib.sharing import channel, person, posts_of, share, share_node, shared_pair, wait_converged

PLUGINS_OFF = {"MM_FEATUREFLAGS_ENABLESHAREDCHANNELSPLUGINS": "false"}
ATTACHMENT: dict[str, Any] = {
    "text": "Deploy version 2.3?", "title": "Release",
    "actions": [{"id": "approve", "name": "Approve", "type": "button",
                 "integration": {"url": "https://ci.example.com/approve", "context": {"v": "2.3"}}},
                {"id": "pick", "name": "Pick", "type": "select", "options": [{"text": "a", "value": "a"}]}],
}
PROPS = {"attachments": [ATTACHMENT], "app_bindings": [{"app_id": "ci", "label": "Run"}]}


def _stripped(props: dict[str, Any]) -> bool:
    return "app_bindings" not in props and props["attachments"] == [{"text": "Deploy version 2.3?",
                                                                     "title": "Release"}]


async def test_flag_off_on_the_writer_strips_buttons_everywhere(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha", **PLUGINS_OFF), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    bot = await person(a, channel_id=ch)
    post = await bot.post(ch, "release ready", props=PROPS)
    assert _stripped(post["props"])  # not shown to the writer's side either
    await wait_converged([a, b], ch, min_posts=1)
    assert _stripped((await posts_of(b, ch))[post["id"]]["props"])
    # a post in a channel that is not shared keeps its components
    plain = await channel(a)
    r = await bot.http.post(f"/api/v4/channels/{plain}/members", json={"user_id": bot.user_id})
    kept = await bot.post(plain, "local only", props=PROPS)
    assert kept["props"]["attachments"] == [ATTACHMENT], r.text


async def test_flag_off_on_the_receiver_strips_what_a_peer_sends(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta", **PLUGINS_OFF)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    bot = await person(a, channel_id=ch)
    post = await bot.post(ch, "release ready", props=PROPS)
    assert post["props"]["attachments"][0]["actions"]  # alpha allows them
    await wait_converged([a, b], ch, min_posts=1)
    assert _stripped((await posts_of(b, ch))[post["id"]]["props"])


async def test_flag_on_keeps_components_across_servers(cluster: Cluster) -> None:
    a, b, _ab, ch = await shared_pair(cluster)
    bot = await person(a, channel_id=ch)
    post = await bot.post(ch, "release ready", props=PROPS)
    await wait_converged([a, b], ch, min_posts=1)
    got = (await posts_of(b, ch))[post["id"]]["props"]
    assert got["attachments"] == [ATTACHMENT] and got["app_bindings"] == PROPS["app_bindings"]
