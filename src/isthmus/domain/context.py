"""What every domain function needs, built once by the composition root (``isthmus.server``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.config import Config, ConfigStore
from isthmus.core.clock import Clock
from isthmus.core.events import Event, EventBus
from isthmus.store.engine import Database, is_retryable_conflict

T = TypeVar("T")
RETRY_ATTEMPTS = 4
log = logging.getLogger(__name__)


@dataclass
class Domain:
    db: Database
    bus: EventBus
    clock: Clock
    config_store: ConfigStore
    bcrypt_cost: int = 10
    # Small per-process caches; invalidated by the domain functions that change them.
    caches: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Config:
        return self.config_store.config

    def now(self) -> int:
        return self.clock.now_ms()


@dataclass
class Tx:
    """One write transaction plus the events to publish once it has committed."""

    conn: AsyncConnection
    events: list[Event] = field(default_factory=list)
    after_commit: list[Any] = field(default_factory=list)
    # Lookups valid for this transaction only (e.g. a row already locked by it); gone with the transaction.
    cache: dict[str, Any] = field(default_factory=dict)

    def emit(self, event: Event) -> None:
        self.events.append(event)


@asynccontextmanager
async def transaction(d: Domain) -> AsyncIterator[Tx]:
    """Run a write; publish its events only after COMMIT succeeded (never on rollback)."""
    async with d.db.write() as conn:
        tx = Tx(conn)
        yield tx
    for hook in tx.after_commit:
        hook()
    if tx.events:
        await d.bus.publish(tx.events)


async def retrying(work: Callable[[], Awaitable[T]], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run ``work`` (one whole :func:`transaction` and what it computes) again when PostgreSQL aborted it to
    break a deadlock or a serialization conflict. For writes that take several ``shared_channels`` locks in
    an order a concurrent writer can cross (a received status relayed while a local status changes): the
    rolled-back attempt left nothing behind and published nothing, so the retry is the whole effect.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as exc:
            if attempt == attempts or not is_retryable_conflict(exc):
                raise
            log.info("write aborted by the database to break a lock conflict (attempt %d): retrying", attempt)
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")
