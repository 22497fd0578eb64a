"""Change events: the seam between the domain and everything that reacts to it.

The domain appends events to its transaction; they are published only after the transaction
commits, so listeners (websocket hub, federation sender, metrics) never see a change that was
rolled back. Listeners must not raise: a failing listener is logged and skipped so one broken
consumer cannot stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """A change that happened. ``kind`` uses Mattermost's websocket event names where one exists.

    ``channel_id`` / ``team_id`` / ``user_id`` say who may see it (broadcast scope);
    ``data`` carries the serialized objects; ``origin`` is the remote id a change came from
    (None for local changes) so federation never echoes it back.
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    channel_id: str = ""
    team_id: str = ""
    user_id: str = ""
    omit_users: frozenset[str] = frozenset()
    origin: str | None = None


Listener = Callable[[Event], Awaitable[None] | None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            for listener in list(self._listeners):
                try:
                    result = listener(event)
                    if result is not None:
                        await result
                except Exception:
                    log.exception("event listener failed for %s", event.kind)
