"""The websocket hub: connection registry, event fan-out and presence (Mattermost ``web_hub.go``).

Flow of an event: the domain commits, ``EventBus.publish`` calls ``Hub.on_event``, which only
appends to the dispatch queue (the publishing request never waits for sockets). One dispatcher
task takes events in publish order, works out who may see each (user, channel members, team
members, or everyone; ``omit_users`` removed), serialises it once and pushes it to every matching
``Conn``, which numbers it and hands it to its socket's bounded ``Outbox``. Nothing in the fan-out
awaits a socket, so one slow consumer is dropped instead of stalling the rest.

System admins get no special treatment: like Mattermost, they receive a channel's events only if
they are members of it.

Presence: connect and client activity mark the user online, the last socket closing marks them
offline, and ``housekeep`` (every ``sweep_interval_s``) turns idle users away, ends timed DND,
drops conns of revoked sessions and forgets detached conns after ``resume_ms``. Status writes go
through one presence worker so connect/disconnect decisions are taken in order against the
current registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

from isthmus import SERVER_VERSION
from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain import statuses, user_threads
from isthmus.domain.context import Domain
from isthmus.domain.models import Session
from isthmus.domain.sessions import SESSIONS_REVOKED, authenticate
from isthmus.realtime.actions import Socket, dispatch, parse_frame
from isthmus.realtime.audience import Audience
from isthmus.realtime.caps import refuse_upgrade, websocket_budget
from isthmus.realtime.conn import CLOSE_GOING_AWAY, CLOSE_POLICY, Conn, Outbox
from isthmus.realtime.frames import WEBSOCKET_EVENTS, broadcast, event_prefix
from isthmus.store.failures import classify

log = logging.getLogger(__name__)

MAX_DETACHED_PER_USER = 16


class Hub:
    def __init__(self, domain: Domain, *, queue_size: int = 512, buffer_size: int = 128,
                 resume_ms: int = 5 * 60_000, away_after_ms: int | None = None,
                 sweep_interval_s: float = 15.0) -> None:
        self.domain = domain
        self.queue_size = queue_size
        self.buffer_size = buffer_size
        self.resume_ms = resume_ms
        if away_after_ms is None:
            away_after_ms = int(os.environ.get("ISTHMUS_STATUS_AWAY_TIMEOUT_S", "300")) * 1000
        self.away_after_ms = away_after_ms
        self.sweep_interval_s = sweep_interval_s
        self.audience = Audience(domain.db, domain.clock)
        self.conns: dict[str, Conn] = {}
        self.by_user: dict[str, set[Conn]] = {}
        # Each user's detached conns, in the order they lost their socket: trimming on connect looks only here,
        # not at all of the user's conns (a scan of them made a flood of one user's sockets quadratic).
        self._detached: dict[str, dict[Conn, None]] = {}
        self.hostname = socket.gethostname()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._presence: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: set[Socket] = set()
        self._per_address: dict[str, int] = {}
        self._refusals_logged: dict[str, int] = {}
        self.running = False
        # Several serving processes (set by the composition root): the startup reset only when no other
        # process is live (its connected users are not offline), the status sweep only in one process.
        self.reset_statuses_at_start = True
        self.may_sweep_statuses: Callable[[], Awaitable[bool]] | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.reset_statuses_at_start:
            await statuses.reset_automatic(self.domain)
        self.domain.bus.subscribe(self.on_event)
        self._tasks = [asyncio.create_task(self._dispatcher(), name="hub-dispatch"),
                       asyncio.create_task(self._presence_worker(), name="hub-presence"),
                       asyncio.create_task(self._housekeeper(), name="hub-housekeeping")]
        self.running = True

    async def stop(self) -> None:
        self.running = False
        self.domain.bus.unsubscribe(self.on_event)
        for sock in list(self._sockets):
            sock.outbox.kill(CLOSE_GOING_AWAY, "server shutting down")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # ---- sockets ---------------------------------------------------------------------------

    async def serve(self, ws: WebSocket, *, token: str = "", resume_id: str = "",
                    resume_seq: int | None = None) -> None:
        """Run one accepted-or-not websocket until it closes. ``token`` came with the upgrade, if any."""
        address = ws.client.host if ws.client else ""
        refusal = self._over_cap(address)
        if refusal is not None:
            await refuse_upgrade(ws, refusal)
            return
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            await self._serve(ws, token=token, resume_id=resume_id, resume_seq=resume_seq)
        finally:
            left = self._per_address.pop(address, 1) - 1
            if left > 0:
                self._per_address[address] = left

    def _over_cap(self, address: str) -> AppError | None:
        limits = self.domain.config.RateLimitSettings
        per_address = limits.MaxWebSocketsPerAddress
        if per_address and self._per_address.get(address, 0) >= per_address:
            self._log_refusal(address, "websocket refused: %d already open from %s "
                              "(RateLimitSettings.MaxWebSocketsPerAddress)", per_address, address)
            return AppError("api.web_socket.too_many_from_address",
                            "Too many open connections from your address. Close some tabs or apps, then try again.",
                            429, retry_after_s=10)
        budget = websocket_budget(limits.MaxWebSockets)
        if sum(self._per_address.values()) >= budget:
            self._log_refusal("", "websocket refused: %d open, the most this server takes "
                              "(RateLimitSettings.MaxWebSockets and the open-file limit)", budget)
            return AppError("api.web_socket.server_full", "The server has too many open connections right now. "
                            "Try again in a minute.", 503, retry_after_s=30)
        return None

    def _log_refusal(self, key: str, message: str, *args: object) -> None:
        # One line a minute per address (and one for the total cap): a flood must not flood the log too.
        now = self.domain.now()
        if now - self._refusals_logged.get(key, 0) < 60_000:
            return
        if len(self._refusals_logged) > 10_000:
            self._refusals_logged.clear()
        self._refusals_logged[key] = now
        log.warning(message, *args)

    async def _serve(self, ws: WebSocket, *, token: str, resume_id: str, resume_seq: int | None) -> None:
        await ws.accept()
        outbox = Outbox(ws, self.queue_size)
        sock = Socket(outbox, resume_id=resume_id, resume_seq=resume_seq)
        self._sockets.add(sock)
        writer = asyncio.create_task(outbox.run())
        if token:
            try:
                self.authenticated(sock, await authenticate(self.domain, token))
            except AppError:
                pass  # a stale cookie: the client may still send authentication_challenge
        def auth_deadline() -> None:
            if sock.conn is None:
                outbox.kill(CLOSE_POLICY, "not authenticated")

        timer = asyncio.get_running_loop().call_later(
            self.domain.config.RateLimitSettings.WebSocketAuthTimeoutSeconds, auth_deadline)
        reader = asyncio.create_task(self._read(ws, sock))
        # The writer may be stuck sending to a slow peer, so a kill must end this wait on its own.
        killed = asyncio.create_task(outbox.killed.wait())
        try:
            await asyncio.wait({reader, writer, killed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            outbox.kill(outbox.close_code)
            for task in (reader, writer, killed):
                task.cancel()
            await asyncio.gather(reader, writer, killed, return_exceptions=True)
            self._sockets.discard(sock)
            self._detach(sock)
            await outbox.close()

    async def _read(self, ws: WebSocket, sock: Socket) -> None:
        while not sock.outbox.killed.is_set():
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                sock.outbox.kill(int(message.get("code") or 1000))
                return
            req = parse_frame(sock, message)
            if req is None:
                return
            try:
                await dispatch(self, sock, req)
            except Exception:
                log.exception("websocket action %s failed", req.get("action"))

    def authenticated(self, sock: Socket, session: Session) -> None:
        """Bind an authenticated socket to a resumed or a fresh ``Conn``. No awaits: atomic w.r.t. fan-out."""
        sock.session = session
        uid = session.user_id
        old = self.conns.get(sock.resume_id) if sock.resume_id else None
        if old is not None and old.user_id == uid and sock.resume_seq is not None \
                and old.can_resume(sock.resume_seq):
            if old.outbox is not None and old.outbox is not sock.outbox:
                old.outbox.kill(CLOSE_POLICY, "resumed on another socket")
            old.token = session.token
            self._reattached(old)
            old.attach(sock.outbox, sock.resume_seq)
            sock.conn = old
        else:
            if old is not None and old.user_id == uid:
                self._forget(old)  # events were lost: the client starts over with a new connection id
            conn = Conn(new_id(), uid, session.token, buffer_size=self.buffer_size)
            self.conns[conn.connection_id] = conn
            self.by_user.setdefault(uid, set()).add(conn)
            self._trim_detached(uid)
            conn.attach(sock.outbox)
            conn.push(event_prefix("hello", self._hello_data(conn), broadcast(user_id=uid)))
            sock.conn = conn
        self._presence.put_nowait(("connect", uid))

    def _hello_data(self, conn: Conn) -> dict[str, Any]:
        cfg_hash = hashlib.sha256(self.domain.config.model_dump_json().encode()).hexdigest()[:16]
        return {"server_version": f"{SERVER_VERSION}.{SERVER_VERSION}.{cfg_hash}.false",
                "connection_id": conn.connection_id, "server_hostname": self.hostname}

    def _detach(self, sock: Socket) -> None:
        conn = sock.conn
        if conn is None:
            return
        if conn.detach(sock.outbox, self.domain.now()):
            if self.conns.get(conn.connection_id) is conn:  # not already forgotten
                self._detached.setdefault(conn.user_id, {}).setdefault(conn, None)
            self._presence.put_nowait(("disconnect", conn.user_id))

    def _forget(self, conn: Conn) -> None:
        if conn.outbox is not None:
            conn.outbox.kill(CLOSE_POLICY, "connection closed by server")
            conn.outbox = None
        self.conns.pop(conn.connection_id, None)
        self._reattached(conn)
        peers = self.by_user.get(conn.user_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                del self.by_user[conn.user_id]

    def _reattached(self, conn: Conn) -> None:
        """``conn`` is no longer detached (a socket resumed it, or it is forgotten)."""
        detached = self._detached.get(conn.user_id)
        if detached is not None:
            detached.pop(conn, None)
            if not detached:
                del self._detached[conn.user_id]

    def _trim_detached(self, user_id: str) -> None:
        """Forget the user's oldest detached conns beyond ``MAX_DETACHED_PER_USER``."""
        detached = self._detached.get(user_id)
        while detached and len(detached) > MAX_DETACHED_PER_USER:
            self._forget(next(iter(detached)))
            detached = self._detached.get(user_id)

    def is_connected(self, user_id: str) -> bool:
        return any(c.attached for c in self.by_user.get(user_id, ()))

    def activity(self, user_id: str) -> None:
        self._presence.put_nowait(("activity", user_id))

    # ---- fan-out ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """EventBus listener (runs after commit): enqueue only, so publishers never wait on sockets."""
        if event.kind == SESSIONS_REVOKED and event.user_id:
            self._presence.put_nowait(("revalidate", event.user_id))  # logout, revoked token: close at once
            return
        if event.kind == "status_change" and event.data.get("status") == "offline" and self.is_connected(event.user_id):
            # Set offline by another serving process whose last socket of the user closed, while one is open here:
            # online again (set_online leaves a status chosen by hand alone).
            self._presence.put_nowait(("connect", event.user_id))
        if event.kind in WEBSOCKET_EVENTS:
            self._events.put_nowait(event)

    async def _dispatcher(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self.deliver(event)
                if event.kind == "posted":
                    await self._thread_updates(event)
            except Exception as err:
                if classify(err) is None:
                    log.exception("websocket fan-out failed for %s", event.kind)
                else:  # the database is away or full: one line, not a traceback per event
                    log.warning("websocket fan-out of %s skipped: %s", event.kind, classify(err))
            # Let the socket writers run between events, so a burst measures a consumer's real
            # speed instead of overflowing every queue before any writer had a turn.
            await asyncio.sleep(0)

    async def deliver(self, event: Event) -> int:
        """Push ``event`` to every conn allowed to see it; returns how many got it."""
        self.audience.observe(event)
        if event.kind == "posted":
            self._poster_activity(event)
        targets = await self.recipients(event)
        if not targets:
            return 0
        prefix = event_prefix(event.kind, event.data, broadcast(
            user_id=event.user_id, channel_id=event.channel_id, team_id=event.team_id,
            omit_users=event.omit_users))
        for conn in targets:
            conn.push(prefix)
        if event.kind == "user_updated" and event.user_id:
            self._presence.put_nowait(("revalidate", event.user_id))  # deactivation revokes sessions
        return len(targets)

    async def recipients(self, event: Event) -> list[Conn]:
        """Mattermost's ``ShouldSendEvent`` order: user, then omitted users, channel, team, everyone."""
        if event.user_id:
            return list(self.by_user.get(event.user_id, ()))
        if event.channel_id:
            users: frozenset[str] | None = await self.audience.channel_members(event.channel_id)
        elif event.team_id:
            users = await self.audience.team_members(event.team_id)
        else:
            users = None
        if users is None:
            return [c for c in list(self.conns.values()) if c.user_id not in event.omit_users]
        return [c for uid in users if uid not in event.omit_users for c in self.by_user.get(uid, ())]

    async def _thread_updates(self, event: Event) -> None:
        """A reply tells each connected follower of its thread (but its author) the thread's new state."""
        post: Any = None
        with contextlib.suppress(ValueError, TypeError, KeyError):
            post = json.loads(event.data["post"])
        if not isinstance(post, dict) or not post.get("root_id") or not event.channel_id:
            return
        members = await self.audience.channel_members(event.channel_id)
        for uid in sorted(u for u in members if u != post.get("user_id") and self.is_connected(u)):
            thread = await user_threads.followed_thread(self.domain, uid, post["root_id"])
            if thread is not None:
                await self.deliver(Event("thread_updated", {"thread": json.dumps(thread)}, user_id=uid,
                                         team_id=event.team_id))

    def _poster_activity(self, event: Event) -> None:
        # A post made with set_online counts as activity for its author, as in Mattermost.
        if not event.data.get("set_online", True):
            return
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            uid = _post_author(event.data.get("post"))
            if uid and self.is_connected(uid):
                self.activity(uid)

    # ---- presence and housekeeping ---------------------------------------------------------

    async def _presence_worker(self) -> None:
        while True:
            what, uid = await self._presence.get()
            try:
                if what in ("connect", "activity") and self.is_connected(uid):
                    await statuses.set_online(self.domain, uid)
                elif what == "disconnect" and not self.is_connected(uid):
                    await statuses.set_offline(self.domain, uid)
                elif what == "revalidate":
                    await self._revalidate(list(self.by_user.get(uid, ())))
            except Exception:
                log.exception("presence update (%s) failed", what)

    async def _housekeeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.housekeep()
            except Exception as err:
                if classify(err) is None:
                    log.exception("websocket housekeeping failed")
                else:  # the database is away or full: one line, not a traceback every sweep
                    log.warning("websocket housekeeping skipped: %s", classify(err))

    async def housekeep(self) -> None:
        now = self.domain.now()
        for conn in list(self.conns.values()):
            if not conn.attached and conn.detached_at_ms and now - conn.detached_at_ms > self.resume_ms:
                self._forget(conn)
        await self._revalidate([c for c in self.conns.values() if c.attached])
        if self.may_sweep_statuses is None or await self.may_sweep_statuses():
            await statuses.sweep(self.domain, self.away_after_ms, self.is_connected)

    async def _revalidate(self, conns: list[Conn]) -> None:
        """Close conns whose session was revoked or expired since they authenticated."""
        for conn in conns:
            try:
                await authenticate(self.domain, conn.token)
            except AppError:
                self._forget(conn)


def _post_author(post: object) -> str:
    """``user_id`` of a ``posted`` event's post (a JSON string on the wire)."""
    obj = json.loads(post) if isinstance(post, str) else post
    uid = obj.get("user_id", "") if isinstance(obj, dict) else ""
    return uid if isinstance(uid, str) else ""
