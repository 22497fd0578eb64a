"""The cross-process bus: every event published in one process reaches the listeners of every other.

Placed at the seam the domain already has (``core.events.EventBus``, published after commit): the relay
is one more local listener that forwards each event to the other processes, and re-publishes on the
local bus what they forward to it. So the websocket hub, the federation sender's wake-ups and the cache
invalidations (``cluster.service``) work unchanged across processes, and the domain knows nothing of it.

* An event made here reaches local listeners directly, once; the bus echo of it (PostgreSQL and Redis
  both deliver a message to its own sender's subscription) is dropped by node id.
* Events re-published from a peer are not forwarded again (recognised by identity while re-published; a
  context variable would leak into tasks that listeners start and silence their events too).
* Events whose listeners *do work* once per workspace (post a notice, tell a peer) are not relayed
  (``LOCAL_ONLY``): the process that made the change runs them.

Transports: PostgreSQL ``LISTEN/NOTIFY`` (no extra service; a NOTIFY payload is at most 8000 bytes, so
larger messages are cut into numbered parts and joined on arrival; notifications of one session arrive
in order) and Redis pub/sub (``ClusterSettings.BusURL``). A message lost while a listener reconnects is
covered by ``on_reconnect``: the receiver drops all its caches.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from isthmus.core.events import Event, EventBus
from isthmus.core.ids import new_id

log = logging.getLogger(__name__)

PG_PAYLOAD_LIMIT = 7_800  # NOTIFY's limit is 8000 bytes, minus the envelope of a part
QUEUE_LIMIT = 50_000

OnMessage = Callable[[str], None]


class Transport(Protocol):
    max_payload: int | None

    async def start(self, on_message: OnMessage, on_reconnect: Callable[[], None]) -> None: ...
    async def send(self, payload: str) -> None: ...
    async def stop(self) -> None: ...


def encode_event(e: Event) -> dict[str, Any]:
    try:
        data: Any = json.loads(json.dumps(e.data))
    except (TypeError, ValueError):  # an internal event with objects in it: its kind and scope still wake peers
        data = {}
    return {"k": e.kind, "d": data, "c": e.channel_id, "t": e.team_id, "u": e.user_id,
            "o": sorted(e.omit_users), "r": e.origin}


def decode_event(raw: dict[str, Any]) -> Event:
    return Event(kind=str(raw["k"]), data=dict(raw.get("d") or {}), channel_id=str(raw.get("c") or ""),
                 team_id=str(raw.get("t") or ""), user_id=str(raw.get("u") or ""),
                 omit_users=frozenset(raw.get("o") or ()), origin=raw.get("r"))


class Relay:
    """Forwards local events to peers and peers' events to the local bus (see the module note)."""

    def __init__(self, bus: EventBus, transport: Transport, node_id: str, *,
                 local_only: frozenset[str] = frozenset(),
                 before_publish: Callable[[list[Event]], Awaitable[None]] | None = None,
                 on_control: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
                 on_reconnect: Callable[[], None] | None = None) -> None:
        self.bus = bus
        self.transport = transport
        self.node_id = node_id
        self.local_only = local_only
        self.before_publish = before_publish
        self.on_control = on_control
        self._on_reconnect = on_reconnect or (lambda: None)
        self._out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._in: asyncio.Queue[str] = asyncio.Queue()
        self._parts: dict[str, list[str]] = {}
        self._republishing: set[int] = set()  # id() of peer events being re-published here
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = self.received = self.dropped = 0

    async def start(self) -> None:
        await self.transport.start(self._in.put_nowait, self._on_reconnect)
        self.bus.subscribe(self.on_local_event)
        self._tasks = [asyncio.create_task(self._sender(), name="isthmus-cluster-bus-send"),
                       asyncio.create_task(self._receiver(), name="isthmus-cluster-bus-receive")]

    async def stop(self) -> None:
        self.bus.unsubscribe(self.on_local_event)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.transport.stop()

    # ---- out -------------------------------------------------------------------------------

    def on_local_event(self, event: Event) -> None:
        if id(event) in self._republishing or event.kind in self.local_only:
            return
        self._enqueue({"e": encode_event(event)})

    def send_control(self, body: dict[str, Any]) -> None:
        """A message that is not an event (e.g. saved config) for ``on_control`` in every other process."""
        self._enqueue({"x": body})

    def _enqueue(self, item: dict[str, Any]) -> None:
        if self._out.qsize() >= QUEUE_LIMIT:  # the bus is away for long: peers resync from the database anyway
            self.dropped += 1
            return
        self._out.put_nowait(item)

    async def _sender(self) -> None:
        while True:
            batch = [await self._out.get()]
            while not self._out.empty() and len(batch) < 200:  # a burst goes out as a few messages
                batch.append(self._out.get_nowait())
            for payload in self._pack(batch):
                try:
                    await self.transport.send(payload)
                    self.sent += 1
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    self.dropped += 1
                    log.warning("cluster bus: message to the other processes not sent: %s", err)

    def _pack(self, items: list[dict[str, Any]]) -> list[str]:
        body = json.dumps({"n": self.node_id, "m": items}, separators=(",", ":"))
        limit = self.transport.max_payload
        if limit is None or len(body.encode()) <= limit:
            return [body]
        if len(items) > 1:  # split the batch first; only one item too big for a message is cut into parts
            half = len(items) // 2
            return self._pack(items[:half]) + self._pack(items[half:])
        # ``body`` is ASCII (json.dumps escapes the rest); quoted again inside a part a character takes at most two.
        msg_id, step = new_id(), (limit - 200) // 2
        chunks = [body[i:i + step] for i in range(0, len(body), step)]
        return [json.dumps({"n": self.node_id, "p": [msg_id, i, len(chunks), c]}, separators=(",", ":"))
                for i, c in enumerate(chunks)]

    # ---- in --------------------------------------------------------------------------------

    async def _receiver(self) -> None:
        while True:
            raw = await self._in.get()
            try:
                await self._handle(raw)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster bus: a message from another process could not be applied")

    async def _handle(self, raw: str) -> None:
        msg = json.loads(raw)
        if msg.get("n") == self.node_id:
            return  # our own, already delivered locally
        part = msg.get("p")
        if part is not None:
            msg_id, index, total, chunk = part
            parts = self._parts.setdefault(msg_id, [""] * int(total))
            parts[int(index)] = chunk
            if int(index) != int(total) - 1:
                return
            del self._parts[msg_id]
            msg = json.loads("".join(parts))
        self.received += 1
        events: list[Event] = []
        for item in msg.get("m", ()):
            if "e" in item:
                events.append(decode_event(item["e"]))
            elif "x" in item and self.on_control is not None:
                await self._flush(events)
                events = []
                await self.on_control(item["x"])
        await self._flush(events)

    async def _flush(self, events: list[Event]) -> None:
        if not events:
            return
        if self.before_publish is not None:
            await self.before_publish(events)  # caches first, so listeners read fresh state
        self._republishing.update(id(e) for e in events)
        try:
            await self.bus.publish(events)
        finally:
            self._republishing.difference_update(id(e) for e in events)
