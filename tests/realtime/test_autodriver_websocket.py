"""mattermostautodriver's own websocket client (``mattermostautodriver.Websocket``), driven directly.

``init_websocket()`` on the sync driver blocks forever (mattermost-rest.md §2.1), so the test runs
``Websocket.connect(handler)`` as a task and stops it with ``disconnect()`` from the handler.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mattermostautodriver import Websocket

from tests.realtime.wsclient import make_channel, make_team
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


async def test_autodriver_websocket_hello_seq_and_posted(live: LiveServer, admin: Person, user: Person,
                                                         other: Person) -> None:
    team = make_team(admin, user, other)
    ch = make_channel(user, team["id"], other)
    frames: list[dict[str, Any]] = []
    hello_seen = asyncio.Event()
    posted_seen = asyncio.Event()
    ws = Websocket(other.driver.options, other.driver.client.token)

    async def handler(message: str) -> None:
        frame = json.loads(message)
        frames.append(frame)
        if frame.get("event") == "hello":
            hello_seen.set()
        if frame.get("event") == "posted":
            posted_seen.set()
            ws.disconnect()

    task = asyncio.create_task(ws.connect(handler))
    await asyncio.wait_for(hello_seen.wait(), 10)
    post = await asyncio.to_thread(user.driver.posts.create_post, channel_id=ch["id"], message="to the driver")
    await asyncio.wait_for(posted_seen.wait(), 10)
    await asyncio.wait_for(task, 10)

    events = [f for f in frames if "seq_reply" not in f]
    replies = [f for f in frames if "seq_reply" in f]
    assert events[0]["event"] == "hello" and events[0]["seq"] == 0
    assert events[0]["data"]["connection_id"]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert replies == [{"status": "OK", "seq_reply": 1}]  # the answer to the driver's challenge
    posted = events[-1]
    assert posted["event"] == "posted"
    inner = json.loads(posted["data"]["post"])  # what bots do: json.loads the string a second time
    assert inner["id"] == post["id"] and inner["user_id"] == user.id
    assert posted["data"]["sender_name"] == f"@{user.username}"
    assert posted["data"]["channel_name"] == ch["name"]

