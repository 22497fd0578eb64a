"""Real Mattermost client library (mattermostautodriver) and raw httpx helpers for tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from mattermostautodriver import TypedDriver

from tests.testlib.live import LiveServer

PASSWORD = "Passw0rd!long"


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def driver(live: LiveServer, login_id: str | None = None, password: str = PASSWORD,
           token: str | None = None) -> TypedDriver:
    opts: dict[str, Any] = {"url": "127.0.0.1", "port": live.port, "scheme": "http", "max_retries": 0}
    if token:
        opts["token"] = token
    else:
        opts.update(login_id=login_id, password=password)
    d = TypedDriver(opts)
    d.login()
    return d


@dataclass
class Person:
    """A logged-in user: the real driver plus a raw httpx client carrying the same token."""

    id: str
    username: str
    token: str
    driver: TypedDriver
    http: httpx.Client


def make_person(live: LiveServer, admin_http: httpx.Client | None = None, *, username: str | None = None,
                system_admin: bool = False) -> Person:
    username = username or unique("u")
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    client = admin_http or httpx.Client(base_url=live.url)
    r = client.post("/api/v4/users", json=body)
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    if system_admin and admin_http is not None:
        r = admin_http.put(f"/api/v4/users/{user_id}/roles", json={"roles": "system_user system_admin"})
        assert r.status_code == 200, r.text
    d = driver(live, username)
    token = d.client.token
    http = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Person(user_id, username, token, d, http)
