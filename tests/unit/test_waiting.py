"""wait_event: set, timeout, and a cancellation that races with the event is never lost."""

from __future__ import annotations

import asyncio
import sys

import pytest

from isthmus.core.waiting import wait_event


async def test_set_and_timeout() -> None:
    ev = asyncio.Event()
    assert await wait_event(ev, 0.01) is False
    ev.set()
    assert await wait_event(ev, 10) is True


async def _cancel_as_the_event_fires(waiter: object) -> bool:
    """True if the cancellation reached the waiting task."""
    ev = asyncio.Event()

    async def loop_once() -> None:
        await waiter(ev)  # type: ignore[operator]

    task = asyncio.create_task(loop_once())
    await asyncio.sleep(0)  # the task now waits on the event
    ev.set()                # the inner wait completes ...
    task.cancel()           # ... and the cancellation arrives in the same loop iteration
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


async def test_a_cancellation_racing_with_the_event_is_not_swallowed() -> None:
    assert await _cancel_as_the_event_fires(lambda ev: wait_event(ev, 10))


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the wait_for race is fixed in Python 3.12")
async def test_the_race_is_real_with_wait_for_on_this_python() -> None:
    # Why wait_event exists: asyncio.wait_for on 3.11 loses this cancellation (so a stopping loop never ends).
    assert not await _cancel_as_the_event_fires(lambda ev: asyncio.wait_for(ev.wait(), 10))
