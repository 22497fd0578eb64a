"""The Go harness itself: it decodes like Mattermost, so the frames that break a real peer (issue 14) are reported
precisely, and well-formed ones pass. Hand-made frames, no database."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from isthmus.core.ids import new_id
from tests.conformance import harness

pytestmark = pytest.mark.nodb


def _post(channel_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": new_id(), "create_at": 1, "update_at": 1, "edit_at": 0, "delete_at": 0, "is_pinned": False,
            "user_id": new_id(), "channel_id": channel_id, "root_id": "", "original_id": "", "message": "hi",
            "type": "", "props": {}, "hashtags": "", "file_ids": [], "pending_post_id": "", "reply_count": 0,
            "last_reply_at": 0, "participants": None, "metadata": {}, **extra}


def _user(**extra: Any) -> dict[str, Any]:
    return {"id": new_id(), "username": "alice", "email": "a@x", "props": {}, "timezone": {}, "locale": "en",
            **extra}


def _sync(channel_id: str, **payload: Any) -> dict[str, Any]:
    body = {"remote_id": new_id(), "msg": {"id": new_id(), "topic": "sharedchannel_sync", "create_at": 5,
                                           "payload": {"id": new_id(), "channel_id": channel_id, **payload}}}
    return {"direction": "request", "path": "/api/v4/remotecluster/msg", "topic": "sharedchannel_sync",
            "status": 0, "body": json.dumps(body)}


def _run(tmp_path: Path, records: list[dict[str, Any]]) -> tuple[int, str, dict[str, Any]]:
    f = tmp_path / "frames.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in records))
    return harness.decode(f)


def test_well_formed_frames_pass_and_extension_keys_are_listed(tmp_path: Path) -> None:
    ch = new_id()
    user = _user()
    answer = {"status": "OK", "err": "", "payload": {
        "users_last_update_at": 0, "user_errors": [], "users_syncd": [user["id"]], "posts_last_update_at": 1,
        "post_errors": [], "reactions_last_update_at": 0, "reaction_errors": [],
        "acknowledgements_last_update_at": 0, "acknowledgement_errors": [], "status_errors": None}}
    code, report, summary = _run(tmp_path, [
        _sync(ch, users={user["id"]: user}, posts=[_post(ch, isthmus_pin_at=3)]),
        {"direction": "answer", "path": "/api/v4/remotecluster/msg", "topic": "sharedchannel_sync",
         "status": 200, "body": json.dumps(answer)}])
    assert code == 0, report
    assert summary["topics"] == {"request sharedchannel_sync": 1, "answer sharedchannel_sync": 1}
    assert summary["ignored_keys"] == ["Post.isthmus_pin_at"]


def test_participants_as_ids_fail_the_whole_message_and_name_the_post(tmp_path: Path) -> None:
    ch = new_id()
    root = _post(ch, participants=[new_id()])
    code, _report, summary = _run(tmp_path, [_sync(ch, posts=[_post(ch), root])])
    assert code == 1
    [error] = summary["errors"]
    assert "participants" in error and f"posts[1] (id {root['id']})" in error, error


def test_non_string_user_props_fail(tmp_path: Path) -> None:
    ch = new_id()
    bad = _user(props={"n": 1}, timezone={"useAutomaticTimezone": True})
    code, _report, summary = _run(tmp_path, [_sync(ch, users={bad["id"]: bad})])
    assert code == 1
    assert any(f"users[{bad['id']}]" in e for e in summary["errors"]), summary["errors"]


def test_bad_ids_empty_payload_and_unacknowledged_sync_are_reported(tmp_path: Path) -> None:
    ch = new_id()
    frame = {"remote_id": "short", "msg": {"id": new_id(), "topic": "sharedchannel_sync", "create_at": 1}}
    code, _report, summary = _run(tmp_path, [
        {"direction": "request", "path": "/api/v4/remotecluster/msg", "topic": "sharedchannel_sync", "status": 0,
         "body": json.dumps(frame)},
        _sync(ch, posts=[_post(new_id())]),
        {"direction": "answer", "path": "/api/v4/remotecluster/msg", "topic": "sharedchannel_sync", "status": 200,
         "body": json.dumps({"status": "OK", "err": "", "payload": None})}])
    assert code == 1
    text = "\n".join(summary["errors"])
    assert '"short" is not a valid id' in text
    assert "msg.payload: missing" in text
    assert "is not the message's channel" in text
    assert "a Mattermost sender would not count the message as delivered" in text


def test_a_float_time_is_a_decode_error(tmp_path: Path) -> None:
    ch = new_id()
    code, _report, summary = _run(tmp_path, [_sync(ch, posts=[_post(ch, create_at=1.5)])])
    assert code == 1 and "create_at" in summary["errors"][0]


_INNER_TEST = '''
import json

import httpx

from isthmus.core.ids import new_id
from tests.testlib import wirelog


def test_sends_a_frame():
    ch = new_id()
    payload = {"id": new_id(), "channel_id": ch,
               "posts": [{"id": new_id(), "user_id": new_id(), "channel_id": ch, "participants": ["%s"]}]}
    if %r:
        payload["posts"][0]["participants"] = None
    body = json.dumps({"remote_id": new_id(), "msg": {"id": new_id(), "topic": "sharedchannel_sync",
                                                     "create_at": 1, "payload": payload}}).encode()
    request = httpx.Request("POST", "http://beta.test/api/v4/remotecluster/msg", content=body)
    assert wirelog.LOG is not None
    wirelog.LOG.write("request", request, 0, body, "sharedchannel_sync")
'''


@pytest.mark.parametrize("valid", [True, False])
def test_the_run_fails_when_a_recorded_frame_does_not_decode(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                            valid: bool) -> None:
    """The plugin's session end: the inner run's only test passes, yet the run fails on a bad frame."""
    root = Path(__file__).resolve().parents[2]
    pytester.makepyfile(test_inner=_INNER_TEST % (new_id(), valid))
    monkeypatch.setenv("PYTHONPATH", f"{root}{os.pathsep}{root / 'src'}")
    monkeypatch.delenv("ISTHMUS_WIRE_HARNESS", raising=False)
    monkeypatch.setenv("ISTHMUS_WIRE_LOG_DIR", str(pytester.path))
    result = pytester.runpytest_subprocess("-p", "tests.conformance.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*Go conformance harness: 1 frames decoded*", "*1  request sharedchannel_sync*"])
    if valid:
        assert result.ret == 0
        result.stdout.fnmatch_lines(["*no decode errors, no lost fields*"])
    else:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(["*1 ERRORS*", "*participants*"])
