"""The web client: static files under ``/static`` and ``index.html`` for every other browser path.

The app is plain ES modules and CSS (``isthmus/api/static``), so nothing is built or fetched at run
time. Client-side routes (``/login``, ``/<team>/channels/<name>``, ``/console/...``) all load
``index.html``; ``/api/...`` is never answered here, so unknown API paths keep their JSON 404 and a
wrong method on a real API path keeps its JSON 405.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX = STATIC_DIR / "index.html"

# Everything the app needs is same-origin; images may be data:/blob: (upload previews).
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_SECURITY = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
             "X-Frame-Options": "DENY"}
# Paths owned by the server, never by the client router.
_SERVER_PREFIXES = ("/api/", "/static/", "/hooks/", "/plugins/")
_SERVER_PATHS = frozenset({"/api", "/static", "/metrics"})


class _Static(StaticFiles):
    """StaticFiles that asks browsers to revalidate, so an upgraded server never runs stale modules."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        resp = super().file_response(*args, **kwargs)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


def _is_client_path(path: str) -> bool:
    if path in _SERVER_PATHS or path.startswith(_SERVER_PREFIXES):
        return False
    # A file name (favicon.ico, robots.txt) is not a client route: answer 404 rather than the app.
    return "." not in path.rstrip("/").rsplit("/", 1)[-1]


class _ClientRoute(Route):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not _is_client_path(scope.get("path", "")):
            return Match.NONE, {}
        return super().matches(scope)


async def index(_request: Request) -> Response:
    return FileResponse(INDEX, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache", **_SECURITY})


def install(app: FastAPI) -> None:
    """Add the web client after every API router (it must be tried last)."""
    app.router.routes.append(Mount("/static", app=_Static(directory=STATIC_DIR), name="static"))
    app.router.routes.append(_ClientRoute("/{path:path}", index, methods=["GET", "HEAD"], name="webapp"))
