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
