"""Outbound HTTP to peers: one method per remote-cluster endpoint (``mattermost-protocol.md`` §3.4).

No retries here (retries belong to the callers' queues), no database. Every call has its own timeout
(ping and confirm 15 s, messages 1 min by default), any non-200 answer is an error, and a reply is read
at most up to 1 MiB so a hostile or broken peer cannot exhaust our memory. Failures raise
:class:`TransportError` whose text never contains a token. Tests inject an ``httpx`` transport (the
in-process cluster routes requests to peer apps without sockets).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import httpx

from isthmus.core import strict_json
from isthmus.federation.wire import (
    HEADER_REMOTE_ID,
    HEADER_TOKEN,
    PATH_CONFIRM_INVITE,
    PATH_MSG,
    PATH_PING,
    TOPIC_PING,
    Frame,
    Msg,
    Ping,
    Response,
)

PING_TIMEOUT_S = 15.0
SEND_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 30.0
MAX_RESPONSE_BYTES = 1 << 20
USER_AGENT = "isthmus-remotecluster"


class TransportError(Exception):
    """A request to a peer failed. ``status`` is the HTTP status (0 when none arrived);
    ``error_id`` is the AppError id of the peer's error body when it sent one."""

    def __init__(self, message: str, *, status: int = 0, error_id: str = "", peer_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.peer_message = peer_message


@dataclass(frozen=True)
class Timeouts:
    ping_s: float = PING_TIMEOUT_S
    send_s: float = SEND_TIMEOUT_S
    connect_s: float = CONNECT_TIMEOUT_S


def endpoint(site_url: str, path: str) -> str:
    """``SiteURL + "/" + path``; a SiteURL with a sub-path keeps it."""
    return f"{site_url.rstrip('/')}/{path}"


def _peer_error(body: bytes) -> tuple[str, str]:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if isinstance(obj, dict):
        eid, msg = obj.get("id"), obj.get("message")
        return (eid if isinstance(eid, str) else "")[:200], (msg if isinstance(msg, str) else "")[:500]
    return "", ""


class RemoteClient:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, timeouts: Timeouts | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.timeouts = timeouts or Timeouts()
        self.max_response_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(self.timeouts.send_s, connect=self.timeouts.connect_s),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=20, keepalive_expiry=90))

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    async def post_frame(self, url: str, frame: Frame, *, remote_id: str, token: str, timeout_s: float) -> bytes:
        """POST a frame and return the 200 reply body (≤ ``max_response_bytes``)."""
        headers = {"Content-Type": "application/json", HEADER_REMOTE_ID: remote_id, HEADER_TOKEN: token}
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, self.timeouts.connect_s))
        try:
            # httpx's timeouts bound each socket operation; this bounds the whole exchange, so a peer
            # that drips its answer byte by byte cannot hold us past the deadline either.
            async with asyncio.timeout(timeout_s), self._client.stream(
                    "POST", url, content=frame.to_json(), headers=headers, timeout=timeout) as resp:
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        raise TransportError(f"reply from {url} exceeds {self.max_response_bytes} bytes",
                                             status=resp.status_code)
                status = resp.status_code
        except (httpx.TimeoutException, TimeoutError):
            raise TransportError(f"timed out after {timeout_s:g}s calling {url}") from None
        except httpx.HTTPError as err:
            raise TransportError(f"cannot reach {url}: {type(err).__name__}") from None
        if status != 200:
            error_id, peer_message = _peer_error(bytes(body))
            raise TransportError(f"{url} answered HTTP {status}" + (f" ({error_id})" if error_id else ""),
                                 status=status, error_id=error_id, peer_message=peer_message)
        return bytes(body)

    async def post_bytes(self, url: str, content: bytes, *, remote_id: str, token: str,
                         content_type: str | None = None, timeout_s: float | None = None) -> tuple[int, bytes]:
        """POST a raw body (file uploads, profile images): returns (status, reply ≤ max bytes); 2xx only."""
        headers = {HEADER_REMOTE_ID: remote_id, HEADER_TOKEN: token}
        if content_type:
            headers["Content-Type"] = content_type
        limit_s = timeout_s or self.timeouts.send_s
        try:
            async with asyncio.timeout(limit_s):
                resp = await self._client.post(url, content=content, headers=headers,
                                                timeout=httpx.Timeout(limit_s, connect=min(limit_s,
                                                                                           self.timeouts.connect_s)))
        except (httpx.TimeoutException, TimeoutError):
            raise TransportError(f"timed out after {limit_s:g}s calling {url}") from None
        except httpx.HTTPError as err:
            raise TransportError(f"cannot reach {url}: {type(err).__name__}") from None
        body = resp.content[:self.max_response_bytes]
        if not 200 <= resp.status_code < 300:
            error_id, peer_message = _peer_error(body)
            raise TransportError(f"{url} answered HTTP {resp.status_code}" + (f" ({error_id})" if error_id else ""),
                                 status=resp.status_code, error_id=error_id, peer_message=peer_message)
        return resp.status_code, body

    async def ping(self, site_url: str, *, remote_id: str, token: str, now_ms: int) -> Ping:
        frame = Frame(remote_id=remote_id, msg=Msg.new(TOPIC_PING, Ping(sent_at=now_ms).to_obj(), now_ms))
        body = await self.post_frame(endpoint(site_url, PATH_PING), frame, remote_id=remote_id, token=token,
                                     timeout_s=self.timeouts.ping_s)
        try:
            return Ping.from_payload(strict_json.loads_like_go(body))
        except Exception:
            raise TransportError("ping reply is not a ping", status=200) from None

    async def confirm_invite(self, site_url: str, frame: Frame, *, invite_token: str) -> Response:
        body = await self.post_frame(endpoint(site_url, PATH_CONFIRM_INVITE), frame, remote_id=frame.remote_id,
                                     token=invite_token, timeout_s=self.timeouts.ping_s)
        return self._response(body)

    async def send_msg(self, site_url: str, msg: Msg, *, remote_id: str, token: str,
                       timeout_s: float | None = None) -> Response:
        """Deliver one message; a ``FAIL`` status is returned, not raised (it is the peer's business answer)."""
        frame = Frame(remote_id=remote_id, msg=msg)
        body = await self.post_frame(endpoint(site_url, PATH_MSG), frame, remote_id=remote_id, token=token,
                                     timeout_s=timeout_s or self.timeouts.send_s)
        return self._response(body)

    @staticmethod
    def _response(body: bytes) -> Response:
        try:
            return Response.from_json(body)
        except Exception:
            raise TransportError("invalid response from remote server", status=200) from None
