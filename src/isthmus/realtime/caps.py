"""Caps on open websockets: how many the server takes at once, and the answer to an upgrade over a cap."""

from __future__ import annotations

import resource

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from isthmus.core.errors import AppError
from isthmus.core.ids import new_id
from isthmus.realtime.conn import CLOSE_POLICY

# Descriptors kept free for REST requests, the database pool and files when websockets are capped.
FD_RESERVE = 256


def websocket_budget(max_websockets: int) -> int:
    """How many websockets may be open at once: the configured cap, kept below the open-file limit so a
    flood of sockets cannot leave the server unable to accept a REST request or open its database."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_websockets
    return max(1, min(max_websockets, int(soft) - FD_RESERVE))


async def refuse_upgrade(ws: WebSocket, err: AppError) -> None:
    """Answer the upgrade with ``err`` as AppError JSON (the ASGI websocket denial response), or a bare 403
    where the server lacks that extension."""
    if "websocket.http.response" not in ws.scope.get("extensions", {}):
        await ws.close(code=CLOSE_POLICY)
        return
    rid = new_id()
    headers = {"X-Request-Id": rid, "Retry-After": str(err.retry_after_s or 60)}
    await ws.send_denial_response(JSONResponse(
        {"id": err.id, "message": err.message, "detailed_error": err.detailed_error, "request_id": rid,
         "status_code": err.status_code, "is_oauth": False}, status_code=err.status_code, headers=headers))
