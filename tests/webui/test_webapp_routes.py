"""How ``isthmus serve`` serves the web client (plain HTTP, no browser): index.html for client routes,
static modules, and the API's JSON errors untouched."""

from __future__ import annotations

import re

import httpx
import pytest

from isthmus.api.routes.webapp import INDEX, STATIC_DIR
from tests.testlib.live import LiveServer


@pytest.mark.parametrize("path", ["/", "/login", "/someteam/channels/town-square", "/console/connected-workspaces",
                                  "/console/connected-workspaces/abc123", "/someteam/"])
def test_client_routes_serve_index(live: LiveServer, path: str) -> None:
    r = httpx.get(live.url + path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/js/main.js">' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-cache"


def test_head_of_index(live: LiveServer) -> None:
    r = httpx.head(live.url + "/console")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_static_module_and_stylesheet(live: LiveServer) -> None:
    js = httpx.get(live.url + "/static/js/main.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "no-cache"
    assert "import" in js.text
    css = httpx.get(live.url + "/static/css/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/api/v4/no/such/route", "/api/v4/", "/api", "/static/js/nope.js", "/favicon.ico",
                                  "/robots.txt", "/static/../pyproject.toml"])
def test_unknown_server_paths_answer_json_404(live: LiveServer, path: str) -> None:
    r = httpx.get(live.url + path)
    assert r.status_code == 404, (path, r.status_code, r.text[:80])
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["id"] == "api.context.404.app_error"
    assert body["request_id"]


def test_api_methods_keep_their_json_errors(live: LiveServer) -> None:
    # A write to an unknown API path is a 404, a wrong method on a real one stays a 405.
    r = httpx.post(live.url + "/api/v4/no/such/route")
    assert r.status_code == 404 and r.json()["id"] == "api.context.404.app_error"
    r = httpx.put(live.url + "/api/v4/system/ping")
    assert r.status_code == 405 and r.json()["id"] == "api.context.405.app_error"
    # The client routes are GET only.
    r = httpx.post(live.url + "/login")
    assert r.status_code == 405 and r.headers["content-type"] == "application/json"


@pytest.mark.nodb
def test_index_preloads_every_module() -> None:
    """Each module is listed for modulepreload, so the import graph loads in one round trip."""
    html = INDEX.read_text()
    listed = set(re.findall(r'<link rel="modulepreload" href="/static/(js/[^"]+)">', html))
    modules = {str(p.relative_to(STATIC_DIR)) for p in (STATIC_DIR / "js").rglob("*.js")} - {"js/main.js"}
    assert listed == modules


@pytest.mark.nodb
def test_no_markup_from_data() -> None:
    """User and remote content is put in the page as text: the app never assigns innerHTML."""
    offenders = [p.name for p in (STATIC_DIR / "js").rglob("*.js")
                 if re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", p.read_text())]
    assert offenders == []
