"""Waiting for an event with a timeout, without losing a cancellation.

Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that arrives just as the awaited future
completes (CPython gh-86296, fixed in 3.12): a background loop cancelled at that moment carries on, and
whoever awaits it after ``cancel()`` (a server shutting down) waits forever. ``asyncio.timeout`` counts
cancellations and does not have that race.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """True if ``event`` was set within ``timeout_s`` seconds, False on timeout."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
