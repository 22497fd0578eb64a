"""Tunables of the secure-connection service. Defaults are Mattermost's (§13); tests shorten them.

``ISTHMUS_REMOTE_*`` environment variables override them for a whole process (the loopback tests start
real servers that way); in-process tests call ``Connections.configure(Timings(...))``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from isthmus.domain.remotes import INVITE_EXPIRES_MS, OFFLINE_AFTER_MS

ENV_PREFIX = "ISTHMUS_REMOTE_"


def positive_fields_from_env(cls: type, prefix: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The dataclass fields of ``cls`` set in the environment as ``<prefix><FIELD>``, positive numbers only: a
    malformed or non-positive value is ignored so a typo in a test's or an operator's setting keeps the default."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw = env.get(prefix + f.name.upper())
        if raw is None:
            continue
        try:
            value: float | int = int(raw) if f.type in ("int", int) else float(raw)
        except ValueError:
            continue
        if value > 0:
            values[f.name] = value
    return values


@dataclass(frozen=True)
class Timings:
    ping_interval_s: float = 60.0
    ping_timeout_s: float = 15.0
    send_timeout_s: float = 60.0
    offline_after_ms: int = OFFLINE_AFTER_MS
    invite_expires_ms: int = INVITE_EXPIRES_MS
    # Accept attempts allowed per admin (and per client address) per minute: slows password guessing.
    accept_attempts_per_minute: int = 10

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> Timings:
        """``ISTHMUS_REMOTE_PING_INTERVAL_S=0.2`` etc.; malformed values are ignored."""
        return Timings(**positive_fields_from_env(Timings, ENV_PREFIX, environ))
