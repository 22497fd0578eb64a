"""Limits at the edge, below the routes: slow or huge request heads, and the process's open-file limit.

uvicorn bounds neither how long a request head may take nor (with httptools, the parser ``uvicorn[standard]``
picks) how big it may grow: ``timeout_keep_alive`` only closes a connection idle *between* requests, and the
first byte of a new request disarms it; ``h11_max_incomplete_event_size`` applies to the h11 parser only. So a
slow-loris client sending a byte every few seconds would hold its connection (and a file descriptor) for good.
``head_limited_protocol`` closes a connection whose request line and headers have not all arrived within
``RateLimitSettings.RequestHeaderTimeoutSeconds`` of opening or of the request's first byte (Go's
``ReadHeaderTimeout``), and refuses a head bigger than ``MAX_HEAD_BYTES``.
Websocket caps live in the hub (``realtime.hub``), which knows which sockets are open.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

# nginx answers 431/400 past 32 KiB of headers (4 × 8k buffers) and Go past 1 MiB; a browser's cookies and a
# bearer token fit in a few KiB.
MAX_HEAD_BYTES = 64 * 1024


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into a parse error and uvicorn answers 400."""


class _HeadLimited(HttpToolsProtocol):
    head_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def _arm_head(self) -> None:
        self._disarm_head()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport is not None and not self.transport.is_closing():
            log.info("closed a connection from %s: no complete request head within %.0f s",
                     self.client[0] if self.client else "?", self.head_timeout_s)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        # The first byte of a further request on a kept-alive connection: its head is now due. (Idle time
        # between requests is uvicorn's timeout_keep_alive.)
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm_head()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge(f"request head over {MAX_HEAD_BYTES} bytes")

    def on_headers_complete(self) -> None:
        self._disarm_head()  # before an upgrade hands the connection to the websocket protocol
        super().on_headers_complete()



def head_limited_protocol(timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a request-head deadline of ``timeout_s`` and a head size cap."""
    return type("HeadLimitedProtocol", (_HeadLimited,), {"head_timeout_s": float(timeout_s)})


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one (Go's runtime does this for Mattermost) and return it:
    every socket costs a descriptor, and the usual soft limit of 1024 is reached by a modest crowd."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as err:  # a container may forbid it: keep the soft limit
            log.warning("could not raise the open-file limit from %d: %s", soft, err)
    return int(soft)

