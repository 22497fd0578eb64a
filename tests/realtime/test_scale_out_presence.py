"""Presence with two serving processes on one PostgreSQL database (issue 17): a user with a websocket on each
who closes the one on process 2 is still connected to process 1, so process 1 puts them back online after
process 2 set them offline; a status chosen by hand is left alone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.realtime.wsclient import WsClient
from tests.testlib.clients import PASSWORD, unique
from tests.testlib.live import LiveServer

pytestmark = pytest.mark.skipif(not os.environ.get("ISTHMUS_TEST_POSTGRES_URL"),
                                reason="several processes on one database need PostgreSQL (ISTHMUS_TEST_POSTGRES_URL)")
CLUSTER = {"MM_CLUSTERSETTINGS_ENABLE": "true"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    p1 = LiveServer(tmp_path / "p1", CLUSTER).start()
    p2 = LiveServer(tmp_path / "p2", {**CLUSTER, "MM_SQLSETTINGS_DRIVERNAME": "postgres",
                                      "MM_SQLSETTINGS_DATASOURCE": p1.env["MM_SQLSETTINGS_DATASOURCE"]}).start()
    try:
        yield p1, p2
    finally:
        p2.stop()
        p1.stop()


def _status(live: LiveServer, token: str, user_id: str) -> str:
    r = httpx.get(f"{live.url}/api/v4/users/{user_id}/status", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def _until(p1: LiveServer, token: str, user_id: str, wanted: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while _status(p1, token, user_id) != wanted:
        assert time.monotonic() < deadline, f"status never became {wanted}"
        time.sleep(0.05)


def test_closing_the_socket_on_one_process_keeps_a_user_connected_elsewhere_online(
        pair: tuple[LiveServer, LiveServer]) -> None:
    p1, p2 = pair
    name = unique("u")
    r = httpx.post(f"{p1.url}/api/v4/users", json={"username": name, "email": f"{name}@example.com",
                                                   "password": PASSWORD})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    token = httpx.post(f"{p1.url}/api/v4/users/login", json={"login_id": name, "password": PASSWORD}).headers["Token"]

    ws1, ws2 = WsClient(p1), WsClient(p2)
    ws1.authenticate(token)
    ws2.authenticate(token)
    _until(p1, token, user_id, "online")
    ws2.close()  # process 2 has no socket of the user left: it sets them offline ...
    ws1.wait_event("status_change", status="offline", user_id=user_id)
    _until(p1, token, user_id, "online")  # ... and process 1, which has one, puts them back
    assert _status(p2, token, user_id) == "online"

    # offline chosen by hand stays, wherever the sockets are
    r = httpx.put(f"{p2.url}/api/v4/users/{user_id}/status", json={"user_id": user_id, "status": "offline"},
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    ws1.wait_event("status_change", status="offline", user_id=user_id)
    ws1.barrier()
    assert _status(p1, token, user_id) == "offline"
    ws1.close()
