"""Oversized bodies and uploads against a real ``isthmus serve`` process (issue 18 item 5, "oversized uploads and
bodies").

Every route of the server's own OpenAPI document that takes a body (POST, PUT, PATCH), sent without
credentials, with a body one step over its limit (``ServiceSettings.MaximumPayloadSizeBytes`` for JSON routes,
``FileSettings.MaxFileSize`` + 1 MiB for uploads) both with a ``Content-Length`` and chunked (no length): each
answers 413 with an AppError, before authentication and before reading the body into memory. An upload over
``MaxFileSize`` by a logged-in user is refused the same way, and 80 MB bodies leave the server's memory where it was.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bench.common import ServerProcess, process_usage

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import Admin
from tests.loopback.test_sync_kill import ENV

pytestmark = pytest.mark.loopback

MAX_FILE = 1 << 20
JSON_LIMIT = 300_000  # Mattermost's default MaximumPayloadSizeBytes
UPLOAD = re.compile(r"^/api/v4/(files|emoji|users/[^/]+/image|remotecluster/.*)$")
DUMMY_ID = "a" * 26


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"x" * size
    while total > 0:
        yield block[:min(size, total)]
        total -= size


def _is_too_large(r: httpx.Response) -> bool:
    if r.status_code != 413:
        return False
    body: dict[str, Any] = r.json()
    return body.get("status_code") == 413 and bool(body.get("id")) and bool(body.get("request_id")) \
        and bool(body.get("message"))


def _rss_mib(srv: ServerProcess) -> float:
    assert srv.proc is not None
    return process_usage(srv.proc.pid)["rss_mib"]


def test_every_body_over_its_limit_is_refused_before_it_is_read(spawn: SpawnServer) -> None:
    srv = spawn("bodies", env={**ENV, "MM_FILESETTINGS_MAXFILESIZE": str(MAX_FILE)}).start()
    spec = httpx.get(f"{srv.url}/api/v4/openapi.json", timeout=30).json()
    routes = [(method.upper(), re.sub(r"\{[^}]+\}", DUMMY_ID, path))
              for path, ops in spec["paths"].items() for method in ops if method in ("post", "put", "patch")]
    assert len(routes) > 50, len(routes)
    wrong: list[str] = []
    with httpx.Client(base_url=srv.url, timeout=60) as anon:
        for method, path in routes:
            limit = MAX_FILE + (1 << 20) if method == "POST" and UPLOAD.match(path) else JSON_LIMIT
            over = limit + 1
            try:
                r = anon.request(method, path, content=b"x" * over, headers={"Content-Type": "application/json"})
                if not _is_too_large(r):
                    wrong.append(f"{method} {path} with length: {r.status_code} {r.text[:120]}")
            except httpx.TransportError:
                pass  # refused before the body was read, the socket closed while we were still sending: fine
    # Chunked (no length), with a system admin's session so that the routes get as far as reading the body.
    # A route that refuses before reading (a permission, a malformed multipart head) answers that refusal
    # instead, and one that takes no body (revoke all sessions of an unknown user) its usual answer; a server
    # error is wrong. Logout is left out: it would end the session.
    admin = Admin(srv)
    refused_as_too_large = 0
    for method, path in routes:
        if path == "/api/v4/users/logout":
            continue
        limit = MAX_FILE + (1 << 20) if method == "POST" and UPLOAD.match(path) else JSON_LIMIT
        r = admin.http.request(method, path, content=_chunks(limit + 64 * 1024),
                               headers={"Content-Type": "application/json"})
        refused_as_too_large += _is_too_large(r)
        if r.status_code >= 500:
            wrong.append(f"{method} {path} chunked: {r.status_code} {r.text[:120]}")
    assert not wrong, wrong[:20]
    assert refused_as_too_large > len(routes) // 2, refused_as_too_large
    print(f"{len(routes)} routes with a body; chunked over the limit, {refused_as_too_large} answered 413")

    # a logged-in user's upload over MaxFileSize, as multipart with a length and chunked
    r = admin.http.post("/api/v4/channels", json={"team_id": admin.team_id, "name": "big", "display_name": "Big",
                                                  "type": "O"})
    channel_id = r.json()["id"]
    r = admin.http.post("/api/v4/files", data={"channel_id": channel_id},
                        files={"files": ("big.bin", b"x" * (MAX_FILE + 1), "application/octet-stream")})
    assert _is_too_large(r), (r.status_code, r.text)
    r = admin.http.post(f"/api/v4/files?channel_id={channel_id}&filename=big.bin", content=_chunks(3 * MAX_FILE))
    assert _is_too_large(r), (r.status_code, r.text)

    # 80 MB bodies to login, with a length and chunked: refused without the server holding them
    before = _rss_mib(srv)
    with httpx.Client(base_url=srv.url, timeout=60) as anon:
        for _ in range(5):
            try:
                r = anon.post("/api/v4/users/login", content=_chunks(80 << 20),
                              headers={"Content-Type": "application/json"})
                assert _is_too_large(r), r.text
            except httpx.TransportError:
                pass
            # a declared 80 MB, of which only the head is sent: answered at once, nothing waited for
            with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
                sock.sendall(b"POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(80 << 20).encode() + b"\r\n\r\n{")
                assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    assert _rss_mib(srv) < before + 40, (before, _rss_mib(srv))
    assert srv.ping() == 200
    log = srv.log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
