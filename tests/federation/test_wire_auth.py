"""Wire shapes, remote-cluster credential parsing and the backoff state machine (pure units)."""

from __future__ import annotations

import json
import random

import pytest

from isthmus.core.clock import FakeClock
from isthmus.core.errors import AppError
from isthmus.core.ids import new_id
from isthmus.federation.auth import credentials_from, tokens_match
from isthmus.federation.backoff import Backoff
from isthmus.federation.wire import Frame, Invite, Msg, Ping, Response, go_json, parse_frame

pytestmark = pytest.mark.nodb


def test_frame_round_trip_keeps_go_key_order() -> None:
    frame = Frame(remote_id=new_id(), msg=Msg.new("ping", {"sent_at": 5}, 123))
    raw = frame.to_json()
    assert raw.startswith(b'{"remote_id":"') and b'"msg":{"id":"' in raw
    assert list(json.loads(raw)["msg"]) == ["id", "topic", "create_at", "payload"]
    assert parse_frame(raw) == frame


def test_response_and_ping_shapes() -> None:
    assert Response().to_json() == b'{"status":"OK","err":"","payload":null}'
    assert Response.from_json(b'{"status":"FAIL","err":"boom"}') == Response("FAIL", "boom", None)
    assert Ping.from_payload({"sent_at": 7}) == Ping(7, 0)


def test_confirm_invite_omits_empty_fields_like_go() -> None:
    inv = Invite(remote_id="r" * 26, site_url="http://x", token="t")
    assert inv.to_json() == b'{"remote_id":"' + b"r" * 26 + b'","remote_team_id":"","site_url":"http://x","token":"t"}'
    assert go_json({"a": "é<"}) == '{"a":"é\\u003c"}'.encode()


@pytest.mark.parametrize(("body", "error_id"), [
    (b"not json", "api.unmarshal_error"),
    (b"[]", "api.unmarshal_error"),
    (b'{"remote_id":5,"msg":{}}', "api.unmarshal_error"),
    (b'{"remote_id":"bad","msg":{"id":"' + b"a" * 26 + b'","topic":"t","payload":1}}',
     "api.remote_cluster.invalid_id.app_error"),
    (b'{"remote_id":"' + b"a" * 26 + b'","msg":{"id":"x","topic":"t","payload":1}}',
     "api.remote_cluster.invalid_id.app_error"),
    (b'{"remote_id":"' + b"a" * 26 + b'","msg":{"id":"' + b"a" * 26 + b'","topic":"","payload":1}}',
     "api.remote_cluster.invalid_topic.app_error"),
    (b'{"remote_id":"' + b"a" * 26 + b'","msg":{"id":"' + b"a" * 26 + b'","topic":"t"}}',
     "api.context.invalid_body_param.app_error"),
    (b'{"remote_id":"' + b"a" * 26 + b'","msg":{"id":"' + b"a" * 26 + b'","topic":"t","create_at":true,'
     b'"payload":1}}', "api.unmarshal_error"),
])
def test_bad_frames_are_400(body: bytes, error_id: str) -> None:
    with pytest.raises(AppError) as info:
        parse_frame(body)
    assert (info.value.id, info.value.status_code) == (error_id, 400)


def test_credentials_need_id_and_token() -> None:
    rid = new_id()
    creds = credentials_from({"x-remotecluster-id": rid, "x-remotecluster-token": "tok"})
    assert (creds.remote_id, creds.token) == (rid, "tok")
    assert "tok" not in repr(creds)
    with pytest.raises(AppError) as info:
        credentials_from({"x-remotecluster-token": "tok"})
    assert info.value.id == "api.context.remote_id_missing.app_error"
    with pytest.raises(AppError) as info:
        credentials_from({"x-remotecluster-id": rid})
    assert info.value.status_code == 401


def test_user_credentials_are_never_remote_credentials() -> None:
    headers = {"x-remotecluster-id": new_id(), "x-remotecluster-token": "tok", "authorization": "Bearer abc"}
    with pytest.raises(AppError) as info:
        credentials_from(headers)
    assert info.value.id == "api.context.session_expired.app_error"
    with pytest.raises(AppError):
        credentials_from({"x-remotecluster-id": new_id(), "x-remotecluster-token": "t"}, {"MMAUTHTOKEN": "c"})


def test_long_tokens_are_truncated_and_compare_constant_time() -> None:
    creds = credentials_from({"x-remotecluster-id": new_id(), "x-remotecluster-token": "a" * 80})
    assert len(creds.token) == 50
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match("", "")
    assert not tokens_match("abc", "")


def test_backoff_grows_with_jitter_and_resets() -> None:
    clock = FakeClock()
    b = Backoff(clock, base_ms=100, max_ms=1000, rng=random.Random(1))
    assert b.ready()
    delays = [b.on_failure() for _ in range(6)]
    assert 80 <= delays[0] <= 140
    assert 160 <= delays[1] <= 280
    assert all(d <= 1000 for d in delays) and delays[-1] >= 800
    assert not b.ready()
    clock.advance(b.wait_ms())
    assert b.ready()
    assert [Backoff(clock, failures=n).should_log() for n in (1, 2, 3, 4, 5, 8)] == [
        True, True, False, True, False, True]
    b.reset_on_inbound()
    assert b.failures == 0 and b.ready()
