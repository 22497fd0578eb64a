"""``GET /api/v4/websocket``: the upgrade. Everything after ``accept`` lives in ``realtime.hub``.

Credentials on the upgrade (``MMAUTHTOKEN`` cookie, ``Authorization`` header, ``access_token``)
authenticate at once; otherwise the client sends ``authentication_challenge``. Because browsers
attach cookies to cross-site websocket upgrades too, an upgrade whose ``Origin`` is neither this
host nor the SiteURL is refused (gorilla/websocket's default check, which Mattermost uses).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from isthmus.realtime.hub import Hub

router = APIRouter()


def _same_origin(ws: WebSocket, site_url: str) -> bool:
    origin = ws.headers.get("origin")
    if not origin:
        return True  # non-browser clients (drivers, bots) send none
    host = urlsplit(origin).netloc.lower()
    allowed = {ws.headers.get("host", "").lower()}
    if site_url:
        allowed.add(urlsplit(site_url).netloc.lower())
    return host in allowed


def _upgrade_token(ws: WebSocket) -> str:
    cookie = ws.cookies.get("MMAUTHTOKEN")
    if cookie:
        return cookie
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return ws.query_params.get("access_token", "")


def _sequence_number(raw: str | None) -> int | None:
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


@router.websocket("/websocket")
async def websocket(ws: WebSocket) -> None:
    server = ws.app.state.server
    hub: Hub = server.hub
    if not _same_origin(ws, server.config.ServiceSettings.SiteURL):
        await ws.close(code=1008)  # before accept: the upgrade is answered 403
        return
    await hub.serve(ws, token=_upgrade_token(ws), resume_id=ws.query_params.get("connection_id", ""),
                    resume_seq=_sequence_number(ws.query_params.get("sequence_number")))
