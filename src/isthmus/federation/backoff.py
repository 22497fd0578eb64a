"""Per-remote retry backoff: a small, pure state machine (architecture §0 rule 6, Mattermost #36962).

After each failure the next attempt waits ``min(max, base · 2^(n-1))`` scaled by a random factor in
[0.8, 1.4] (jitter keeps many servers from retrying in lockstep). Success or any inbound traffic from
the peer (proof it is alive) resets it. ``should_log`` lets callers log the first failure and then only
every doubling, so one offline peer cannot flood the logs. State is plain data so a caller may persist it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from isthmus.core.clock import Clock

DEFAULT_BASE_MS = 1_000
DEFAULT_MAX_MS = 10 * 60 * 1000
JITTER_LOW, JITTER_HIGH = 0.8, 1.4


@dataclass
class Backoff:
    clock: Clock
    base_ms: int = DEFAULT_BASE_MS
    max_ms: int = DEFAULT_MAX_MS
    failures: int = 0
    next_attempt_at: int = 0
    rng: random.Random | None = None

    def ready(self) -> bool:
        """May we try now?"""
        return self.clock.now_ms() >= self.next_attempt_at

    def wait_ms(self) -> int:
        return max(0, self.next_attempt_at - self.clock.now_ms())

    def on_failure(self) -> int:
        """Record a failure; returns the delay (ms) before the next attempt."""
        self.failures += 1
        raw = min(self.max_ms, self.base_ms * (2 ** min(self.failures - 1, 40)))
        factor = (self.rng or random).uniform(JITTER_LOW, JITTER_HIGH)
        delay = int(min(self.max_ms, raw * factor))
        self.next_attempt_at = self.clock.now_ms() + delay
        return delay

    def on_success(self) -> None:
        self.failures = 0
        self.next_attempt_at = 0

    def reset_on_inbound(self) -> None:
        """The peer just talked to us, so it is reachable: retry right away."""
        self.on_success()

    def should_log(self) -> bool:
        """True for the 1st, 2nd, 4th, 8th … consecutive failure."""
        n = self.failures
        return n > 0 and (n & (n - 1)) == 0
