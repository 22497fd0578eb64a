"""Resuming a connection with ?connection_id=&sequence_number= (Mattermost's reconnect contract)."""

from __future__ import annotations

import json

from tests.realtime.wsclient import WsClient, make_channel, make_team, ws_for
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def _post(person: Person, channel_id: str, message: str) -> None:
    person.driver.posts.create_post(channel_id=channel_id, message=message)


def _messages(client: WsClient) -> list[str]:
    return [json.loads(e["data"]["post"])["message"] for e in client.seen("posted")]


def test_reconnect_replays_missed_events_in_order(live: LiveServer, admin: Person, user: Person,
                                                  other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    first = ws_for(live, other)
    _post(user, ch["id"], "seen")
    first.wait_event("posted")
    first.barrier()
    cid, next_seq = first.connection_id, first.next_seq
    first.close()
    for i in range(3):
        _post(user, ch["id"], f"missed {i}")
    watcher = ws_for(live, user)
    _post(user, ch["id"], "sync")
    watcher.wait_event("posted")  # the hub has handled every earlier post: they sit in the buffer

    resumed = WsClient(live, query=f"connection_id={cid}&sequence_number={next_seq}", expected_seq=next_seq)
    resumed.challenge(other.token)
    while len(resumed.seen("posted")) < 4:
        resumed.recv()  # WsClient checks that seq continues exactly at next_seq
    assert not resumed.seen("hello")  # same connection: no new hello
    assert _messages(resumed) == ["missed 0", "missed 1", "missed 2", "sync"]
    resumed.barrier()
    resumed.close()
    watcher.close()


def test_reconnect_with_header_auth_resumes_too(live: LiveServer, user: Person) -> None:
    first = WsClient(live, headers={"Authorization": f"Bearer {user.token}"})
    first.recv()
    first.barrier()
    cid, next_seq = first.connection_id, first.next_seq
    first.close()
    user.driver.users.patch_user("me", nickname="resumed")
    again = WsClient(live, query=f"connection_id={cid}&sequence_number={next_seq}",
                     headers={"Authorization": f"Bearer {user.token}"}, expected_seq=next_seq)
    ev = again.wait_event("user_updated", user_id=user.id)
    assert ev["seq"] >= next_seq
    again.close()


def test_unknown_connection_id_gets_a_fresh_connection(live: LiveServer, user: Person) -> None:
    client = WsClient(live, query="connection_id=" + "a" * 26 + "&sequence_number=7")
    hello = client.authenticate(user.token)
    assert hello["seq"] == 0
    assert hello["data"]["connection_id"] != "a" * 26
    client.close()


def test_sequence_number_out_of_range_starts_over(live: LiveServer, user: Person) -> None:
    first = ws_for(live, user)
    first.barrier()
    cid = first.connection_id
    first.close()
    again = WsClient(live, query=f"connection_id={cid}&sequence_number={first.next_seq + 50}")
    hello = again.authenticate(user.token)
    assert hello["seq"] == 0
    assert hello["data"]["connection_id"] != cid
    again.close()


def test_lost_events_beyond_the_buffer_force_a_new_connection(live: LiveServer, admin: Person, user: Person,
                                                              other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    first = ws_for(live, other)
    first.barrier()
    cid, next_seq = first.connection_id, first.next_seq
    first.close()
    buffer_size = live.server.hub.buffer_size
    for _ in range(buffer_size + 5):
        user.driver.users.publish_user_typing(user.id, channel_id=ch["id"])
    probe = ws_for(live, user)
    _post(user, ch["id"], "done")
    probe.wait_event("posted")  # every typing event before it has been buffered (and overflowed)
    again = WsClient(live, query=f"connection_id={cid}&sequence_number={next_seq}")
    hello = again.authenticate(other.token)
    assert hello["seq"] == 0 and hello["data"]["connection_id"] != cid
    again.close()
    probe.close()


def test_someone_else_cannot_resume_my_connection(live: LiveServer, admin: Person, user: Person,
                                                  other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], type_="P")
    mine = ws_for(live, user)
    mine.barrier()
    cid, next_seq = mine.connection_id, mine.next_seq
    mine.close()
    _post(user, ch["id"], "private to user")
    thief = WsClient(live, query=f"connection_id={cid}&sequence_number={next_seq}")
    hello = thief.authenticate(other.token)
    assert hello["data"]["connection_id"] != cid
    thief.barrier()
    assert not thief.seen("posted")
    thief.close()
