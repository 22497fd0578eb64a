"""The two routes every message takes, served without FastAPI's routing and middleware stack.

``POST /api/v4/posts`` (each post) and ``POST /api/v4/remotecluster/msg`` (each sync message) run the SAME
endpoint functions as their FastAPI routes; only the way in differs. py-spy of bench/sync's throughput phase
put ~12 % of a server's CPU between uvicorn and the endpoint: five middleware layers, a linear scan of the
routers, the dependency solver and ``jsonable_encoder`` over a response that is already plain JSON. Both
endpoints take only a ``Request`` (no dependencies or path parameters), so an exact (method, path) lookup
is all the routing they need. Errors answer through the app's own AppError handler, so every answer is
byte-for-byte what the routed endpoint gives (tests/api/test_hot_routes.py compares them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from isthmus.api import errors
from isthmus.api.routes import posts
from isthmus.core.errors import AppError
from isthmus.federation import endpoints

Endpoint = Callable[[Request], Awaitable[Any]]

# (method, path) -> (endpoint, status of a JSON answer); the routed versions stay for OpenAPI and for
# any request this table does not match exactly (trailing slash, other methods).
HOT: dict[tuple[str, str], tuple[Endpoint, int]] = {
    ("POST", "/api/v4/posts"): (posts.create_post, 201),
    ("POST", "/api/v4/remotecluster/msg"): (endpoints.msg, 200),
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
