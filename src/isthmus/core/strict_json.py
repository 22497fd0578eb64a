"""JSON decoding for untrusted input (clients and connected servers) that refuses what no database stores.

``json.loads`` accepts a lone UTF-16 surrogate (``"\\ud800"``), NUL characters, ``NaN``/``Infinity`` and
integers of any size; each of those would fail later, deep in a write (PostgreSQL refuses NUL and invalid
UTF-8, a BIGINT column overflows), as a 500 or half-applied sync message. Decoding them here turns them
into one clear 400 at the edge instead.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_INT64 = (-(1 << 63), (1 << 63) - 1)


class UnsafeJSON(ValueError):
    """The text is not JSON, or holds a value no database can store."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _int64(text: str) -> int:
    # Mattermost decodes numbers into Go int64; larger ones would overflow database columns.
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError("integer out of range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def storable(value: Any) -> bool:
    """No NUL and no lone surrogate in any string (keys included)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    return True


def loads(raw: bytes | str) -> Any:
    """Decode strictly (valid UTF-8, int64 integers, finite numbers, storable strings) or raise UnsafeJSON."""
    try:
        # Strict UTF-8 first: json.loads(bytes) would let encoded surrogates through ("surrogatepass").
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_int64, parse_float=_finite_float)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise UnsafeJSON(f"invalid JSON: {str(err)[:200]}") from None
    # Only a text that holds such an escape can decode to one, so ordinary bodies pay one regex scan.
    # (A raw NUL or lone surrogate in ``text`` itself is rejected by json.loads or the UTF-8 decode.)
    if _SUSPECT_ESCAPE.search(text) and not storable(value):
        raise UnsafeJSON("strings must be valid UTF-8 without NUL characters")
    return value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value or not _encodes(value):
            return "".join("\ufffd" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
        return value
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads_like_go(raw: bytes | str) -> Any:
    """Decode a connected server's JSON the way Go's ``encoding/json`` does: invalid UTF-8 and lone
    surrogates become U+FFFD instead of failing the whole message (a peer's one odd string must not
    hold back everything queued behind it); NUL, which no database stores, becomes U+FFFD too.
    Numbers keep the strict rules (Go refuses NaN, and int64 overflow fails its decode as well)."""
    try:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_int64, parse_float=_finite_float)
    except (ValueError, RecursionError) as err:
        raise UnsafeJSON(f"invalid JSON: {str(err)[:200]}") from None
    if _SUSPECT_ESCAPE.search(text) or "\x00" in text:
        value = _scrub(value)
    return value
