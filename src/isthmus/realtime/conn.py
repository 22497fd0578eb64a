"""One socket's send side (``Outbox``) and one logical, resumable connection (``Conn``).

A ``Conn`` is what Mattermost calls a web connection: it has a ``connection_id``, numbers its
events 0, 1, 2, … and keeps the last ``buffer_size`` of them so that a client reconnecting with
``?connection_id=&sequence_number=`` gets exactly what it missed. The ``Conn`` outlives its socket
for a while (the hub reaps it later) and keeps buffering meanwhile; a new socket *attaches* to it.

An ``Outbox`` is a bounded queue of frames plus the task that writes them to one socket. Putting
a frame never waits: if the queue is full the consumer is too slow, and the outbox is killed
(socket closed) instead of holding back the fan-out to everybody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_BAD_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TIMEOUT_S = 2.0


class Outbox:
    def __init__(self, ws: WebSocket, limit: int) -> None:
        self.ws = ws
        self.limit = limit
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self.killed = asyncio.Event()
        self.close_code = CLOSE_NORMAL
        self.close_reason = ""

    def put(self, frame: str) -> bool:
        """Queue ``frame``; on overflow kill the socket and return False."""
        if self.killed.is_set():
            return False
        if len(self._queue) >= self.limit:
            self.kill(CLOSE_POLICY, "send queue full")
            return False
        self._queue.append(frame)
        self._wake.set()
        return True

    def kill(self, code: int, reason: str = "") -> None:
        if not self.killed.is_set():
            self.close_code, self.close_reason = code, reason
            self.killed.set()
            self._wake.set()

    async def run(self) -> None:
        """Write queued frames in order until killed or the socket fails."""
        try:
            while not self.killed.is_set():
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self.ws.send_text(self._queue.popleft())
        except Exception as err:  # the peer went away mid-send; nothing to tell it
            log.debug("websocket send failed: %s", err)
            self.kill(CLOSE_GOING_AWAY, "send failed")

    async def close(self) -> None:
        """Best-effort close frame; a stuck peer must not hold us, the server aborts it after we return."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(self.close_code, self.close_reason[:120]), CLOSE_TIMEOUT_S)


class Conn:
    def __init__(self, connection_id: str, user_id: str, token: str, *, buffer_size: int) -> None:
        self.connection_id = connection_id
        self.user_id = user_id
        self.token = token
        self.next_seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=buffer_size)
        self.outbox: Outbox | None = None
        self.detached_at_ms = 0

    @property
    def attached(self) -> bool:
        return self.outbox is not None

    def push(self, prefix: str) -> None:
        """Number, buffer and (if a socket is attached) send one event; never waits."""
        seq = self.next_seq
        self.next_seq += 1
        frame = f"{prefix}{seq}}}"
        self.buffer.append((seq, frame))
        if self.outbox is not None and not self.outbox.put(frame):
            self.outbox = None  # killed for slowness; its serve() task will finish the detach

    def can_resume(self, sequence_number: int) -> bool:
        """True when every event from ``sequence_number`` on is still buffered (none lost)."""
        if sequence_number == self.next_seq:
            return True
        return bool(self.buffer) and self.buffer[0][0] <= sequence_number < self.next_seq

    def attach(self, outbox: Outbox, sequence_number: int | None = None) -> None:
        """Bind a socket; when resuming, first replay what it missed since ``sequence_number``."""
        self.outbox = outbox
        self.detached_at_ms = 0
        if sequence_number is not None:
            for seq, frame in self.buffer:
                if seq >= sequence_number and not outbox.put(frame):
                    self.outbox = None
                    return

    def detach(self, outbox: Outbox, now_ms: int) -> bool:
        """Unbind ``outbox`` if it is still the current one (a resume may already have replaced it)."""
        if self.outbox is outbox or self.outbox is None:
            self.outbox = None
            if not self.detached_at_ms:
                self.detached_at_ms = now_ms
            return True
        return False
