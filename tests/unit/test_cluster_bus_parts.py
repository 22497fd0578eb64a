"""The bus's packing (``isthmus.cluster.bus.Relay._pack``): under a payload limit (PostgreSQL NOTIFY's 8000 bytes)
a batch is split, and one event too big for a message is cut into parts that each fit and join back whole, even
when every character needs escaping (quotes, backslashes, non-ASCII)."""

from __future__ import annotations

import json

from isthmus.cluster.bus import PG_PAYLOAD_LIMIT, Relay, decode_event, encode_event
from isthmus.core.events import Event, EventBus


class _NoTransport:
    max_payload: int | None = PG_PAYLOAD_LIMIT


def test_big_events_are_cut_into_parts_that_fit_and_join_back() -> None:
    relay = Relay(EventBus(), _NoTransport(), "n" * 26)  # type: ignore[arg-type]
    nasty = '"\\é€😀' * 4000
    events = [Event("posted", {"post": nasty}, channel_id="c" * 26), Event("typing", {"user_id": "u"})]
    payloads = relay._pack([{"e": encode_event(e)} for e in events])
    assert len(payloads) > 2
    assert all(len(p.encode()) <= 8000 for p in payloads)
    parts = [json.loads(p)["p"] for p in payloads if "p" in json.loads(p)]
    whole = json.loads("".join(chunk for _id, _i, _n, chunk in parts))
    assert decode_event(whole["m"][0]["e"]) == events[0]
    small = [json.loads(p) for p in payloads if "m" in json.loads(p)]
    assert [decode_event(m["m"][0]["e"]) for m in small] == [events[1]]
