"""Bad input on posts and reactions: right 4xx AppError, nothing changed, nothing leaked."""

from __future__ import annotations

from tests.api.test_bad_input import assert_app_error, make_channel, make_post, make_team, place
from tests.testlib.clients import Person

__all__ = ["place"]  # the fixture, re-exported so pytest finds it here


def test_wrong_post_bodies_are_400(user: Person, place: dict[str, str]) -> None:
    base = {"channel_id": place["channel"], "message": "m"}
    before = user.http.get(f"/api/v4/channels/{place['channel']}/posts").json()["order"]
    bodies = [{**base, "message": 5}, {**base, "message": ["x"]}, {**base, "channel_id": 5},
              {**base, "channel_id": "not-an-id"}, {"message": "no channel"}, {**base, "message": "x" * 70_000},
              {**base, "props": "x"}, {**base, "file_ids": "x"}, {**base, "root_id": "not-an-id"},
              {**base, "root_id": 7}]
    for body in bodies:
        assert_app_error(user.http.post("/api/v4/posts", json=body), 400)
    r = user.http.get(f"/api/v4/channels/{place['channel']}/posts")
    assert r.status_code == 200
    assert r.json()["order"] == before == [place["post"]]


def test_post_patch_bad_input_changes_nothing(user: Person, place: dict[str, str]) -> None:
    post = make_post(user, place["channel"], "original")
    for body in ({"message": 5}, {"message": "x" * 70_000}, {"props": []}, [], "x"):
        assert_app_error(user.http.put(f"/api/v4/posts/{post['id']}/patch", json=body), 400)
    assert user.http.get(f"/api/v4/posts/{post['id']}").json()["message"] == "original"


def test_posts_in_channels_the_caller_cannot_see(user: Person, other: Person) -> None:
    team = make_team(other)
    private = make_channel(other, team["id"], "P")
    secret = make_post(other, private["id"], "secret words")
    r = user.http.post("/api/v4/posts", json={"channel_id": private["id"], "message": "intrusion"})
    assert r.status_code in (403, 404)
    assert_app_error(r, r.status_code)
    for path in (f"/api/v4/posts/{secret['id']}", f"/api/v4/posts/{secret['id']}/thread",
                 f"/api/v4/channels/{private['id']}/posts", f"/api/v4/posts/{secret['id']}/reactions"):
        r = user.http.get(path)
        assert r.status_code in (403, 404), path
        assert_app_error(r, r.status_code)
        assert "secret words" not in r.text
    r = user.http.put(f"/api/v4/posts/{secret['id']}/patch", json={"message": "defaced"})
    assert r.status_code in (403, 404)
    assert_app_error(r, r.status_code)
    r = user.http.post("/api/v4/reactions", json={"user_id": user.id, "post_id": secret["id"], "emoji_name": "smile"})
    assert r.status_code in (403, 404)
    assert_app_error(r, r.status_code)
    assert other.http.get(f"/api/v4/posts/{secret['id']}").json()["message"] == "secret words"
    assert other.http.get(f"/api/v4/posts/{secret['id']}/reactions").json() in ([], None)


def test_unknown_and_invalid_post_ids(user: Person) -> None:
    for path in ("/api/v4/posts/{id}", "/api/v4/posts/{id}/thread", "/api/v4/posts/{id}/reactions"):
        r = user.http.get(path.format(id="z" * 26))
        assert r.status_code in (403, 404), path
        assert_app_error(r, r.status_code)
        assert_app_error(user.http.get(path.format(id="bad-id")), 400)
    r = user.http.delete(f"/api/v4/posts/{'z' * 26}")
    assert r.status_code in (403, 404)
    assert_app_error(r, r.status_code)


def test_wrong_reaction_bodies_are_400(user: Person, other: Person, place: dict[str, str]) -> None:
    post = make_post(user, place["channel"])
    base = {"user_id": user.id, "post_id": post["id"], "emoji_name": "smile"}
    for body in ({**base, "emoji_name": ""}, {**base, "emoji_name": 5}, {**base, "emoji_name": "x" * 200},
                 {**base, "emoji_name": "bad name!"}, {**base, "post_id": "bad"}, {**base, "post_id": None},
                 {**base, "user_id": 5}):
        r = user.http.post("/api/v4/reactions", json=body)
        assert_app_error(r, 400)
    # Reacting on someone else's behalf is refused.
    r = user.http.post("/api/v4/reactions", json={**base, "user_id": other.id})
    assert r.status_code in (400, 403)
    assert_app_error(r, r.status_code)
    assert user.http.get(f"/api/v4/posts/{post['id']}/reactions").json() in ([], None)


def test_double_slash_reactions_path_from_mattermostdriver(user: Person, place: dict[str, str]) -> None:
    post = make_post(user, place["channel"])
    r = user.http.post("/api/v4/reactions", json={"user_id": user.id, "post_id": post["id"], "emoji_name": "tada"})
    assert r.status_code in (200, 201), r.text
    r = user.http.get(f"/api/v4/posts/{post['id']}//reactions")
    assert r.status_code == 200
    assert [x["emoji_name"] for x in r.json()] == ["tada"]
