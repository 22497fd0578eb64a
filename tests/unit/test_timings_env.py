"""The sync and connection timings read from ``ISTHMUS_SYNC_*`` / ``ISTHMUS_REMOTE_*``: a typo keeps the default."""

from __future__ import annotations

from isthmus.federation.outbound import SyncTimings
from isthmus.federation.settings import Timings


def test_set_values_override_and_keep_their_type() -> None:
    t = Timings.from_env({"ISTHMUS_REMOTE_PING_INTERVAL_S": "0.25", "ISTHMUS_REMOTE_OFFLINE_AFTER_MS": "1500"})
    assert t.ping_interval_s == 0.25 and t.offline_after_ms == 1500 and isinstance(t.offline_after_ms, int)
    s = SyncTimings.from_env({"ISTHMUS_SYNC_BACKOFF_BASE_MS": "50", "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "2"})
    assert s.backoff_base_ms == 50 and s.sweep_interval_s == 2.0


def test_malformed_zero_negative_and_foreign_values_keep_the_defaults() -> None:
    t = Timings.from_env({"ISTHMUS_REMOTE_PING_INTERVAL_S": "soon", "ISTHMUS_REMOTE_PING_TIMEOUT_S": "0",
                          "ISTHMUS_REMOTE_SEND_TIMEOUT_S": "-3", "ISTHMUS_SYNC_BACKOFF_BASE_MS": "5",
                          "ISTHMUS_REMOTE_OFFLINE_AFTER_MS": "1.5"})
    assert t == Timings()  # an int field given "1.5" is malformed too
    assert SyncTimings.from_env({"ISTHMUS_REMOTE_PING_INTERVAL_S": "1", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "x"}) \
        == SyncTimings()
