"""The two routes every message takes, and the websocket upgrade, served without FastAPI's routing and
middleware stack.

``POST /api/v4/posts`` (each post) and ``POST /api/v4/remotecluster/msg`` (each sync message) run the SAME
endpoint functions as their FastAPI routes; only the way in differs. py-spy of bench/sync's throughput phase
put ~12 % of a server's CPU between uvicorn and the endpoint: five middleware layers, a linear scan of the
routers, the dependency solver and ``jsonable_encoder`` over a response that is already plain JSON. Both
endpoints take only a ``Request`` (no dependencies or path parameters), so an exact (method, path) lookup
is all the routing they need. Errors answer through the app's own AppError handler, so every answer is
byte-for-byte what the routed endpoint gives (tests/api/test_hot_routes.py compares them).

The websocket upgrade is here for memory, not speed: every layer between uvicorn and the hub is a coroutine
(with its frame, closures and cells) held for as long as the socket is open. A census of a server holding
7,848 websockets found 1.77 million objects, 32 coroutines per socket, and each full garbage collection scans
them all on the event loop (1 to 5.6 s each in the 10,000-socket flood of docs/reliability.md). Entering here
skips eleven of those layers per socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from isthmus.api import errors
from isthmus.api.routes import posts, websocket
from isthmus.core.errors import AppError
from isthmus.federation import endpoints

Endpoint = Callable[[Request], Awaitable[Any]]

# (method, path) -> (endpoint, status of a JSON answer); the routed versions stay for OpenAPI and for
# any request this table does not match exactly (trailing slash, other methods).
HOT: dict[tuple[str, str], tuple[Endpoint, int]] = {
    ("POST", "/api/v4/posts"): (posts.create_post, 201),
    ("POST", "/api/v4/remotecluster/msg"): (endpoints.msg, 200),
}


# path -> websocket endpoint; the routed version stays for any path this does not match exactly.
HOT_WEBSOCKETS: dict[str, Callable[[WebSocket], Awaitable[None]]] = {
    "/api/v4/websocket": websocket.websocket,
}


def lookup(scope: Scope) -> tuple[Endpoint, int] | None:
    if scope["type"] != "http":
        return None
    return HOT.get((scope["method"], scope["path"]))


async def serve(app: ASGIApp, route: tuple[Endpoint, int], scope: Scope, receive: Receive, send: Send) -> None:
    endpoint, status = route
    scope["app"] = app  # what Starlette sets on the way in; request.app.state.server is the composition root
    request = Request(scope, receive)
    response: Response
    try:
        result = await endpoint(request)
    except AppError as exc:
        response = await errors.on_app_error(request, exc)
    else:
        response = result if isinstance(result, Response) else JSONResponse(result, status_code=status)
    await response(scope, receive, send)


def lookup_websocket(scope: Scope) -> Callable[[WebSocket], Awaitable[None]] | None:
    if scope["type"] != "websocket":
        return None
    return HOT_WEBSOCKETS.get(scope["path"])


async def serve_websocket(app: ASGIApp, endpoint: Callable[[WebSocket], Awaitable[None]], scope: Scope,
                          receive: Receive, send: Send) -> None:
    scope["app"] = app  # ws.app.state.server, as on the routed way in
    await endpoint(WebSocket(scope, receive, send))
