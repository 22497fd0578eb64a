"""The web app's own client, @mattermost/client 11.9.0 (Client4 + WebSocketClient) in Node 20.

The npm packages live in tests/realtime/node (package.json + package-lock.json committed,
node_modules not); ``npm ci`` installs them on first run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.realtime.wsclient import make_channel, make_team
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer
from tests.testlib.npm import ensure_node_modules

NODE_DIR = Path(__file__).parent / "node"


def _node_modules() -> None:
    ensure_node_modules(NODE_DIR)


def _run(*args: str) -> dict[str, Any]:
    _node_modules()
    node = shutil.which("node")
    assert node, "node is required for the @mattermost/client tests"
    proc = subprocess.run([node, "ws_contract.mjs", *args], cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_mattermost_client_websocket_contract(live: LiveServer, admin: Person, user: Person,
                                              other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    result = _run(live.url, other.token, user.token, ch["id"])
    assert result["error"] is None, result
    msgs = result["messages"]
    # hello first, seq 0; then 0, 1, 2, … across the forced reconnect (the client checks it too
    # and would have reconnected again and fired missed-message listeners on any gap).
    assert msgs[0]["event"] == "hello" and msgs[0]["seq"] == 0
    assert [m["seq"] for m in msgs] == list(range(len(msgs)))
    assert [m["event"] for m in msgs].count("hello") == 1  # the reconnect resumed the same connection
    assert result["firstConnect"] == 1 and result["reconnects"] == 1 and result["missed"] == 0
    assert f"connection_id={msgs[0]['data']['connection_id']}" in result["lastUrl"]
    assert result["connectionId"] == msgs[0]["data"]["connection_id"]

    posted = [m for m in msgs if m["event"] == "posted"]
    assert [json.loads(m["data"]["post"])["id"] for m in posted] == result["posts"]
    assert [json.loads(m["data"]["post"])["message"] for m in posted] == \
        ["from node 1", "while reconnecting", "from node 2"]
    for m in posted:
        assert m["data"]["sender_name"] == f"@{user.username}"
        assert m["data"]["channel_name"] == ch["name"] and m["data"]["team_id"] == team["id"]
        assert m["broadcast"]["channel_id"] == ch["id"]

    reply = result["statusesReply"]
    assert reply["status"] == "OK" and reply["data"][other.id] in ("online", "offline")
    assert result["pingReplies"] == 1
