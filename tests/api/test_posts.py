"""Posts, threads, pins and channel timelines through mattermostautodriver, plus raw httpx for bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mattermostautodriver.exceptions import (
    InvalidOrMissingParameters,
    NotEnoughPermissions,
    ResourceNotFound,
)

from isthmus.core.events import Event
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


@dataclass
class Room:
    team_id: str
    channel_id: str
    channel_name: str
    display_name: str


def make_room(admin: Person, owner: Person, members: list[Person], type_: str = "O") -> Room:
    """A team made by the admin (so nobody else is team admin) and a channel owned by ``owner``."""
    team = admin.driver.teams.create_team(name=unique("t"), display_name="Team", type="O")
    for p in {p.id: p for p in [owner, *members]}.values():
        admin.driver.teams.add_team_member(team["id"], user_id=p.id)
    name = unique("c")
    ch = owner.driver.channels.create_channel(team_id=team["id"], name=name, display_name="Room " + name,
                                              type=type_)
    for m in members:
        owner.driver.channels.add_channel_member(ch["id"], user_id=m.id)
    return Room(team["id"], ch["id"], name, "Room " + name)


@pytest.fixture
def room(admin: Person, user: Person, other: Person) -> Room:
    return make_room(admin, user, [other])


@pytest.fixture
def events(live: LiveServer) -> Iterator[list[Event]]:
    """Every event the server publishes while the test runs (published after commit, before the reply)."""
    seen: list[Event] = []
    live.server.bus.subscribe(seen.append)
    yield seen
    live.server.bus.unsubscribe(seen.append)


def say(p: Person, channel_id: str, message: str, **kw: Any) -> dict[str, Any]:
    post: dict[str, Any] = p.driver.posts.create_post(channel_id=channel_id, message=message, **kw)
    return post


def all_ids(p: Person, channel_id: str) -> list[str]:
    order: list[str] = p.driver.posts.get_posts_for_channel(channel_id, per_page=200)["order"]
    return order


def channel_state(p: Person, channel_id: str) -> tuple[list[str], int]:
    return all_ids(p, channel_id), p.driver.channels.get_channel(channel_id)["total_msg_count"]


def test_create_post_shape_counters_and_read_state(user: Person, room: Room) -> None:
    r = user.http.post("/api/v4/posts", json={"channel_id": room.channel_id, "message": "hello #world",
                                              "props": {"k": 1}, "pending_post_id": "abc"})
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    post = r.json()
    assert post["message"] == "hello #world" and post["user_id"] == user.id and post["root_id"] == ""
    assert post["hashtags"] == "#world" and post["props"] == {"k": 1} and post["pending_post_id"] == "abc"
    assert post["edit_at"] == post["delete_at"] == 0 and post["metadata"] == {} and post["type"] == ""
    assert user.driver.posts.get_post(post["id"]) == post
    ch = user.driver.channels.get_channel(room.channel_id)
    assert ch["total_msg_count"] == ch["total_msg_count_root"] == 1
    assert ch["last_post_at"] == ch["last_root_post_at"] == post["create_at"]
    me = user.driver.channels.get_channel_member(room.channel_id, user.id)
    assert me["msg_count"] == 1 and me["last_viewed_at"] == post["create_at"]


def test_posted_event_data_and_mentions(user: Person, other: Person, room: Room, events: list[Event],
                                       live: LiveServer, admin: Person) -> None:
    outsider = make_person(live, admin.http)
    post = say(user, room.channel_id, f"hi @{other.username} @{outsider.username} @{user.username}")
    posted = [e for e in events if e.kind == "posted"]
    assert len(posted) == 1
    e = posted[0]
    assert (e.channel_id, e.team_id, e.origin) == (room.channel_id, room.team_id, None)
    assert json.loads(e.data.pop("post")) == post
    assert e.data == {"channel_type": "O", "channel_name": room.channel_name,
                      "channel_display_name": room.display_name, "sender_name": f"@{user.username}",
                      "team_id": room.team_id, "set_online": True, "mentions": json.dumps([other.id])}
    viewed = [e for e in events if e.kind == "channel_viewed"]
    assert [(v.user_id, v.data) for v in viewed] == [(user.id, {"channel_id": room.channel_id})]
    assert other.driver.channels.get_channel_member(room.channel_id, other.id)["mention_count"] == 1
    events.clear()
    say(user, room.channel_id, "nobody here, mail me at x@" + other.username)
    assert "mentions" not in next(e for e in events if e.kind == "posted").data


def test_direct_message_event_has_empty_team(user: Person, other: Person, events: list[Event]) -> None:
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    say(user, dm["id"], "psst")
    e = next(e for e in events if e.kind == "posted")
    assert e.team_id == "" and e.data["team_id"] == "" and e.data["channel_type"] == "D"
    assert e.data["channel_display_name"] == f"@{user.username}"
    assert other.driver.posts.get_posts_for_channel(dm["id"])["posts"]


def test_create_rejects_bad_input_and_changes_nothing(user: Person, room: Room) -> None:
    before = channel_state(user, room.channel_id)
    cid = room.channel_id
    bad: list[Any] = [
        b"{not json", b"[]", b'"text"',
        {"message": "no channel"}, {"channel_id": "nope", "message": "x"}, {"channel_id": 5, "message": "x"},
        {"channel_id": cid, "message": 12}, {"channel_id": cid, "message": "x" * 16384},
        {"channel_id": cid, "message": "x", "file_ids": "abc"},
        {"channel_id": cid, "message": "x", "file_ids": ["bad"]},
        {"channel_id": cid, "message": "x", "file_ids": [f"{i:026d}" for i in range(11)]},
        {"channel_id": cid, "message": "x", "props": ["list"]}, {"channel_id": cid, "message": "x", "props": "s"},
        {"channel_id": cid, "message": "x", "type": "system_join_channel"},
        {"channel_id": cid, "message": "x", "root_id": "bad-root"},
        {"channel_id": cid, "message": "x", "pending_post_id": "p" * 65},
    ]
    for body in bad:
        r = (user.http.post("/api/v4/posts", content=body, headers={"Content-Type": "application/json"})
             if isinstance(body, bytes) else user.http.post("/api/v4/posts", json=body))
        assert r.status_code == 400, (body, r.text)
        assert r.json()["request_id"] and r.headers["content-type"] == "application/json"
    assert channel_state(user, room.channel_id) == before
    assert len(say(user, cid, "y" * 16383)["message"]) == 16383
    r = user.http.post("/api/v4/posts", json={"channel_id": cid, "message": "c", "type": "custom_poll"})
    assert r.status_code == 201 and r.json()["type"] == "custom_poll"


def test_pending_post_id_deduplicates_retries(user: Person, room: Room) -> None:
    body = {"channel_id": room.channel_id, "message": "once", "pending_post_id": unique("pp")}
    first = user.http.post("/api/v4/posts", json=body).json()
    second = user.http.post("/api/v4/posts", json=body).json()
    assert first["id"] == second["id"]
    assert all_ids(user, room.channel_id).count(first["id"]) == 1


def test_reply_rules(user: Person, other: Person, room: Room, admin: Person) -> None:
    root = say(user, room.channel_id, "root")
    reply = say(other, room.channel_id, "reply", root_id=root["id"])
    elsewhere = make_room(admin, user, [])
    foreign = say(user, elsewhere.channel_id, "other channel")
    gone = say(user, room.channel_id, "gone")
    user.driver.posts.delete_post(gone["id"])
    before = channel_state(user, room.channel_id)
    for root_id in (foreign["id"], reply["id"], gone["id"], "a" * 26):
        with pytest.raises(InvalidOrMissingParameters):
            say(other, room.channel_id, "bad reply", root_id=root_id)
    assert channel_state(user, room.channel_id) == before
    assert user.driver.posts.get_post(root["id"])["reply_count"] == 1


def test_outsiders_cannot_post_or_read(live: LiveServer, admin: Person, user: Person, room: Room) -> None:
    outsider = make_person(live, admin.http)
    admin.driver.teams.add_team_member(room.team_id, user_id=outsider.id)  # same team, not in channel
    private = make_room(admin, user, [], type_="P")  # another team, private
    secret = say(user, private.channel_id, "secret text")
    public_post = say(user, room.channel_id, "public")
    before = channel_state(user, room.channel_id), channel_state(user, private.channel_id)
    for cid in (room.channel_id, private.channel_id):
        r = outsider.http.post("/api/v4/posts", json={"channel_id": cid, "message": "intrude"})
        assert r.status_code == 403 and "intrude" not in r.text
    for path in (f"/posts/{secret['id']}", f"/posts/{secret['id']}/thread", f"/channels/{private.channel_id}/posts",
                 f"/channels/{private.channel_id}/pinned", f"/posts/{secret['id']}/reactions"):
        r = outsider.http.get("/api/v4" + path)
        assert r.status_code == 403 and "secret text" not in r.text, path
    assert outsider.driver.posts.get_posts_by_ids([secret["id"], public_post["id"]]) == \
        [user.driver.posts.get_post(public_post["id"])]
    assert (channel_state(user, room.channel_id), channel_state(user, private.channel_id)) == before


def test_edit_patch_and_permissions(user: Person, other: Person, admin: Person, room: Room,
                                    events: list[Event]) -> None:
    post = say(user, room.channel_id, "first")
    patched = user.driver.posts.patch_post(post["id"], message="second")
    assert patched["message"] == "second" and patched["edit_at"] > 0 and patched["update_at"] >= patched["edit_at"]
    updated = user.driver.posts.update_post(post["id"], id=post["id"], message="third", is_pinned=True)
    assert updated["message"] == "third" and updated["is_pinned"] and updated["edit_at"] >= patched["edit_at"]
    edited = [json.loads(e.data["post"])["message"] for e in events if e.kind == "post_edited"]
    assert edited == ["second", "third"]
    r = user.http.put(f"/api/v4/posts/{post['id']}", json={"id": "x" * 26, "message": "wrong id"})
    assert r.status_code == 400
    for bad in ({"message": 5}, {"is_pinned": "yes"}, {"props": [1]}, {"file_ids": ["nope"]}):
        assert user.http.put(f"/api/v4/posts/{post['id']}/patch", json=bad).status_code == 400
    with pytest.raises(NotEnoughPermissions):
        other.driver.posts.patch_post(post["id"], message="hacked")
    with pytest.raises(NotEnoughPermissions):
        other.driver.posts.update_post(post["id"], id=post["id"], message="hacked")
    with pytest.raises(NotEnoughPermissions):
        user.driver.posts.patch_post("a" * 26, message="nobody")
    assert user.driver.posts.get_post(post["id"]) == updated
    by_admin = admin.driver.posts.patch_post(post["id"], message="moderated")
    assert by_admin["message"] == "moderated" and by_admin["user_id"] == user.id


def test_pin_unpin_does_not_mark_edited(user: Person, other: Person, room: Room) -> None:
    a, b = say(user, room.channel_id, "a"), say(user, room.channel_id, "b")
    other.driver.posts.pin_post(a["id"])
    user.driver.posts.pin_post(b["id"])
    pinned = user.driver.channels.get_pinned_posts(room.channel_id)
    assert pinned["order"] == [b["id"], a["id"]]
    assert pinned["posts"][a["id"]]["is_pinned"] and pinned["posts"][a["id"]]["edit_at"] == 0
    user.driver.posts.unpin_post(b["id"])
    assert user.driver.channels.get_pinned_posts(room.channel_id)["order"] == [a["id"]]
    assert not user.driver.posts.get_post(b["id"])["is_pinned"]


def test_delete_post_permissions_and_visibility(user: Person, other: Person, admin: Person, room: Room,
                                                events: list[Event]) -> None:
    post = say(user, room.channel_id, "to delete")
    with pytest.raises(NotEnoughPermissions):
        other.driver.posts.delete_post(post["id"])
    assert user.driver.posts.get_post(post["id"])["delete_at"] == 0
    assert user.driver.posts.delete_post(post["id"]) == {"status": "OK"}
    deleted = [json.loads(e.data["post"]) for e in events if e.kind == "post_deleted"]
    assert [d["id"] for d in deleted] == [post["id"]] and deleted[0]["delete_at"] > 0
    with pytest.raises(ResourceNotFound):
        user.driver.posts.get_post(post["id"])
    with pytest.raises(NotEnoughPermissions):
        user.driver.posts.get_post(post["id"], include_deleted=True)
    assert admin.driver.posts.get_post(post["id"], include_deleted=True)["delete_at"] > 0
    with pytest.raises(ResourceNotFound):
        user.driver.posts.delete_post(post["id"])
    assert post["id"] not in all_ids(user, room.channel_id)
    theirs = say(other, room.channel_id, "moderate me")
    admin.driver.posts.delete_post(theirs["id"])
    assert theirs["id"] not in all_ids(user, room.channel_id)


def test_thread_summary_on_reply_create_and_delete(user: Person, other: Person, room: Room) -> None:
    root = say(user, room.channel_id, "root")
    r1 = say(other, room.channel_id, "r1", root_id=root["id"])
    r2 = say(user, room.channel_id, "r2", root_id=root["id"])
    r3 = say(other, room.channel_id, "r3", root_id=root["id"])
    r4 = say(user, room.channel_id, "r4", root_id=root["id"])

    def summary() -> tuple[int, int, list[str] | None]:
        p = user.driver.posts.get_post(root["id"])
        return p["reply_count"], p["last_reply_at"], p["participants"]

    assert summary() == (4, r4["create_at"], [other.id, user.id])
    assert user.driver.channels.get_channel(room.channel_id)["total_msg_count_root"] == 1
    other.driver.posts.delete_post(r1["id"])
    assert summary() == (3, r4["create_at"], [user.id, other.id])
    user.driver.posts.delete_post(r4["id"])
    assert summary() == (2, r3["create_at"], [user.id, other.id])
    other.driver.posts.delete_post(r3["id"])
    assert summary() == (1, r2["create_at"], [user.id])
    thread = other.driver.posts.get_post_thread(r2["id"])
    assert thread["order"] == [r2["id"], root["id"]] and set(thread["posts"]) == {r2["id"], root["id"]}
    mark = user.driver.posts.get_post(root["id"])["update_at"]
    user.driver.posts.delete_post(root["id"])
    for pid in (root["id"], r2["id"]):
        with pytest.raises(ResourceNotFound):
            user.driver.posts.get_post(pid)
    with pytest.raises(ResourceNotFound):
        user.driver.posts.get_post_thread(root["id"])
    changed = user.driver.posts.get_posts_for_channel(room.channel_id, since=mark)["posts"]
    assert changed[r2["id"]]["delete_at"] > 0 and changed[root["id"]]["delete_at"] > 0


def test_thread_pagination(user: Person, room: Room) -> None:
    root = say(user, room.channel_id, "root")
    replies = [say(user, room.channel_id, f"r{i}", root_id=root["id"])["id"] for i in range(5)]
    down = user.driver.posts.get_post_thread(root["id"], perPage=2, direction="down")
    assert down["order"] == [root["id"], *replies[:2]] and down["has_next"] is True
    nxt = user.driver.posts.get_post_thread(root["id"], perPage=2, direction="down", fromPost=replies[1])
    assert nxt["order"] == [root["id"], *replies[2:4]]
    last = user.driver.posts.get_post_thread(root["id"], perPage=2, direction="down", fromPost=replies[3])
    assert last["order"] == [root["id"], replies[4]] and last["has_next"] is False
    up = user.driver.posts.get_post_thread(root["id"], perPage=3)
    assert up["order"] == [*reversed(replies[2:]), root["id"]] and up["has_next"] is True
    assert user.http.get(f"/api/v4/posts/{root['id']}/thread?direction=sideways").status_code == 400


def test_channel_pages_before_after(user: Person, room: Room) -> None:
    mine = [say(user, room.channel_id, f"m{i}")["id"] for i in range(7)]
    ids = all_ids(user, room.channel_id)
    assert ids[:7] == list(reversed(mine))
    page = user.driver.posts.get_posts_for_channel(room.channel_id, page=1, per_page=3)
    assert page["order"] == ids[3:6] and set(page["posts"]) == set(ids[3:6])
    assert page["next_post_id"] == ids[2] and page["prev_post_id"] == (ids[6] if len(ids) > 6 else "")
    first = user.driver.posts.get_posts_for_channel(room.channel_id, per_page=2)
    assert first["order"] == ids[:2] and first["next_post_id"] == "" and first["prev_post_id"] == ids[2]
    assert first["has_next"] is False and first["first_inaccessible_post_time"] == 0
    anchor = ids.index(mine[3])
    before = user.driver.posts.get_posts_for_channel(room.channel_id, before=mine[3], per_page=2)
    assert before["order"] == ids[anchor + 1:anchor + 3] and before["next_post_id"] == mine[3]
    assert before["prev_post_id"] == ids[anchor + 3]
    after = user.driver.posts.get_posts_for_channel(room.channel_id, after=mine[3], per_page=2)
    assert after["order"] == ids[anchor - 2:anchor] and after["prev_post_id"] == mine[3]
    assert after["next_post_id"] == ids[anchor - 3]
    tail = user.driver.posts.get_posts_for_channel(room.channel_id, after=mine[5], per_page=5)
    assert tail["order"] == [mine[6]] and tail["next_post_id"] == ""
    capped = user.http.get(f"/api/v4/channels/{room.channel_id}/posts?per_page=100000")
    assert capped.status_code == 200 and capped.json()["order"] == ids
    unknown = user.driver.posts.get_posts_for_channel(room.channel_id, before="a" * 26)
    assert unknown["order"] == [] and unknown["posts"] == {}
    for query in ("before=bad", "after=1", "since=-5", "since=abc", "page=-1", "per_page=0"):
        assert user.http.get(f"/api/v4/channels/{room.channel_id}/posts?{query}").status_code == 400, query


def test_since_includes_edits_and_deletes(user: Person, room: Room) -> None:
    old = say(user, room.channel_id, "old")
    edited = say(user, room.channel_id, "will edit")
    removed = say(user, room.channel_id, "will delete")
    mark = removed["update_at"]
    user.driver.posts.patch_post(edited["id"], message="edited")
    user.driver.posts.delete_post(removed["id"])
    fresh = say(user, room.channel_id, "fresh")
    since = user.driver.posts.get_posts_for_channel(room.channel_id, since=mark)
    assert set(since["order"]) == {edited["id"], removed["id"], fresh["id"]} and old["id"] not in since["posts"]
    assert since["posts"][removed["id"]]["delete_at"] > 0 and since["posts"][edited["id"]]["message"] == "edited"
    assert since["next_post_id"] == since["prev_post_id"] == ""


def test_include_deleted_list_is_admin_only(user: Person, admin: Person, room: Room) -> None:
    gone = say(user, room.channel_id, "gone")
    user.driver.posts.delete_post(gone["id"])
    with pytest.raises(NotEnoughPermissions):
        user.driver.posts.get_posts_for_channel(room.channel_id, include_deleted=True)
    assert gone["id"] in admin.driver.posts.get_posts_for_channel(room.channel_id, include_deleted=True)["order"]


def test_posts_by_ids(user: Person, room: Room) -> None:
    a, b = say(user, room.channel_id, "a"), say(user, room.channel_id, "b")
    user.driver.posts.delete_post(b["id"])
    got = user.driver.posts.get_posts_by_ids([a["id"], b["id"], "z" * 26])
    assert [p["id"] for p in got] == [a["id"]]
    for body in ([], ["bad"], "x", {"a": 1}):
        assert user.http.post("/api/v4/posts/ids", json=body).status_code == 400, body


def test_posts_around_last_unread(user: Person, other: Person, admin: Person, room: Room) -> None:
    seen = say(user, room.channel_id, "seen")
    other.driver.channels.view_channel(other.id, channel_id=room.channel_id)
    time.sleep(0.005)  # the next post must land in a later millisecond than the view, as for any client
    new = [say(user, room.channel_id, f"n{i}")["id"] for i in range(3)]
    got = other.driver.posts.get_posts_around_last_unread("me", room.channel_id, limit_before=1, limit_after=2)
    assert got["order"] == [new[1], new[0], seen["id"]]
    assert got["next_post_id"] == new[2]
    with pytest.raises(NotEnoughPermissions):
        user.driver.posts.get_posts_around_last_unread(other.id, room.channel_id)
    assert admin.driver.posts.get_posts_around_last_unread(other.id, room.channel_id, limit_before=1,
                                                           limit_after=2)["order"] == got["order"]
    other.driver.channels.view_channel(other.id, channel_id=room.channel_id)
    latest = other.driver.posts.get_posts_around_last_unread(other.id, room.channel_id, limit_before=2)
    assert latest["order"] == [new[2], new[1]]
    r = other.http.get(f"/api/v4/users/me/channels/{room.channel_id}/posts/unread?limit_after=0")
    assert r.status_code == 400


def test_ephemeral_post_is_sent_not_stored(admin: Person, user: Person, room: Room, events: list[Event]) -> None:
    eph = admin.driver.posts.create_post_ephemeral(user_id=user.id,
                                                   post={"channel_id": room.channel_id, "message": "only you"})
    assert eph["type"] == "system_ephemeral" and eph["message"] == "only you"
    sent = [e for e in events if e.kind == "ephemeral_message"]
    assert [(e.user_id, e.channel_id, json.loads(e.data["post"])["id"]) for e in sent] == [(user.id, "", eph["id"])]
    with pytest.raises(ResourceNotFound):
        admin.driver.posts.get_post(eph["id"])
    with pytest.raises(NotEnoughPermissions):
        user.driver.posts.create_post_ephemeral(user_id=user.id, post={"channel_id": room.channel_id,
                                                                       "message": "x"})
    for body in ({"user_id": "bad", "post": {"channel_id": room.channel_id}}, {"user_id": user.id, "post": "x"},
                 {"user_id": user.id, "post": {"channel_id": "bad"}}):
        assert admin.http.post("/api/v4/posts/ephemeral", json=body).status_code == 400


def test_unknown_and_malformed_ids(user: Person, room: Room) -> None:
    for path, status in ((f"/posts/{'a' * 26}", 404), ("/posts/bad", 400), (f"/posts/{'a' * 26}/thread", 404),
                         (f"/channels/{'a' * 26}/posts", 404), ("/channels/bad/posts", 400),
                         ("/channels/bad/pinned", 400)):
        r = user.http.get("/api/v4" + path)
        assert r.status_code == status, path
    assert user.http.delete(f"/api/v4/posts/{'a' * 26}").status_code == 404
    assert user.http.delete("/api/v4/posts/bad").status_code == 400
    assert user.http.post("/api/v4/posts/bad/pin").status_code == 400
    assert user.http.post(f"/api/v4/posts/{'a' * 26}/pin").status_code == 403


def test_archived_channel_refuses_writes(user: Person, room: Room) -> None:
    post = say(user, room.channel_id, "before archive")
    user.driver.channels.delete_channel(room.channel_id)
    before = user.driver.channels.get_channel(room.channel_id)["total_msg_count"]
    r = user.http.post("/api/v4/posts", json={"channel_id": room.channel_id, "message": "late"})
    assert r.status_code == 400 and r.json()["id"] == "api.post.create_post.can_not_post_to_deleted.error"
    assert user.http.put(f"/api/v4/posts/{post['id']}/patch", json={"message": "late"}).status_code == 400
    assert user.http.delete(f"/api/v4/posts/{post['id']}").status_code == 400
    assert user.driver.posts.get_post(post["id"])["message"] == "before archive"
    assert user.driver.channels.get_channel(room.channel_id)["total_msg_count"] == before
