"""Inbound server-to-server routes: ``POST /api/v4/remotecluster/{ping,msg,confirm_invite}`` (§3.1–§3.3).

Each handler: service switch → remote credentials (header id + token, constant-time) → bounded body →
frame validation → frame id must equal the authenticated id → :class:`Connections`. No logic here.
Uploads and profile images arrive with the shared-channel sync work.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.responses import Response as HttpResponse

from isthmus.core.errors import AppError, too_large
from isthmus.domain.remotes import RemoteCluster, require_service
from isthmus.federation.auth import credentials_from, remote_id_invalid
from isthmus.federation.connections import Connections
from isthmus.federation.wire import Frame, Ping, go_json, parse_frame

router = APIRouter()

# Ping and confirm frames are tiny; /msg carries sync batches (≤ MaxPostsPerSync posts plus users).
MAX_CONTROL_FRAME_BYTES = 64 * 1024
MAX_MSG_FRAME_BYTES = 8 * 1024 * 1024


def connections_of(request: Request) -> Connections:
    conns = getattr(request.app.state.server, "connections", None)
    if not isinstance(conns, Connections):
        raise AppError("api.remote_cluster.service_not_enabled.app_error", "Remote Cluster Service is not enabled.",
                       501)
    return conns


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large()
    return bytes(body)


async def _authenticated_frame(request: Request, limit: int) -> tuple[Connections, RemoteCluster, Frame]:
    conns = connections_of(request)
    require_service(conns.d)
    creds = credentials_from(request.headers, request.cookies, request.query_params)
    rc = await conns.authenticate(creds)
    frame = parse_frame(await read_limited(request, limit))
    if frame.remote_id != creds.remote_id:
        raise remote_id_invalid(frame.remote_id)
    return conns, rc, frame


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(content=body, media_type="application/json")


@router.post("/remotecluster/ping")
async def ping(request: Request) -> HttpResponse:
    conns, _rc, frame = await _authenticated_frame(request, MAX_CONTROL_FRAME_BYTES)
    sent = Ping.from_payload(frame.msg.payload)
    # Go's json.Encoder ends the body with a newline.
    return _json(go_json(Ping(sent_at=sent.sent_at, recv_at=conns.d.now()).to_obj()) + b"\n")


@router.post("/remotecluster/msg")
async def msg(request: Request) -> HttpResponse:
    conns, rc, frame = await _authenticated_frame(request, MAX_MSG_FRAME_BYTES)
    with conns.inbound(rc.remote_id):
        response = await conns.receive(rc, frame.msg)
    return _json(response.to_json())


@router.post("/remotecluster/confirm_invite")
async def confirm_invite(request: Request) -> HttpResponse:
    conns, rc, frame = await _authenticated_frame(request, MAX_CONTROL_FRAME_BYTES)
    await conns.confirm(rc, frame)
    return _json(json.dumps({"status": "OK"}).encode())
