"""``GET /api/v4/cluster/status`` (Mattermost's ClusterInfo list): system admins see the live serving processes;
one process here (SQLite, or PostgreSQL with ClusterSettings.Enable off)."""

from __future__ import annotations

import socket

import httpx

from isthmus import SERVER_VERSION
from isthmus.store.migrate import alembic_config
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def test_admins_see_this_process_others_are_refused(live: LiveServer, admin: Person, user: Person) -> None:
    r = admin.http.get("/api/v4/cluster/status")
    assert r.status_code == 200, r.text
    [node] = r.json()
    assert set(node) == {"id", "version", "config_hash", "ipaddress", "hostname", "schema_version"}
    assert node["id"] == live.server.cluster.node_id
    assert node["version"] == SERVER_VERSION and node["hostname"] == socket.gethostname()
    assert node["ipaddress"] == f"127.0.0.1:{live.port}" and node["schema_version"] == _head()
    assert len(node["config_hash"]) == 32

    r = user.http.get("/api/v4/cluster/status")
    assert r.status_code == 403 and r.json()["id"] and r.json()["status_code"] == 403
    r = httpx.get(f"{live.url}/api/v4/cluster/status")
    assert r.status_code == 401 and r.json()["status_code"] == 401


def _head() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())
