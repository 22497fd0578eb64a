"""Mattermost-compatible identifiers.

An id is 16 random bytes base32-encoded with Mattermost's alphabet and no padding: 26 characters
of ``[a-z0-9]``. The same id names an object on every connected server, so ids are never reused.
"""

from __future__ import annotations

import base64
import re
import secrets

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_MM = "ybndrfg8ejkmcpqxot1uwisza345h769"
_TO_MM = str.maketrans(_STD, _MM)
_ID_RE = re.compile(r"^[a-z0-9]{26}$")


def new_id() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").translate(_TO_MM).rstrip("=")


def new_token() -> str:
    """Session and remote-cluster tokens have the same shape as ids (Mattermost's NewId)."""
    return new_id()


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None
