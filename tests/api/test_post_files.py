"""Posts and their files: ``metadata.files`` on every read and post event, files deleted with their post,
and ``file_ids`` edits (added files attached under the create rules, removed files deleted).

Driven through mattermostautodriver; raw httpx for PUT /posts/{id} (the driver's update_post has no file_ids)
and to read error ids.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions, ResourceNotFound

from tests.api.test_files import Room, make_room, png, upload
from tests.realtime.wsclient import WsClient, ws_for
from tests.testlib.clients import Person, unique
from tests.testlib.live import LiveServer


@pytest.fixture
def room(admin: Person, user: Person, other: Person) -> Room:
    """A private channel of ``user`` with ``other`` as member."""
    return make_room(admin, user, [other])


def files_of(post: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, name) of ``metadata.files``, in the order the server listed them."""
    return [(f["id"], f["name"]) for f in post["metadata"].get("files", [])]


def post_event(ws: WsClient, kind: str, post_id: str) -> dict[str, Any]:
    """The post carried by the ``kind`` event about ``post_id`` (already read or arriving)."""
    while True:
        for frame in ws.seen(kind):
            post: dict[str, Any] = json.loads(frame["data"]["post"])
            if post["id"] == post_id:
                return post
        ws.recv()


def assert_gone(p: Person, file_id: str) -> None:
    with pytest.raises(ResourceNotFound):
        p.driver.files.get_file(file_id)
    with pytest.raises(ResourceNotFound):
        p.driver.files.get_file_info(file_id)


# --- metadata.files on reads -------------------------------------------------------------------------

def test_every_read_of_a_post_carries_its_files(user: Person, other: Person, room: Room) -> None:
    word = unique("attached")
    a = upload(user, room.channel_id, "a.txt", b"alpha")
    b = upload(user, room.channel_id, "pic.png", png(8, 6), "image/png")
    expected = [(a["id"], "a.txt"), (b["id"], "pic.png")]
    created = user.driver.posts.create_post(channel_id=room.channel_id, message=f"root {word}",
                                            file_ids=[a["id"], b["id"]])
    assert files_of(created) == expected
    assert {f["post_id"] for f in created["metadata"]["files"]} == {created["id"]}
    assert created["metadata"]["files"][1]["width"] == 8 and created["metadata"]["files"][1]["has_preview_image"]

    r = other.driver.files.get_file(a["id"])  # attached: now readable by the channel
    assert r.content == b"alpha"
    c = upload(other, room.channel_id, "reply.txt", b"reply")
    reply = other.driver.posts.create_post(channel_id=room.channel_id, message="reply", root_id=created["id"],
                                           file_ids=[c["id"]])
    plain = user.driver.posts.create_post(channel_id=room.channel_id, message="no files")
    assert "files" not in plain["metadata"]

    assert files_of(other.driver.posts.get_post(created["id"])) == expected
    thread = other.driver.posts.get_post_thread(created["id"])
    assert files_of(thread["posts"][created["id"]]) == expected
    assert files_of(thread["posts"][reply["id"]]) == [(c["id"], "reply.txt")]
    listed = other.driver.posts.get_posts_for_channel(room.channel_id)
    assert files_of(listed["posts"][created["id"]]) == expected
    assert files_of(listed["posts"][reply["id"]]) == [(c["id"], "reply.txt")]
    assert "files" not in listed["posts"][plain["id"]]["metadata"]
    # A page holding only the reply still carries its root (and the root's files).
    page = other.driver.posts.get_posts_for_channel(room.channel_id, before=plain["id"], per_page=1)
    assert page["order"] == [reply["id"]] and files_of(page["posts"][created["id"]]) == expected
    by_ids = {p["id"]: p for p in other.driver.posts.get_posts_by_ids([created["id"], plain["id"]])}
    assert files_of(by_ids[created["id"]]) == expected and "files" not in by_ids[plain["id"]]["metadata"]
    user.driver.posts.pin_post(created["id"])
    pinned = other.driver.channels.get_pinned_posts(room.channel_id)
    assert files_of(pinned["posts"][created["id"]]) == expected
    unread = other.driver.posts.get_posts_around_last_unread(other.id, room.channel_id)
    assert files_of(unread["posts"][created["id"]]) == expected
    found = other.driver.posts.search_posts(room.team_id, terms=word, is_or_search=False)
    assert found["order"] == [created["id"]] and files_of(found["posts"][created["id"]]) == expected


def test_post_events_carry_files(live: LiveServer, user: Person, other: Person, room: Room) -> None:
    ws = ws_for(live, other)
    try:
        a = upload(user, room.channel_id, "ev.txt", b"event")
        post = user.driver.posts.create_post(channel_id=room.channel_id, message="with a file", file_ids=[a["id"]])
        posted = post_event(ws, "posted", post["id"])
        assert files_of(posted) == [(a["id"], "ev.txt")] and posted["metadata"]["files"][0]["post_id"] == post["id"]

        user.driver.posts.patch_post(post["id"], message="edited")
        edited = post_event(ws, "post_edited", post["id"])
        assert edited["message"] == "edited" and files_of(edited) == [(a["id"], "ev.txt")]

        user.driver.posts.delete_post(post["id"])
        deleted = post_event(ws, "post_deleted", post["id"])
        assert files_of(deleted) == [(a["id"], "ev.txt")]
        assert deleted["metadata"]["files"][0]["delete_at"] == deleted["delete_at"] > 0

        plain = user.driver.posts.create_post(channel_id=room.channel_id, message="plain")
        assert "files" not in post_event(ws, "posted", plain["id"])["metadata"]
    finally:
        ws.close()


# --- delete ------------------------------------------------------------------------------------------

def test_deleting_a_post_deletes_its_files_and_those_of_its_replies(user: Person, other: Person,
                                                                    room: Room) -> None:
    a = upload(user, room.channel_id, "root.txt", b"root")
    root = user.driver.posts.create_post(channel_id=room.channel_id, message="root", file_ids=[a["id"]])
    b = upload(other, room.channel_id, "r1.txt", b"r1")
    other.driver.posts.create_post(channel_id=room.channel_id, message="r1", root_id=root["id"], file_ids=[b["id"]])
    c = upload(other, room.channel_id, "r2.txt", b"r2")
    lone = other.driver.posts.create_post(channel_id=room.channel_id, message="r2", root_id=root["id"],
                                          file_ids=[c["id"]])
    kept = upload(user, room.channel_id, "kept.txt", b"kept")
    elsewhere = user.driver.posts.create_post(channel_id=room.channel_id, message="other", file_ids=[kept["id"]])

    other.driver.posts.delete_post(lone["id"])  # a reply alone: only its own file goes
    assert_gone(other, c["id"])
    assert user.driver.files.get_file(a["id"]).content == b"root"
    assert other.driver.files.get_file(b["id"]).content == b"r1"

    user.driver.posts.delete_post(root["id"])  # a root: its file and its replies' files go
    for person in (user, other):
        assert_gone(person, a["id"])
        assert_gone(person, b["id"])
    assert other.driver.files.get_file(kept["id"]).content == b"kept"
    assert files_of(user.driver.posts.get_post(elsewhere["id"])) == [(kept["id"], "kept.txt")]


# --- editing file_ids --------------------------------------------------------------------------------

def test_patch_attaches_added_files_and_deletes_removed_ones(user: Person, other: Person, room: Room) -> None:
    a = upload(user, room.channel_id, "a.txt", b"a")
    b = upload(user, room.channel_id, "b.txt", b"b")
    post = user.driver.posts.create_post(channel_id=room.channel_id, message="two", file_ids=[a["id"], b["id"]])
    c = upload(user, room.channel_id, "c.txt", b"c")

    patched = user.driver.posts.patch_post(post["id"], file_ids=[a["id"], c["id"]])
    assert patched["file_ids"] == [a["id"], c["id"]] and patched["edit_at"] > 0
    assert files_of(patched) == [(a["id"], "a.txt"), (c["id"], "c.txt")]
    assert other.driver.files.get_file_info(c["id"])["post_id"] == post["id"]
    assert other.driver.files.get_file(c["id"]).content == b"c"
    assert_gone(user, b["id"])
    assert files_of(other.driver.posts.get_post(post["id"])) == [(a["id"], "a.txt"), (c["id"], "c.txt")]
    infos = user.driver.posts.get_file_infos_for_post(post["id"])
    assert sorted(f["id"] for f in infos) == sorted([a["id"], c["id"]])

    # PUT /posts/{id} (the full update) follows the same rules; an empty list removes everything.
    d = upload(user, room.channel_id, "d.txt", b"d")
    r = user.http.put(f"/api/v4/posts/{post['id']}", json={"id": post["id"], "message": "one",
                                                           "file_ids": [d["id"]]})
    assert r.status_code == 200, r.text
    assert files_of(r.json()) == [(d["id"], "d.txt")]
    assert_gone(user, a["id"])
    assert_gone(user, c["id"])
    emptied = user.driver.posts.patch_post(post["id"], file_ids=[])
    assert emptied["file_ids"] == [] and "files" not in emptied["metadata"]
    assert_gone(other, d["id"])
    # A patch without file_ids leaves the files alone.
    e = upload(user, room.channel_id, "e.txt", b"e")
    user.driver.posts.patch_post(post["id"], file_ids=[e["id"]])
    assert files_of(user.driver.posts.patch_post(post["id"], message="text only")) == [(e["id"], "e.txt")]


def test_edits_refuse_files_the_create_rules_refuse_and_change_nothing(admin: Person, user: Person, other: Person,
                                                                       room: Room) -> None:
    a = upload(user, room.channel_id, "a.txt", b"a")
    post = user.driver.posts.create_post(channel_id=room.channel_id, message="mine", file_ids=[a["id"]])
    theirs = upload(other, room.channel_id, "theirs.txt", b"t")
    far_room = make_room(admin, user, [])
    far = upload(user, far_room.channel_id, "far.txt", b"f")
    used = upload(user, room.channel_id, "used.txt", b"u")
    user.driver.posts.create_post(channel_id=room.channel_id, message="uses it", file_ids=[used["id"]])

    cases = [(theirs, "wrong_user"), (far, "wrong_channel"), (used, "already_attached")]
    for bad, reason in cases:
        # Each also removes ``a``: the refusal must roll that back too.
        r = user.http.put(f"/api/v4/posts/{post['id']}/patch", json={"file_ids": [bad["id"]], "message": "x"})
        assert r.status_code == 400, r.text
        assert r.json()["id"] == f"api.post.attach_files.{reason}.app_error"
        r = user.http.put(f"/api/v4/posts/{post['id']}", json={"id": post["id"], "file_ids": [a["id"], bad["id"]]})
        assert r.status_code == 400 and r.json()["id"] == f"api.post.attach_files.{reason}.app_error"
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.posts.patch_post(post["id"], file_ids=[theirs["id"]])

    now = other.driver.posts.get_post(post["id"])
    assert now["message"] == "mine" and now["edit_at"] == 0 and now["file_ids"] == [a["id"]]
    assert files_of(now) == [(a["id"], "a.txt")]
    assert other.driver.files.get_file(a["id"]).content == b"a"
    assert other.driver.files.get_file_info(theirs["id"])["post_id"] == ""
    assert user.driver.files.get_file_info(far["id"])["post_id"] == ""
    # The refused files are still free for their uploaders to use.
    far_post = user.driver.posts.create_post(channel_id=far_room.channel_id, message="ok", file_ids=[far["id"]])
    assert files_of(far_post) == [(far["id"], "far.txt")]


def test_an_admin_edit_attaches_the_admins_files_not_the_authors(admin: Person, user: Person, other: Person,
                                                                  room: Room) -> None:
    user.driver.channels.add_channel_member(room.channel_id, user_id=admin.id)
    post = user.driver.posts.create_post(channel_id=room.channel_id, message="by user")
    draft = upload(user, room.channel_id, "draft.txt", b"private draft")  # unattached: only user may read it
    r = admin.http.put(f"/api/v4/posts/{post['id']}/patch", json={"file_ids": [draft["id"]]})
    assert r.status_code == 400 and r.json()["id"] == "api.post.attach_files.wrong_user.app_error"
    with pytest.raises(NotEnoughPermissions):  # still private to its uploader
        other.driver.files.get_file(draft["id"])

    own = upload(admin, room.channel_id, "admin.txt", b"from admin")
    patched = admin.driver.posts.patch_post(post["id"], file_ids=[own["id"]])
    assert files_of(patched) == [(own["id"], "admin.txt")]
    assert other.driver.files.get_file(own["id"]).content == b"from admin"
