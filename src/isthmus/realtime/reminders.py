"""The periodic job behind persistent notifications (``domain.persistent_notifications.send_due``).

It runs every ``check_interval_s`` (30 s: a reminder is at most that late against an interval of minutes) for as
long as the server runs; what is due lives in the database, so a restart loses nothing and two processes on one
database would only race to send the same reminder (the row is updated in the same transaction as the send).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from isthmus.domain.context import Domain
from isthmus.domain.persistent_notifications import send_due
from isthmus.store.failures import classify

log = logging.getLogger(__name__)


class Reminders:
    def __init__(self, domain: Domain, *, check_interval_s: float = 30.0) -> None:
        self.domain = domain
        self.check_interval_s = check_interval_s
        self._task: asyncio.Task[None] | None = None
        # Several processes on one database: only the holder of the reminders lease sends (isthmus.cluster);
        # its websocket events reach every process's clients through the bus.
        self.may_run: Callable[[], Awaitable[bool]] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="isthmus-reminders")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval_s)
            try:
                if self.may_run is not None and not await self.may_run():
                    continue
                await send_due(self.domain)
            except Exception as err:
                if classify(err) is None:
                    log.exception("persistent notifications: reminder job failed")
                else:  # the database is away or full: one line, not a traceback every run
                    log.warning("persistent notifications: reminders skipped: %s", classify(err))
