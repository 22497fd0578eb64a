"""Reactions through mattermostautodriver (``reactions.*``) plus raw httpx for bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mattermostautodriver.exceptions import (
    InvalidOrMissingParameters,
    NotEnoughPermissions,
    ResourceNotFound,
)

from isthmus.core.events import Event
from isthmus.store.repo import reactions as reactions_repo
from tests.api.test_posts import Room, events, make_room, room, say
from tests.testlib.clients import Person, make_person
from tests.testlib.live import LiveServer

__all__ = ["events", "room"]  # fixtures shared with test_posts


def react(p: Person, post_id: str, emoji: str, user_id: str | None = None) -> dict[str, Any]:
    body = {"user_id": user_id or p.id, "post_id": post_id, "emoji_name": emoji}
    reaction: dict[str, Any] = p.driver.reactions.save_reaction(body)
    return reaction


def names(p: Person, post_id: str) -> list[tuple[str, str]]:
    return [(r["user_id"], r["emoji_name"]) for r in p.driver.reactions.get_reactions(post_id)]


def stored(live: LiveServer, user_id: str, post_id: str, emoji: str) -> dict[str, Any] | None:
    async def go() -> dict[str, Any] | None:
        async with live.server.db.read() as conn:
            return await reactions_repo.select_reaction(conn, user_id, post_id, emoji)
    return live.run(go())


def test_add_list_and_event(user: Person, other: Person, room: Room, events: list[Event]) -> None:
    post = say(user, room.channel_id, "react to me")
    r = other.http.post("/api/v4/reactions", json={"user_id": other.id, "post_id": post["id"], "emoji_name": "+1"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    reaction = r.json()
    assert reaction["user_id"] == other.id and reaction["post_id"] == post["id"] and reaction["emoji_name"] == "+1"
    assert reaction["delete_at"] == 0 and reaction["channel_id"] == room.channel_id and reaction["create_at"] > 0
    react(user, post["id"], "white_check_mark")
    assert names(user, post["id"]) == [(other.id, "+1"), (user.id, "white_check_mark")]
    fetched = user.driver.posts.get_post(post["id"])
    assert fetched["has_reactions"] is True and fetched["update_at"] > post["update_at"]
    assert [x["emoji_name"] for x in fetched["metadata"]["reactions"]] == ["+1", "white_check_mark"]
    listed = user.driver.posts.get_posts_for_channel(room.channel_id)["posts"][post["id"]]
    assert listed["metadata"]["reactions"] == fetched["metadata"]["reactions"]
    added = [e for e in events if e.kind == "reaction_added"]
    assert (added[0].channel_id, added[0].team_id) == (room.channel_id, room.team_id)
    assert json.loads(added[0].data["reaction"]) == reaction and set(added[0].data) == {"reaction"}


def test_readd_is_idempotent(user: Person, room: Room, events: list[Event]) -> None:
    post = say(user, room.channel_id, "twice")
    first = react(user, post["id"], "smile")
    events.clear()
    again = react(user, post["id"], "smile")
    assert again == first and names(user, post["id"]) == [(user.id, "smile")]
    assert [e for e in events if e.kind == "reaction_added"] == []


def test_remove_is_soft_and_readd_revives(live: LiveServer, user: Person, room: Room, events: list[Event]) -> None:
    post = say(user, room.channel_id, "come and go")
    added = react(user, post["id"], "tada")
    assert user.driver.reactions.delete_reaction("me", post["id"], "tada") == {"status": "OK"}
    assert names(user, post["id"]) == []
    after = user.driver.posts.get_post(post["id"])
    assert after["has_reactions"] is False and "reactions" not in after["metadata"]
    row = stored(live, user.id, post["id"], "tada")
    assert row is not None and row["delete_at"] > 0 and row["update_at"] == row["delete_at"]
    removed = [json.loads(e.data["reaction"]) for e in events if e.kind == "reaction_removed"]
    assert len(removed) == 1 and removed[0]["delete_at"] == row["delete_at"]
    events.clear()
    user.driver.reactions.delete_reaction(user.id, post["id"], "tada")  # already gone: OK, no event
    assert [e for e in events if e.kind == "reaction_removed"] == []
    revived = react(user, post["id"], "tada")
    assert revived["delete_at"] == 0 and revived["update_at"] > row["update_at"]
    assert revived["create_at"] == added["create_at"]
    assert names(user, post["id"]) == [(user.id, "tada")]
    assert user.driver.posts.get_post(post["id"])["has_reactions"] is True
    live_row = stored(live, user.id, post["id"], "tada")
    assert live_row is not None and live_row["delete_at"] == 0


def test_since_sees_reaction_changes(user: Person, room: Room) -> None:
    post = say(user, room.channel_id, "watch me")
    mark = post["update_at"]
    react(user, post["id"], "eyes")
    since = user.driver.posts.get_posts_for_channel(room.channel_id, since=mark)
    assert since["posts"][post["id"]]["metadata"]["reactions"][0]["emoji_name"] == "eyes"


def test_bad_emoji_names_and_bodies(user: Person, room: Room) -> None:
    post = say(user, room.channel_id, "picky")
    react(user, post["id"], "ok")
    for emoji in ("Thumbs", "a b", "", "x" * 65, "ok!", "ü", 7, None):
        r = user.http.post("/api/v4/reactions", json={"user_id": user.id, "post_id": post["id"], "emoji_name": emoji})
        assert r.status_code == 400, emoji
    for body in (b"{oops", b"[]", {"user_id": "bad", "post_id": post["id"], "emoji_name": "ok"},
                 {"user_id": user.id, "post_id": "bad", "emoji_name": "ok"}, {"post_id": post["id"]}):
        r = (user.http.post("/api/v4/reactions", content=body, headers={"Content-Type": "application/json"})
             if isinstance(body, bytes) else user.http.post("/api/v4/reactions", json=body))
        assert r.status_code == 400, body
    for path in (f"/users/me/posts/{post['id']}/reactions/Bad!", "/users/me/posts/bad/reactions/ok",
                 f"/users/bad/posts/{post['id']}/reactions/ok"):
        assert user.http.delete("/api/v4" + path).status_code == 400, path
    assert names(user, post["id"]) == [(user.id, "ok")]


def test_cannot_react_or_unreact_as_someone_else(user: Person, other: Person, admin: Person, room: Room) -> None:
    post = say(user, room.channel_id, "mine")
    react(other, post["id"], "heart")
    with pytest.raises(NotEnoughPermissions):
        react(user, post["id"], "heart", user_id=other.id)
    with pytest.raises(NotEnoughPermissions):
        user.driver.reactions.delete_reaction(other.id, post["id"], "heart")
    assert names(user, post["id"]) == [(other.id, "heart")]
    admin.driver.reactions.delete_reaction(other.id, post["id"], "heart")  # remove_others_reactions
    assert names(user, post["id"]) == []


def test_deleted_unknown_and_unreadable_posts(live: LiveServer, admin: Person, user: Person, room: Room) -> None:
    gone = say(user, room.channel_id, "gone")
    react(user, gone["id"], "wave")
    user.driver.posts.delete_post(gone["id"])
    for post_id in (gone["id"], "a" * 26):
        with pytest.raises(ResourceNotFound):
            react(user, post_id, "wave")
        with pytest.raises(ResourceNotFound):
            user.driver.reactions.get_reactions(post_id)
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.reactions.get_reactions("bad")
    outsider = make_person(live, admin.http)
    private = make_room(admin, user, [], type_="P")
    secret = say(user, private.channel_id, "secret")
    react(user, secret["id"], "lock")
    with pytest.raises(NotEnoughPermissions):
        react(outsider, secret["id"], "unlock")
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.reactions.get_reactions(secret["id"])
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.reactions.delete_reaction(user.id, secret["id"], "lock")
    assert names(user, secret["id"]) == [(user.id, "lock")]


def test_archived_channel_refuses_reactions(user: Person, room: Room) -> None:
    post = say(user, room.channel_id, "frozen")
    react(user, post["id"], "ice_cube")
    user.driver.channels.delete_channel(room.channel_id)
    with pytest.raises(InvalidOrMissingParameters):
        react(user, post["id"], "fire")
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.reactions.delete_reaction("me", post["id"], "ice_cube")
    assert names(user, post["id"]) == [(user.id, "ice_cube")]


def test_bulk_reactions_for_posts(live: LiveServer, admin: Person, user: Person, other: Person, room: Room) -> None:
    a, b = say(user, room.channel_id, "a"), say(user, room.channel_id, "b")
    react(user, a["id"], "one")
    react(other, a["id"], "two")
    private = make_room(admin, other, [], type_="P")
    hidden = say(other, private.channel_id, "hidden")
    react(other, hidden["id"], "secret")
    unknown = "q" * 26
    r = user.http.post("/api/v4/posts/ids/reactions", json=[a["id"], b["id"], hidden["id"], unknown])
    assert r.status_code == 200
    got = r.json()
    # Unreadable and unknown posts are left out entirely; readable ones without reactions map to [].
    assert set(got) == {a["id"], b["id"]}
    assert [x["emoji_name"] for x in got[a["id"]]] == ["one", "two"]
    assert got[b["id"]] == []
    assert "secret" not in r.text and hidden["id"] not in r.text
    theirs = other.http.post("/api/v4/posts/ids/reactions", json=[hidden["id"]]).json()
    assert [x["emoji_name"] for x in theirs[hidden["id"]]] == ["secret"]
    for body in (["bad"], "x", {"post_id": [a["id"]]}):
        assert user.http.post("/api/v4/posts/ids/reactions", json=body).status_code == 400, body
