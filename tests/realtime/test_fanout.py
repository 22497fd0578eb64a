"""Who receives which event: channel/team membership, user scope, omitted users, after-commit only.

Negative checks follow one pattern: wait until a member *has* received the event (so the hub
has already pushed it to every recipient), then ``barrier()`` the outsider's socket: anything
queued for it would have arrived before the pong.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from isthmus.core.events import Event
from isthmus.domain.context import transaction
from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


def test_posted_event_contract(live: LiveServer, admin: Person, user: Person, other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    watcher = ws_for(live, other)
    post = user.driver.posts.create_post(channel_id=ch["id"], message=f"hi @{other.username}")
    ev = watcher.wait_event("posted")
    data = ev["data"]
    assert isinstance(data["post"], str)  # a JSON string, decoded a second time by clients
    inner = json.loads(data["post"])
    assert inner["id"] == post["id"] and inner["message"] == post["message"]
    assert data["channel_type"] == "O"
    assert data["channel_name"] == ch["name"]
    assert data["channel_display_name"] == ch["display_name"]
    assert data["sender_name"] == f"@{user.username}"
    assert data["team_id"] == team["id"]
    assert json.loads(data["mentions"]) == [other.id]
    assert ev["broadcast"]["channel_id"] == ch["id"]
    watcher.close()


def test_private_channel_events_reach_members_only(live: LiveServer, admin: Person, user: Person,
                                                   other: Person) -> None:
    team = make_team(admin, user, other)
    private = make_channel(user, team["id"], type_="P")
    member, outsider, admin_ws = ws_for(live, user), ws_for(live, other), ws_for(live, admin)
    post = user.driver.posts.create_post(channel_id=private["id"], message="secret")
    user.driver.posts.patch_post(post["id"], message="secret, edited")
    user.driver.reactions.save_reaction({"user_id": user.id, "post_id": post["id"], "emoji_name": "smile"})
    user.driver.posts.delete_post(post["id"])
    for kind in ("posted", "post_edited", "reaction_added", "post_deleted"):
        member.wait_event(kind)
    for ws in (outsider, admin_ws):  # a system admin who is not a member gets nothing either
        ws.barrier()
        leaked = [e for e in ws.events if e["broadcast"]["channel_id"] == private["id"]]
        assert leaked == []
        assert "secret" not in json.dumps(ws.events)
    for ws in (member, outsider, admin_ws):
        ws.close()


def test_other_teams_events_do_not_leak(live: LiveServer, admin: Person, user: Person, other: Person) -> None:
    team_a = make_team(admin, user)
    make_team(admin, other)
    ch = make_channel(user, team_a["id"])
    in_a, not_in_a = ws_for(live, user), ws_for(live, other)
    user.driver.posts.create_post(channel_id=ch["id"], message="team a only")
    admin.driver.teams.patch_team(team_a["id"], display_name="Renamed")
    in_a.wait_event("posted")
    in_a.wait_event("update_team")
    not_in_a.barrier()
    assert not [e for e in not_in_a.events if e["event"] in ("posted", "update_team")]
    in_a.close()
    not_in_a.close()


def test_joining_and_leaving_a_channel_changes_what_arrives(live: LiveServer, admin: Person, user: Person,
                                                            other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], type_="P")
    member, joiner = ws_for(live, user), ws_for(live, other)
    user.driver.posts.create_post(channel_id=ch["id"], message="before join")
    member.wait_event("posted")
    user.driver.channels.add_channel_member(ch["id"], user_id=other.id)
    added = joiner.wait_event("user_added", user_id=other.id)  # the new member is told at once
    assert added["broadcast"]["channel_id"] == ch["id"]
    user.driver.posts.create_post(channel_id=ch["id"], message="after join")
    got = joiner.wait_event("posted")
    assert json.loads(got["data"]["post"])["message"] == "after join"
    user.driver.channels.remove_user_from_channel(ch["id"], other.id)
    joiner.wait_event("user_removed", channel_id=ch["id"])
    user.driver.posts.create_post(channel_id=ch["id"], message="after leave")
    member.wait_event("posted")
    while len(member.seen("posted")) < 3:
        member.recv()
    joiner.barrier()
    assert [json.loads(e["data"]["post"])["message"] for e in joiner.seen("posted")] == ["after join"]
    member.close()
    joiner.close()


def test_typing_over_rest_omits_the_typer(live: LiveServer, admin: Person, user: Person, other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    typer, watcher = ws_for(live, user), ws_for(live, other)
    assert user.driver.users.publish_user_typing(user.id, channel_id=ch["id"]) == {"status": "OK"}
    ev = watcher.wait_event("typing")
    assert ev["data"] == {"parent_id": "", "user_id": user.id}
    typer.barrier()
    assert not typer.seen("typing")
    typer.close()
    watcher.close()


def test_typing_for_someone_else_needs_manage_system(live: LiveServer, admin: Person, user: Person,
                                                     other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    r = user.http.post(f"/api/v4/users/{other.id}/typing", json={"channel_id": ch["id"]})
    assert r.status_code == 403
    r = user.http.post("/api/v4/users/me/typing", json={"channel_id": "x"})
    assert r.status_code == 400
    outsider = make_person(live, admin.http)
    r = outsider.http.post("/api/v4/users/me/typing", json={"channel_id": ch["id"]})
    assert r.status_code == 403


def test_user_scoped_events_reach_only_that_user(live: LiveServer, user: Person, other: Person) -> None:
    mine, theirs = ws_for(live, user), ws_for(live, other)
    user.driver.users.patch_user("me", nickname=unique("n"))
    mine.wait_event("user_updated", user_id=user.id)
    theirs.barrier()
    assert not theirs.seen("user_updated", user_id=user.id)
    mine.close()
    theirs.close()


def test_direct_message_reaches_both_and_nobody_else(live: LiveServer, admin: Person, user: Person,
                                                     other: Person) -> None:
    third = make_person(live, admin.http)
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    a, b, c = ws_for(live, user), ws_for(live, other), ws_for(live, third)
    user.driver.posts.create_post(channel_id=dm["id"], message="just us")
    assert a.wait_event("posted")["data"]["channel_type"] == "D"
    assert b.wait_event("posted")["data"]["sender_name"] == f"@{user.username}"
    c.barrier()
    assert not c.seen("posted")
    for ws in (a, b, c):
        ws.close()


def test_seq_stays_contiguous_over_many_events(live: LiveServer, admin: Person, user: Person) -> None:
    team = make_team(admin, user)
    ch = make_channel(user, team["id"])
    client = ws_for(live, user)  # WsClient asserts 0, 1, 2, … on every frame it reads
    for i in range(30):
        user.driver.posts.create_post(channel_id=ch["id"], message=f"m{i}")
    while len(client.seen("posted")) < 30:
        client.recv()
    assert [e["seq"] for e in client.events] == list(range(len(client.events)))
    client.close()


def _run_threadsafe(live: LiveServer, coro: Any) -> Any:
    assert live.loop is not None
    return asyncio.run_coroutine_threadsafe(coro, live.loop)


def test_events_reach_sockets_only_after_commit(live: LiveServer, user: Person) -> None:
    client = ws_for(live, user)
    marker = unique("marker")
    emitted = threading.Event()
    gate: dict[str, asyncio.Event] = {}

    async def write(fail: bool) -> None:
        gate["go"] = asyncio.Event()
        async with transaction(live.server.domain) as tx:
            tx.emit(Event("status_change", {"status": marker, "user_id": user.id, "fail": fail}, user_id=user.id))
            emitted.set()
            await gate["go"].wait()
            if fail:
                raise RuntimeError("roll back")

    for fail in (True, False):
        emitted.clear()
        fut = _run_threadsafe(live, write(fail))
        assert emitted.wait(10)
        client.barrier()  # the transaction is still open: the event must not have been sent
        assert not client.seen("status_change", status=marker)
        assert live.loop is not None
        live.loop.call_soon_threadsafe(gate["go"].set)
        if fail:
            try:
                fut.result(10)
            except RuntimeError:
                pass
            client.barrier()
            assert not client.seen("status_change", status=marker)  # rolled back: never sent
        else:
            fut.result(10)
            assert client.wait_event("status_change", status=marker)["data"]["fail"] is False
    client.close()


def test_internal_bus_events_are_not_sent(live: LiveServer, user: Person) -> None:
    client = ws_for(live, user)
    bus = live.server.bus
    live.run(bus.publish([Event("sync_outbox_poke", {"user_id": user.id}, user_id=user.id),
                          Event("status_change", {"status": "probe", "user_id": user.id}, user_id=user.id)]))
    client.wait_event("status_change", status="probe")
    client.barrier()
    assert not [e for e in client.events if e["event"] == "sync_outbox_poke"]
    client.close()


def test_unscoped_events_reach_everyone(live: LiveServer, admin: Person, user: Person) -> None:
    client = ws_for(live, user)
    newcomer = make_person(live, admin.http)
    ev = client.wait_event("new_user", user_id=newcomer.id)
    assert ev["broadcast"]["user_id"] == "" and ev["broadcast"]["channel_id"] == ""
    client.close()
