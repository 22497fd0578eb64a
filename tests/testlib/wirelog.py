"""Recording of server-to-server traffic for the Go conformance harness (``tests/conformance``).

When a :class:`WireLog` is installed (the pytest plugin in ``tests/conformance/plugin.py`` does it for the whole
run), ``RoutingTransport`` appends every ``/api/v4/remotecluster/*`` request an Isthmus server sends (not those
marked :data:`FOREIGN`) and every answer an Isthmus server gives, as JSON lines
``{direction, path, topic, status, body, test}``. Answers from custom handlers (hostile or "Mattermost" peers)
are not Isthmus's and are not recorded.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import httpx

PREFIX = "/api/v4/remotecluster/"
# Set on a request's extensions by a simulated non-Isthmus peer: its requests are not ours to check (the
# answers an Isthmus server gives it are).
FOREIGN = "isthmus_test_foreign_sender"


_HAND_MADE: ContextVar[bool] = ContextVar("isthmus_test_hand_made_frames", default=False)


@contextmanager
def hand_made() -> Iterator[None]:
    """Frames sent inside are a test's hand-made (often deliberately malformed) input, not what our sender
    writes: they are not recorded for the harness (the answers to them are)."""
    token = _HAND_MADE.set(True)
    try:
        yield
    finally:
        _HAND_MADE.reset(token)


def is_ours(request: httpx.Request) -> bool:
    """A request written by an Isthmus sender (not a simulated foreign peer's, not a test's hand-made frame)."""
    return not request.extensions.get(FOREIGN) and not _HAND_MADE.get()


class WireLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames = 0
        self._lock = threading.Lock()

    @staticmethod
    def wanted(request: httpx.Request) -> bool:
        return request.url.path.startswith(PREFIX)

    def write(self, direction: str, request: httpx.Request, status: int, body: bytes, topic: str) -> None:
        path = request.url.path
        binary = direction == "request" and (path.startswith(PREFIX + "upload/") or path.endswith("/image"))
        rec = {"direction": direction, "path": path, "topic": topic, "status": status,
               "body": "" if binary else body.decode("utf-8", "replace"), "binary": binary,
               "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]}
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            self.frames += 1


def topic_of(body: bytes) -> str:
    try:
        obj = json.loads(body)
        topic = obj.get("msg", {}).get("topic", "")
        return topic if isinstance(topic, str) else ""
    except (ValueError, AttributeError):
        return ""


LOG: WireLog | None = None


def install(path: Path | None) -> WireLog | None:
    global LOG
    LOG = WireLog(path) if path is not None else None
    return LOG
