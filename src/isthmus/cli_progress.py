"""The progress bar of ``isthmus connection sync-users``: users sent / total, rate, time left (rich)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

POLL_S = 0.5


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("-- users/s" if speed is None else f"{speed:,.0f} users/s")


def follow_user_sync(poll: Callable[[], Any], started: dict[str, Any], timeout: float) -> bool:
    """Poll the server's progress until nothing is left to send (True) or ``timeout`` seconds pass (False).
    Sent = the total at the start minus what is still pending; users created meanwhile grow the total."""
    total = int(started["pending"])
    deadline = time.monotonic() + timeout
    columns = (TextColumn("users sent"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("sync", total=total)
        pending = total
        while pending > 0 and time.monotonic() < deadline:
            time.sleep(POLL_S)
            pending = int(poll()["pending"])
            sent = max(total - pending, 0)
            total = max(total, sent + pending)
            progress.update(task, total=total, completed=sent)
    return pending == 0
