"""A consumer that stops reading is dropped; everybody else keeps receiving everything.

Runs on its own server (small send queues, no other sockets) so the burst of large events
below reaches only the two sockets of this test.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from isthmus.core.events import Event
from tests.realtime.wsclient import ws_for
from tests.testlib.clients import make_person
from tests.testlib.live import LiveServer

BURST = 300
PAD = 32 * 1024  # 300 × 32 KiB ≈ 10 MB: far more than the kernel buffers of one idle socket


@pytest.fixture(scope="module")
def small_queue_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(Path(tmp_path_factory.mktemp("slow")))
    server.server.hub.queue_size = 16
    server.start()
    yield server
    server.stop()


class RawSocket:
    """A websocket client that does the handshake and then reads only when told to.

    (The ``websockets`` clients read in a background thread, so they are never slow at the TCP level.)
    """

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # tiny window: server writes back up
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall((
            "GET /api/v4/websocket HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next unmasked server frame."""
        b0, b1 = self._read(2)
        size = b1 & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, self._read(size)


def test_slow_consumer_is_dropped_without_stalling_others(small_queue_live: LiveServer) -> None:
    live = small_queue_live
    admin = make_person(live, username="sysadmin")
    slow_user, fast_user = make_person(live, admin.http), make_person(live, admin.http)
    slow = RawSocket(live.port, slow_user.token)
    opcode, payload = slow.frame()
    assert opcode == 1 and json.loads(payload)["event"] == "hello"
    fast = ws_for(live, fast_user)
    fast.barrier()

    events = [Event("config_changed", {"i": i, "pad": "x" * PAD}) for i in range(BURST)]
    live.run(live.server.bus.publish(events))  # returns at once: the fan-out never waits for sockets

    got = []
    while len(got) < BURST:
        frame = fast.recv(timeout=30)
        if frame.get("event") == "config_changed":
            got.append(frame["data"]["i"])
    assert got == list(range(BURST))  # the fast socket got all of it, in order, while slow sat idle

    slow.sock.settimeout(30)
    received = []
    closed_by_server = False
    try:
        while True:
            opcode, payload = slow.frame()
            if opcode == 8:
                closed_by_server = True
                break
            if opcode == 1 and json.loads(payload)["event"] == "config_changed":
                received.append(json.loads(payload)["data"]["i"])
    except EOFError:
        closed_by_server = True
    assert closed_by_server
    assert len(received) < BURST  # dropped part-way ...
    assert received == list(range(len(received)))  # ... after an in-order prefix, never a gap
    assert not live.server.hub.is_connected(slow_user.id)
    fast.barrier()  # and the fast socket is still alive afterwards
    fast.close()
