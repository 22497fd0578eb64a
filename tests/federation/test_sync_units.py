"""Pure pieces of the shared-channel sync: username munging (§7.4), mention and permalink rewriting,
payload parsing of untrusted input."""

from __future__ import annotations

import pytest

from isthmus.core.errors import AppError
from isthmus.domain.synced.users import mung_username
from isthmus.federation.sync.messages import SyncResponse, parse_sync_msg
from isthmus.federation.sync.text import (
    apply_mention_transforms,
    mention_names,
    permalinks_in,
    permalinks_out,
    replace_mention,
)

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(("user", "remote", "suffix", "expected"), [
    ("alice", "beta", "", "alice:beta"),
    ("alice", "beta", "2", "alice-2:beta"),
    ("bob:gamma", "beta", "", "bob:gamma"),
    ("bob:gam:ma", "beta", "3", "bob-3:gamma"),
])
def test_mung_examples(user: str, remote: str, suffix: str, expected: str) -> None:
    assert mung_username(user, remote, suffix) == expected


def test_mung_truncates_to_64_bytes_with_ellipses() -> None:
    long_user, long_remote = "u" * 70, "r" * 70
    out = mung_username(long_user, long_remote, "12")
    assert len(out.encode()) <= 64 and "..." in out and ":" in out and "-12" in out
    # follows §7.4 exactly: user part cut to 32 - len(suffix) - 3 bytes, remote part to fit the rest
    u, _, r = out.partition(":")
    assert u == "u" * 26 + "-12..." and r == "r" * 28 + "..." and len(out) == 64
    assert mung_username("a" * 20, "r" * 60) == "a" * 20 + ":" + "r" * 40 + "..."


def test_mentions_are_whole_tokens() -> None:
    assert mention_names("hi @Ann, @bob:beta and @al.") == ["ann", "bob:beta", "al.", "al"]
    assert replace_mention("@al and @alice and @al.", "al", "x") == "@x and @alice and @x."
    assert replace_mention("mail me at x@al.org", "al", "x") == "mail me at x@al.org"


def test_mention_transforms_follow_the_rules() -> None:
    users = {"U1": ("bob", False), "U2": ("alice:alpha", True)}  # U1 local here, U2 synthetic here
    msg = apply_mention_transforms("@bob:beta @alice @carl @dave:zeta", {"bob:beta": "U1", "alice": "U2",
                                                                        "carl": "U3", "dave:zeta": "U4"},
                                   users.get, "beta")
    assert msg == "@bob @alice:alpha @carl:beta @dave:zeta"
    assert apply_mention_transforms("@bob hi", {"bob": "U1"}, users.get, "beta") == "@bob hi"


def test_permalinks() -> None:
    pid, other = "a" * 26, "b" * 26
    text = f"see https://alpha.example.com/team-a/pl/{pid} and http://alpha.example.com/team-a/pl/{other}"
    out = permalinks_out(text, {pid})
    assert f"/team-a/plshared/{pid}" in out and f"/team-a/pl/{other}" in out
    assert permalinks_in(out, "https://beta.example.com/", "team-b") == \
        f"see https://beta.example.com/team-b/pl/{pid} and http://alpha.example.com/team-a/pl/{other}"


def test_sync_msg_parsing_rejects_bad_shapes() -> None:
    for bad in (None, [], "x", {"channel_id": 5}, {"channel_id": "short"}, {"posts": {}},
                {"posts": [{}] * 1001}, {"users": []}, {"mention_transforms": "x"}):
        with pytest.raises(AppError):
            parse_sync_msg(bad)
    msg = parse_sync_msg({"id": "x", "channel_id": "c" * 26, "posts": [{"id": 1}, "junk"],
                          "users": {"u": {"id": "u"}, "v": "junk"},
                          "mention_transforms": {"ok": "d" * 26, "bad": "nope", "": "e" * 26}})
    assert msg.posts == [{"id": 1}] and list(msg.users) == ["u"] and msg.mention_transforms == {"ok": "d" * 26}


def test_sync_response_shape() -> None:
    obj = SyncResponse(users_syncd=["u"], post_errors=["p"]).to_obj()
    assert list(obj) == ["users_last_update_at", "user_errors", "users_syncd", "posts_last_update_at",
                         "post_errors", "reactions_last_update_at", "reaction_errors",
                         "acknowledgements_last_update_at", "acknowledgement_errors", "status_errors"]
    assert obj["status_errors"] is None
    assert SyncResponse.from_obj({"users_syncd": ["a", 3], "post_errors": "x"}).users_syncd == ["a"]


def test_sync_msg_statuses_are_kept_item_by_item() -> None:
    from isthmus.federation.sync.messages import SyncMsg

    status = {"user_id": "u" * 26, "status": "away", "manual": True, "last_activity_at": 5, "dnd_end_time": 0}
    msg = parse_sync_msg({"channel_id": "c" * 26, "statuses": [status, "junk", 3]})
    assert msg.statuses == [status] and not msg.empty
    # a malformed list is no statuses at all, never a failed message
    assert parse_sync_msg({"channel_id": "c" * 26, "statuses": {"x": 1}}).statuses == []
    assert len(parse_sync_msg({"channel_id": "c" * 26, "statuses": [status] * 1500}).statuses) == 1000
    out = SyncMsg(id="i", channel_id="c" * 26, statuses=[status]).to_obj()
    assert out == {"id": "i", "channel_id": "c" * 26, "statuses": [status]}
    assert "statuses" not in SyncMsg.new("c" * 26).to_obj()


def test_sync_response_status_errors() -> None:
    obj = SyncResponse(status_errors=["u"]).to_obj()
    assert obj["status_errors"] == ["u"]
    assert SyncResponse.from_obj(obj).status_errors == ["u"]
    assert SyncResponse.from_obj({"status_errors": None}).status_errors == []


def test_parse_synced_status() -> None:
    from isthmus.domain.statuses import Status
    from isthmus.domain.synced.statuses import StatusRefused, parse_synced_status

    uid = "u" * 26
    mm = {"user_id": uid, "status": "dnd", "manual": True, "last_activity_at": 7, "active_channel": "x",
          "dnd_end_time": 120}
    # the clock: last_activity_at from a Mattermost peer, isthmus_status_at from ours
    assert parse_synced_status(mm) == Status(uid, "dnd", True, 7, 120, "", 7)
    assert parse_synced_status({**mm, "isthmus_status_at": 9}) == Status(uid, "dnd", True, 7, 120, "", 9)
    assert parse_synced_status({"user_id": uid, "status": "online"}) == Status(uid, "online", False, 0, 0, "")
    for bad in ({"user_id": "x", "status": "away"}, {"user_id": uid, "status": "busy"}, {"user_id": uid},
                {"user_id": uid, "status": "away", "manual": 1}, {"user_id": uid, "status": "away",
                                                                   "last_activity_at": -1},
                {"user_id": uid, "status": "away", "last_activity_at": 1.5},
                {"user_id": uid, "status": "dnd", "dnd_end_time": 1 << 41},
                {"user_id": uid, "status": "away", "isthmus_status_at": "soon"}):
        with pytest.raises(StatusRefused):
            parse_synced_status(bad)
