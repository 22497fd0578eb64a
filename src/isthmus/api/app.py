"""ASGI application: routes, error mapping, and the lifespan that starts/stops the Server."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from isthmus import SERVER_VERSION
from isthmus.api import errors, hot_routes
from isthmus.api.routes import ROUTERS, sharedchannels, webapp
from isthmus.core.errors import AppError
from isthmus.core.ids import new_id
from isthmus.server import Server

_SLASHES = re.compile(r"/{2,}")
log = logging.getLogger("isthmus.api")


class EdgeMiddleware:
    """Request id, ``//`` path cleanup (mattermostdriver sends ``/posts/{id}//reactions``),
    Mattermost's version headers, a cap on request bodies, and the last-resort 500, as plain ASGI so
    it costs next to nothing per request.

    The 500 is produced here rather than by Starlette's ServerErrorMiddleware because that one
    re-raises after answering, and uvicorn then closes the keep-alive connection under the client.
    """

    def __init__(self, app: ASGIApp, max_body: Callable[[Scope], int] = lambda _scope: 1 << 20,
                 root: ASGIApp | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.root = root  # the FastAPI app: hot routes skip its stack but still read its state

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
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message["headers"] = headers + extra
            await send(message)

        if scope["type"] == "websocket":
            endpoint = hot_routes.lookup_websocket(scope) if self.root is not None else None
            if endpoint is not None and self.root is not None:
                await hot_routes.serve_websocket(self.root, endpoint, scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            # No database stores NUL in text (PostgreSQL refuses it), so no URL may carry one.
            await _send_error(send_with_headers, errors.invalid_url_error(), rid)
            return
        limit = self.max_body(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_error(send_with_headers, errors.too_large_error(), rid)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # chunked bodies carry no Content-Length
                    raise errors.too_large_error()
            return message

        hot = hot_routes.lookup(scope) if self.root is not None else None
        try:
            if hot is not None and self.root is not None:
                await hot_routes.serve(self.root, hot, scope, counting_receive, send_with_headers)
            else:
                await self.app(scope, counting_receive, send_with_headers)
        except Exception as exc:  # every route error is already an AppError answer; this is a bug
            if isinstance(exc, ClientDisconnect):
                # The client hung up before its body was read (a peer reset mid-request): no one to answer,
                # and nothing was applied. Not a bug, so no traceback.
                log.info("client went away during %s %s", scope.get("method"), scope.get("path"))
                return
            if isinstance(exc, AppError):
                err = exc
            elif (resource := errors.resource_error(exc)) is not None:
                err = resource  # a full disk or an unreachable database: said in words, not a 500
            else:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                err = errors.internal_error()
            if started:
                raise  # half-sent answer: let the server drop the connection
            await _send_error(send_with_headers, err, rid)


_UPLOAD_PATHS = re.compile(r"^/api/v4/(files|emoji|users/[^/]+/image|remotecluster/.*)$")


def is_upload_path(method: str, path: str) -> bool:
    return method == "POST" and _UPLOAD_PATHS.match(path) is not None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Send, err: AppError, rid: str) -> None:
    resp = errors.error_response(err, rid)
    await send({"type": "http.response.start", "status": resp.status_code, "headers": resp.raw_headers})
    await send({"type": "http.response.body", "body": resp.body})


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
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
    for router in ROUTERS:
        app.include_router(router, prefix="/api/v4")
    app.include_router(sharedchannels.metrics_router)  # GET /metrics (Prometheus), outside /api/v4
    webapp.install(app)  # the web client at / (last: it takes every non-API GET)
    def max_body(scope: Scope) -> int:
        # Uploads (and server-to-server traffic, which bounds itself) may be large; every other body is
        # JSON of at most ServiceSettings.MaximumPayloadSizeBytes, refused before it is read, so an
        # unauthenticated request cannot make the server hold an upload-sized body in memory.
        cfg = server.config_store.config
        if is_upload_path(scope.get("method", ""), scope.get("path", "")):
            return max(cfg.FileSettings.MaxFileSize + (1 << 20), 1 << 20)
        return cfg.ServiceSettings.MaximumPayloadSizeBytes

    app.add_middleware(EdgeMiddleware, max_body=max_body, root=app)
    return app
