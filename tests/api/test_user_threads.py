"""Collapsed reply threads as Mattermost's apps use them: auto-follow, unread replies and mentions,
follow/unfollow, read/unread, mark all read, and their websocket events."""

from __future__ import annotations

import json
from typing import Any

from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def _post(p: Person, channel_id: str, message: str, root_id: str = "") -> dict[str, Any]:
    r = p.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": message, "root_id": root_id})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _threads(p: Person, team_id: str, **params: Any) -> dict[str, Any]:
    r = p.http.get(f"/api/v4/users/{p.id}/teams/{team_id}/threads", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_author_and_repliers_follow_and_see_unread_replies(user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    root = _post(user, chan["id"], "a question")
    assert _threads(user, team["id"])["total"] == 0  # no replies yet: no thread
    _post(other, chan["id"], f"an answer for @{user.username}", root["id"])
    mine = _threads(user, team["id"])
    assert mine["total"] == 1 and mine["total_unread_threads"] == 1 and mine["total_unread_mentions"] == 1
    thread = mine["threads"][0]
    assert thread["id"] == root["id"] and thread["is_following"] is True and thread["reply_count"] == 1
    assert thread["unread_replies"] == 1 and thread["post"]["message"] == "a question"
    assert thread["participants"] == [{"id": other.id}]
    theirs = _threads(other, team["id"])["threads"][0]
    assert theirs["unread_replies"] == 0 and theirs["is_following"] is True  # their own reply is seen
    extended = _threads(user, team["id"], extended="true")["threads"][0]
    assert extended["participants"][0]["username"] == other.username


def test_follow_unfollow_read_and_unread(live: LiveServer, user: Person, other: Person, admin: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    root = _post(other, chan["id"], "root")
    first = _post(other, chan["id"], "reply 1", root["id"])
    _post(other, chan["id"], "reply 2", root["id"])
    base = f"/api/v4/users/{user.id}/teams/{team['id']}/threads/{root['id']}"
    ws = ws_for(live, user)
    assert user.http.get(base).json()["is_following"] is False
    assert _threads(user, team["id"])["total"] == 0
    assert user.http.put(base + "/following").status_code == 200
    follow = ws.wait_event("thread_follow_changed")
    assert follow["data"] == {"thread_id": root["id"], "state": True, "reply_count": 2}
    assert _threads(user, team["id"])["threads"][0]["unread_replies"] == 2
    read = user.http.put(f"{base}/read/{live.server.clock.now_ms()}")
    assert read.status_code == 200 and read.json()["unread_replies"] == 0
    changed = ws.wait_event("thread_read_changed")
    assert changed["data"]["thread_id"] == root["id"] and changed["data"]["unread_replies"] == 0
    unread = user.http.post(f"{base}/set_unread/{first['id']}")
    assert unread.status_code == 200 and unread.json()["unread_replies"] == 2
    assert user.http.delete(base + "/following").status_code == 200
    assert _threads(user, team["id"])["total"] == 0
    assert user.http.get(base).json()["is_following"] is False
    ws.close()


def test_mark_all_read_and_filters(user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    roots = [_post(user, chan["id"], f"root {i}") for i in range(3)]
    for r in roots:
        _post(other, chan["id"], "reply", r["id"])
    listed = _threads(user, team["id"])
    assert [t["id"] for t in listed["threads"]] == [r["id"] for r in reversed(roots)]  # newest reply first
    assert [t["id"] for t in _threads(user, team["id"], per_page=1)["threads"]] == [roots[2]["id"]]
    assert [t["id"] for t in _threads(user, team["id"], before=roots[2]["id"])["threads"]] == \
        [roots[1]["id"], roots[0]["id"]]
    totals = _threads(user, team["id"], totalsOnly="true")
    assert totals["threads"] == [] and totals["total_unread_threads"] == 3
    assert user.http.put(f"/api/v4/users/{user.id}/teams/{team['id']}/threads/read").status_code == 200
    after = _threads(user, team["id"])
    assert after["total"] == 3 and after["total_unread_threads"] == 0
    assert _threads(user, team["id"], unread="true")["threads"] == []


def test_refusals(user: Person, other: Person, admin: Person) -> None:
    team = make_team(user, other)
    private = make_channel(other, team["id"], type_="P")
    hidden = _post(other, private["id"], "secret root")
    _post(other, private["id"], "secret reply", hidden["id"])
    base = f"/api/v4/users/{user.id}/teams/{team['id']}/threads"
    assert user.http.get(f"{base}/{hidden['id']}").status_code == 403  # not in that channel
    assert user.http.put(f"{base}/{hidden['id']}/following").status_code == 403
    assert other.http.get(base).status_code == 403  # someone else's threads
    for method, bad in (("GET", f"{base}/nope"), ("PUT", f"{base}/{hidden['id']}/read/soon"),
                        ("GET", f"{base}?before=zzz")):
        r = user.http.request(method, bad)
        assert r.status_code == 400, (bad, r.text)
        assert {"id", "message", "status_code", "request_id"} <= r.json().keys()
    reply = next(i for i in other.http.get(f"/api/v4/posts/{hidden['id']}/thread").json()["order"]
                 if i != hidden["id"])
    r = other.http.get(f"/api/v4/users/{other.id}/teams/{team['id']}/threads/{reply}")
    assert r.status_code == 404  # a reply is not a thread


def test_a_reply_tells_connected_followers_but_not_its_author(live: LiveServer, user: Person,
                                                              other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    root = _post(user, chan["id"], "root by user")
    mine, theirs = ws_for(live, user), ws_for(live, other)
    _post(other, chan["id"], f"@{user.username} look", root["id"])
    frame = mine.wait_event("thread_updated")
    thread = json.loads(frame["data"]["thread"])
    assert thread["id"] == root["id"] and thread["unread_replies"] == 1 and thread["unread_mentions"] == 1
    assert frame["broadcast"]["user_id"] == user.id
    theirs.barrier()
    assert theirs.seen("thread_updated") == []  # the replier wrote it: nothing new for them
    _post(user, chan["id"], "answer", root["id"])
    assert json.loads(theirs.wait_event("thread_updated")["data"]["thread"])["unread_replies"] == 1
    mine.close()
    theirs.close()


def test_collapsed_threads_list_roots_only(user: Person, other: Person) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    first = _post(user, chan["id"], "first root")
    reply = _post(other, chan["id"], "a reply", first["id"])
    second = _post(user, chan["id"], "second root")
    url = f"/api/v4/channels/{chan['id']}/posts"
    full = user.http.get(url).json()
    assert full["order"][:3] == [second["id"], reply["id"], first["id"]]
    collapsed = user.http.get(url, params={"collapsedThreads": "true"}).json()
    assert collapsed["order"][:2] == [second["id"], first["id"]] and reply["id"] not in collapsed["posts"]
    assert collapsed["posts"][first["id"]]["reply_count"] == 1
    page = user.http.get(url, params={"collapsedThreads": "true", "per_page": 1}).json()
    assert page["order"] == [second["id"]] and page["prev_post_id"] == first["id"]
    before = user.http.get(url, params={"collapsedThreads": "true", "before": second["id"]}).json()
    assert before["order"][0] == first["id"]
    since = user.http.get(url, params={"collapsedThreads": "true", "since": first["create_at"] - 1}).json()
    assert reply["id"] not in since["order"] and second["id"] in since["order"]
