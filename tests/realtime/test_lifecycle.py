"""Connections end when their session does, and detached connections are forgotten after a while."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from tests.realtime.wsclient import WsClient, ws_for
from tests.testlib.clients import Person, driver, make_person
from tests.testlib.live import LiveServer


def _read_until_closed(client: WsClient) -> None:
    with pytest.raises(ConnectionClosed):
        while True:
            client.recv()


def test_deactivated_user_is_disconnected(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    client = ws_for(live, person)
    r = admin.http.put(f"/api/v4/users/{person.id}/active", json={"active": False})
    assert r.status_code == 200
    _read_until_closed(client)  # the user_updated event makes the hub re-check the session at once


def test_logged_out_session_is_disconnected_by_housekeeping(live: LiveServer, admin: Person) -> None:
    person = make_person(live, admin.http)
    d = driver(live, person.username)
    client = ws_for(live, Person(person.id, person.username, d.client.token, d, person.http))
    bystander = ws_for(live, person)  # another session of the same user stays connected
    d.users.logout()
    live.run(live.server.hub.housekeep())
    _read_until_closed(client)
    assert bystander.barrier() is not None
    bystander.close()


def test_detached_connection_expires(live: LiveServer, user: Person) -> None:
    first = ws_for(live, user)
    first.barrier()
    cid, next_seq = first.connection_id, first.next_seq
    first.close()
    hub = live.server.hub
    saved = hub.resume_ms
    hub.resume_ms = -1  # every detached connection is now past its resume window
    try:
        for _ in range(200):  # the server notices the close asynchronously
            if not hub.conns[cid].attached:
                break
            live.run(_tick())
        live.run(hub.housekeep())
    finally:
        hub.resume_ms = saved
    assert cid not in hub.conns
    again = WsClient(live, query=f"connection_id={cid}&sequence_number={next_seq}")
    hello = again.authenticate(user.token)
    assert hello["data"]["connection_id"] != cid
    again.close()


async def _tick() -> None:
    await asyncio.sleep(0.01)


def _wait_detached(live: LiveServer, cid: str) -> None:
    for _ in range(500):  # the server notices a close asynchronously
        conn = live.server.hub.conns.get(cid)
        if conn is None or not conn.attached:
            return
        live.run(_tick())
    raise AssertionError(f"connection {cid} still attached")


def test_a_user_keeps_at_most_sixteen_detached_connections_the_oldest_go_first(live: LiveServer,
                                                                                  admin: Person) -> None:
    """A client that reconnects without resuming leaves a detached connection each time; each new connection
    forgets the oldest detached ones beyond MAX_DETACHED_PER_USER, and one resumed meanwhile no longer counts."""
    from isthmus.realtime.hub import MAX_DETACHED_PER_USER

    person = make_person(live, admin.http)
    hub = live.server.hub
    left: list[tuple[str, int]] = []

    def connect_and_leave() -> None:
        client = ws_for(live, person)
        client.barrier()
        left.append((client.connection_id, client.next_seq))
        client.close()
        _wait_detached(live, client.connection_id)

    for _ in range(MAX_DETACHED_PER_USER):
        connect_and_leave()
    # the oldest comes back (resumes): attached again, so never trimmed, though it was the first to leave
    resumed = WsClient(live, query=f"connection_id={left[0][0]}&sequence_number={left[0][1]}",
                       expected_seq=left[0][1])
    resumed.challenge(person.token)
    resumed.barrier()
    for _ in range(4):
        connect_and_leave()
    last = ws_for(live, person)
    last.barrier()

    mine = {c.connection_id for c in hub.by_user[person.id]}
    detached = {c.connection_id for c in hub.by_user[person.id] if not c.attached}
    assert len(detached) == MAX_DETACHED_PER_USER, len(detached)
    assert left[0][0] in mine and hub.conns[left[0][0]].attached
    # 20 left, 1 resumed: 19 were detached and the 3 that left first (after the resumed one) are forgotten
    forgotten = [cid for cid, _ in left if cid not in mine]
    assert forgotten == [left[1][0], left[2][0], left[3][0]], (forgotten, [cid for cid, _ in left])
    resumed.close()
    last.close()
