"""Client → server websocket frames: validation and the action router (Mattermost ``web_socket_router.go``).

A frame is ``{"action","seq","data"}`` and gets ``{"status","seq_reply"[,"data"|"error"]}``.
Frames that are not a JSON object of that shape (binary, oversize, unparsable, wrong types)
close *that* socket; a well-formed request that fails gets a FAIL reply and the socket lives on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from isthmus import SERVER_VERSION
from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.domain import statuses
from isthmus.domain.models import Session
from isthmus.domain.sessions import actor_of, authenticate
from isthmus.realtime.conn import CLOSE_BAD_DATA, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED, Conn, Outbox
from isthmus.realtime.frames import reply_error, reply_ok

if TYPE_CHECKING:
    from isthmus.realtime.hub import Hub

MAX_CLIENT_FRAME = 64 * 1024
MAX_STATUS_IDS = 1000


@dataclass(eq=False)  # identity semantics: sockets live in sets
class Socket:
    """State of one accepted socket; ``conn`` is set once it has authenticated."""

    outbox: Outbox
    resume_id: str = ""
    resume_seq: int | None = None
    conn: Conn | None = None
    session: Session | None = None


def _ws_error(id: str, message: str, status: int = 400, detail: str = "") -> AppError:
    return AppError(id, message, status, detail)


def parse_frame(sock: Socket, message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request in an ASGI ``websocket.receive`` message, or None after killing the socket."""
    text = message.get("text")
    if text is None:
        sock.outbox.kill(CLOSE_UNSUPPORTED, "binary frames are not supported")
        return None
    if len(text) > MAX_CLIENT_FRAME:
        sock.outbox.kill(CLOSE_TOO_BIG, "frame too large")
        return None
    try:
        req = json.loads(text)
    except ValueError:
        sock.outbox.kill(CLOSE_BAD_DATA, "invalid JSON")
        return None
    # JSON null decodes to the zero value in Mattermost's Go struct, so it counts as absent.
    seq = (req.get("seq") or 0) if isinstance(req, dict) else None
    action = (req.get("action") or "") if isinstance(req, dict) else None
    data = req.get("data") if isinstance(req, dict) else None
    # Mattermost decodes into a typed struct; anything that does not fit closes the socket.
    if not isinstance(req, dict) or isinstance(seq, bool) or not isinstance(seq, int) \
            or not isinstance(action, str) or not (data is None or isinstance(data, dict)):
        sock.outbox.kill(CLOSE_BAD_DATA, "malformed request")
        return None
    return {"seq": seq, "action": action, "data": data or {}}


async def dispatch(hub: Hub, sock: Socket, req: dict[str, Any]) -> None:
    seq: int = req["seq"]
    action: str = req["action"]
    if not action:
        sock.outbox.put(reply_error(seq, _ws_error("api.web_socket_router.no_action.app_error",
                                                   "No websocket action.")))
        return
    if seq <= 0:
        sock.outbox.put(reply_error(seq, _ws_error("api.web_socket_router.bad_seq.app_error",
                                                   "Invalid sequence for WebSocket message.")))
        return
    if action == "authentication_challenge":
        await _authenticate(hub, sock, seq, req["data"])
        return
    if sock.conn is None or sock.session is None:
        sock.outbox.put(reply_error(seq, _ws_error("api.web_socket_router.not_authenticated.app_error",
                                                   "Not authenticated. Please authenticate first.", 401)))
        return
    handler = HANDLERS.get(action)
    if handler is None:
        sock.outbox.put(reply_error(seq, _ws_error("api.web_socket_router.bad_action.app_error",
                                                   "Invalid websocket action.", 500, f"action={action}")))
        return
    try:
        result = await handler(hub, sock, req["data"])
    except AppError as err:
        sock.outbox.put(reply_error(seq, err))
        return
    sock.outbox.put(reply_ok(seq, result))


async def _authenticate(hub: Hub, sock: Socket, seq: int, data: dict[str, Any]) -> None:
    if sock.conn is not None:
        return  # already authenticated: Mattermost ignores a second challenge
    token = data.get("token")
    if not isinstance(token, str) or not token:
        sock.outbox.kill(CLOSE_POLICY, "authentication failed")
        return
    try:
        session = await authenticate(hub.domain, token)
    except AppError:
        sock.outbox.kill(CLOSE_POLICY, "authentication failed")
        return
    hub.authenticated(sock, session)  # queues hello first, as Mattermost does
    sock.outbox.put(reply_ok(seq))


Handler = Callable[["Hub", Socket, dict[str, Any]], Awaitable[Any]]


async def _ping(hub: Hub, sock: Socket, data: dict[str, Any]) -> Any:
    return {"text": "pong", "version": SERVER_VERSION, "server_time": time.time_ns() // 1_000_000, "node_id": ""}


async def _user_typing(hub: Hub, sock: Socket, data: dict[str, Any]) -> Any:
    assert sock.session is not None
    actor = actor_of(sock.session)
    await statuses.publish_typing(hub.domain, actor, actor.user_id, data.get("channel_id"), data.get("parent_id"))
    hub.activity(actor.user_id)
    return None


async def _get_statuses(hub: Hub, sock: Socket, data: dict[str, Any]) -> Any:
    return await statuses.list_active_statuses(hub.domain)


async def _get_statuses_by_ids(hub: Hub, sock: Socket, data: dict[str, Any]) -> Any:
    ids = data.get("user_ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_STATUS_IDS \
            or not all(isinstance(i, str) and is_valid_id(i) for i in ids):
        raise _ws_error("api.websocket_handler.invalid_param.app_error", "Invalid user_ids parameter.")
    return {s.user_id: s.status for s in await statuses.get_statuses(hub.domain, ids)}


async def _user_update_active_status(hub: Hub, sock: Socket, data: dict[str, Any]) -> Any:
    assert sock.session is not None
    active, manual = data.get("user_is_active"), data.get("manual", False)
    if not isinstance(active, bool) or not isinstance(manual, bool):
        raise _ws_error("api.websocket_handler.invalid_param.app_error", "Invalid user_is_active parameter.")
    uid = sock.session.user_id
    if active:
        hub.activity(uid)
    else:
        await statuses.set_away(hub.domain, uid, manual=manual, away_after_ms=hub.away_after_ms)
    return None


async def _noop(hub: Hub, sock: Socket, data: dict[str, Any]) -> Any:
    # presence (active channel/team/thread) and posted_notify_ack only feed Mattermost's push
    # notifications and metrics, which Isthmus does not have; answer OK so clients carry on.
    return None


HANDLERS: dict[str, Handler] = {
    "ping": _ping,
    "user_typing": _user_typing,
    "get_statuses": _get_statuses,
    "get_statuses_by_ids": _get_statuses_by_ids,
    "user_update_active_status": _user_update_active_status,
    "presence": _noop,
    "posted_notify_ack": _noop,
}
