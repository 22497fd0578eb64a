"""``DELETE /channels/{id}?permanent=true``: refused unless ServiceSettings.EnableAPIChannelDeletion is on,
then the channel and everything under it (members, posts, reactions, files) is gone for good."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from mattermostautodriver.exceptions import NotEnoughPermissions
from sqlalchemy import func, select

from isthmus.store.repo import channels as channels_repo
from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.files import file_infos
from isthmus.store.schema.posts import posts, reactions
from tests.api.channel_support import captured_events, make_channel, open_team_with
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def purge(p: Person, channel_id: str) -> Any:
    """Through the real driver's client (its delete_channel has no ``permanent`` argument)."""
    return p.driver.client.delete(f"/api/v4/channels/{channel_id}", params={"permanent": "true"})


def rows_for(live: LiveServer, channel_id: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        out = {}
        async with live.server.db.read() as conn:
            for name, query in (("channels", select(func.count()).select_from(channels).where(
                                    channels.c.id == channel_id)),
                                ("members", select(func.count()).select_from(channel_members).where(
                                    channel_members.c.channel_id == channel_id)),
                                ("posts", select(func.count()).select_from(posts).where(
                                    posts.c.channel_id == channel_id)),
                                ("reactions", select(func.count()).select_from(reactions).where(
                                    reactions.c.channel_id == channel_id)),
                                ("files", select(func.count()).select_from(file_infos).where(
                                    file_infos.c.channel_id == channel_id))):
                out[name] = int((await conn.execute(query)).scalar_one())
        return out

    return live.run(go())


def furnished(user: Person, other: Person, type_: str = "O") -> dict[str, Any]:
    """A channel of ``user``'s team with ``other`` in it, a post with a reaction and a file."""
    team = open_team_with(user, other)
    ch = make_channel(user, team["id"], type_)
    user.driver.channels.add_channel_member(ch["id"], user_id=other.id)
    info = user.driver.files.upload_file(files=("n.txt", b"bytes of a file", "text/plain"),
                                         channel_id=ch["id"])["file_infos"][0]
    post = user.driver.posts.create_post(channel_id=ch["id"], message="purge me", file_ids=[info["id"]])
    other.driver.reactions.save_reaction({"user_id": other.id, "post_id": post["id"], "emoji_name": "wave"})
    return {"team": team, "channel": ch, "post": post, "file": info}


@pytest.fixture
def deletion_enabled(admin: Person) -> Iterator[None]:
    admin.driver.system.patch_config({"ServiceSettings": {"EnableAPIChannelDeletion": True}})
    try:
        yield
    finally:
        admin.driver.system.patch_config({"ServiceSettings": {"EnableAPIChannelDeletion": False}})


def test_refused_while_the_setting_is_off(live: LiveServer, admin: Person, user: Person, other: Person) -> None:
    assert admin.driver.system.get_config()["ServiceSettings"]["EnableAPIChannelDeletion"] is False
    place = furnished(user, other)
    ch = place["channel"]
    r = user.http.delete(f"/api/v4/channels/{ch['id']}", params={"permanent": "true"})
    assert r.status_code == 403
    assert r.json()["id"] == "api.user.delete_channel.not_enabled.app_error"
    assert user.driver.channels.get_channel(ch["id"])["delete_at"] == 0  # not even archived
    assert rows_for(live, ch["id"]) == {"channels": 1, "members": 2, "posts": 1, "reactions": 1, "files": 1}


def test_purge_removes_everything(live: LiveServer, user: Person, other: Person, deletion_enabled: None) -> None:
    place = furnished(user, other)
    ch, info = place["channel"], place["file"]
    # The blob key is the server's choice; it contains the file id.
    stored = [os.path.join(d, f) for d, _, fs in os.walk(live.data_dir / "files") for f in fs
              if info["id"] in os.path.join(d, f)]
    assert stored
    with captured_events(live) as seen:
        assert purge(user, ch["id"]) == {"status": "OK"}
    assert rows_for(live, ch["id"]) == {"channels": 0, "members": 0, "posts": 0, "reactions": 0, "files": 0}
    assert not any(os.path.exists(p) for p in stored)
    assert user.http.get(f"/api/v4/channels/{ch['id']}").status_code == 404
    assert user.http.get(f"/api/v4/posts/{place['post']['id']}").status_code in (403, 404)
    deleted = [e for e in seen if e.kind == "channel_deleted"]
    assert [(e.data["channel_id"], e.team_id) for e in deleted] == [(ch["id"], place["team"]["id"])]


def test_private_purge_tells_only_former_members(live: LiveServer, user: Person, other: Person,
                                                 deletion_enabled: None) -> None:
    place = furnished(user, other, "P")
    with captured_events(live) as seen:
        purge(user, place["channel"]["id"])
    deleted = [e for e in seen if e.kind == "channel_deleted"]
    assert sorted(e.user_id for e in deleted) == sorted([user.id, other.id])
    assert all(e.team_id == "" and e.channel_id == "" for e in deleted)


def test_refusals_with_the_setting_on(live: LiveServer, admin: Person, user: Person, other: Person,
                                      deletion_enabled: None) -> None:
    place = furnished(user, other)
    ch = place["channel"]
    outsider_team = open_team_with(admin)
    stranger_channel = make_channel(admin, outsider_team["id"], "P")
    r = user.http.delete(f"/api/v4/channels/{stranger_channel['id']}", params={"permanent": "true"})
    assert r.status_code == 403 and r.json()["id"] == "api.context.permissions.app_error"
    town = user.driver.channels.get_channel_by_name(team_id=place["team"]["id"], channel_name="town-square")
    r = user.http.delete(f"/api/v4/channels/{town['id']}", params={"permanent": "true"})
    assert (r.status_code, r.json()["id"]) == (400, "api.channel.delete_channel.cannot.app_error")
    dm = user.driver.channels.create_direct_channel(options=[user.id, other.id])
    assert user.http.delete(f"/api/v4/channels/{dm['id']}", params={"permanent": "true"}).status_code == 400

    async def mark_shared() -> None:
        async with live.server.db.write() as conn:
            await channels_repo.update_channel(conn, ch["id"], {"shared": True})

    live.run(mark_shared())
    r = user.http.delete(f"/api/v4/channels/{ch['id']}", params={"permanent": "true"})
    assert (r.status_code, r.json()["id"]) == (400, "api.channel.delete_channel.shared.app_error")
    assert rows_for(live, ch["id"])["posts"] == 1
    with pytest.raises(NotEnoughPermissions):
        purge(user, stranger_channel["id"])
    assert rows_for(live, stranger_channel["id"])["channels"] == 1
