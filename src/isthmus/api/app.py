"""ASGI application: routes, error mapping, and the lifespan that starts/stops the Server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from isthmus import SERVER_VERSION
from isthmus.api import errors
from isthmus.api.routes import ROUTERS
from isthmus.core.errors import AppError
from isthmus.core.ids import new_id
from isthmus.server import Server

_SLASHES = re.compile(r"/{2,}")


class EdgeMiddleware:
    """Request id, ``//`` path cleanup (mattermostdriver sends ``/posts/{id}//reactions``) and
    Mattermost's version headers, as plain ASGI so it costs next to nothing per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if "//" in path:
            scope = dict(scope)
            scope["path"] = _SLASHES.sub("/", path)
            scope["raw_path"] = scope["path"].encode()
        rid = new_id()
        scope.setdefault("state", {})["request_id"] = rid
        extra = [(b"x-request-id", rid.encode()), (b"x-version-id", SERVER_VERSION.encode()),
                 (b"x-cluster-id", b"")]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(server: Server) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(title="Isthmus", version=SERVER_VERSION, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url="/api/v4/openapi.json")
    app.state.server = server
    handlers: dict[Any, Any] = {
        AppError: errors.on_app_error,
        RequestValidationError: errors.on_validation_error,
        StarletteHTTPException: errors.on_http_error,
        Exception: errors.on_unexpected,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
    for router in ROUTERS:
        app.include_router(router, prefix="/api/v4")
    app.add_middleware(EdgeMiddleware)
    return app
