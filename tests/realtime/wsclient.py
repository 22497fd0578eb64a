"""A small synchronous websocket client for tests (the ``websockets`` library, real sockets).

It checks the stream contract on every frame it reads: server events carry ``seq`` counting
0, 1, 2, … without gaps, and replies carry ``seq_reply`` and no ``seq``. ``barrier()`` sends a
ping and reads up to its reply: the server writes a socket's frames in order, so every event
queued for this socket before the ping has arrived once ``barrier()`` returns. That is how the
tests prove a negative ("never received") without sleeping.
"""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.testlib.clients import Person, unique
from tests.testlib.live import LiveServer

Frame = dict[str, Any]


class WsClient:
    def __init__(self, live: LiveServer, *, query: str = "", headers: dict[str, str] | None = None,
                 expected_seq: int = 0) -> None:
        url = f"ws://127.0.0.1:{live.port}/api/v4/websocket" + (f"?{query}" if query else "")
        self.ws: ClientConnection = connect(url, additional_headers=headers, open_timeout=10,
                                            max_size=1 << 24)
        self.events: list[Frame] = []
        self.replies: list[Frame] = []
        self.next_seq = expected_seq
        self.req_seq = 0
        self.connection_id = ""

    # -- raw I/O -----------------------------------------------------------------------------

    def send(self, obj: Any) -> None:
        self.ws.send(obj if isinstance(obj, str | bytes) else json.dumps(obj))

    def recv(self, timeout: float = 10) -> Frame:
        raw = self.ws.recv(timeout=timeout)
        frame: Frame = json.loads(raw)
        if "seq_reply" in frame:
            assert "seq" not in frame, frame
            self.replies.append(frame)
        else:
            assert frame["seq"] == self.next_seq, f"seq gap: got {frame['seq']}, expected {self.next_seq}"
            self.next_seq += 1
            assert set(frame) == {"event", "data", "broadcast", "seq"}, frame
            if frame["event"] == "hello":
                self.connection_id = frame["data"]["connection_id"]
            self.events.append(frame)
        return frame

    def close(self) -> None:
        self.ws.close()

    # -- protocol helpers --------------------------------------------------------------------

    def request(self, action: str, data: Any = None, timeout: float = 10) -> Frame:
        self.req_seq += 1
        seq = self.req_seq
        msg: Frame = {"seq": seq, "action": action}
        if data is not None:
            msg["data"] = data
        self.send(msg)
        while True:
            frame = self.recv(timeout)
            if frame.get("seq_reply") == seq:
                return frame

    def challenge(self, token: str) -> Frame:
        """authentication_challenge without expecting a hello (a resumed connection gets none)."""
        reply = self.request("authentication_challenge", {"token": token})
        assert reply == {"status": "OK", "seq_reply": reply["seq_reply"]}, reply
        return reply

    def authenticate(self, token: str) -> Frame:
        """authentication_challenge; returns the hello (which may come before or after the OK)."""
        self.req_seq += 1
        seq = self.req_seq
        self.send({"seq": seq, "action": "authentication_challenge", "data": {"token": token}})
        hello: Frame | None = None
        ok = False
        while hello is None or not ok:
            frame = self.recv()
            if frame.get("event") == "hello":
                hello = frame
            elif frame.get("seq_reply") == seq:
                assert frame == {"status": "OK", "seq_reply": seq}, frame
                ok = True
        return hello

    def barrier(self) -> list[Frame]:
        """Ping and read to the pong; returns the events that arrived meanwhile."""
        before = len(self.events)
        reply = self.request("ping")
        assert reply["status"] == "OK" and reply["data"]["text"] == "pong", reply
        return self.events[before:]

    def wait_event(self, kind: str, timeout: float = 10, **match: Any) -> Frame:
        """First event (already read or arriving) of ``kind`` whose data matches ``match``."""
        for frame in self.events:
            if _matches(frame, kind, match):
                return frame
        while True:
            frame = self.recv(timeout)
            if "event" in frame and _matches(frame, kind, match):
                return frame

    def seen(self, kind: str, **match: Any) -> list[Frame]:
        return [f for f in self.events if _matches(f, kind, match)]


def _matches(frame: Frame, kind: str, match: dict[str, Any]) -> bool:
    return frame["event"] == kind and all(frame["data"].get(k) == v for k, v in match.items())


def ws_for(live: LiveServer, person: Person) -> WsClient:
    """A websocket authenticated by challenge (as the Python drivers do), past its hello."""
    client = WsClient(live)
    client.authenticate(person.token)
    return client


def make_team(owner: Person, *members: Person, type_: str = "O") -> dict[str, Any]:
    team: dict[str, Any] = owner.driver.teams.create_team(name=unique("t"), display_name="Team", type=type_)
    for m in members:
        owner.driver.teams.add_team_member(team["id"], user_id=m.id)
    return team


def make_channel(owner: Person, team_id: str, *members: Person, type_: str = "O") -> dict[str, Any]:
    ch: dict[str, Any] = owner.driver.channels.create_channel(team_id=team_id, name=unique("c"),
                                                              display_name="Chan", type=type_)
    for m in members:
        owner.driver.channels.add_channel_member(ch["id"], user_id=m.id)
    return ch
