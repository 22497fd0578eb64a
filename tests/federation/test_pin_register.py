"""The pin register of a synced post (last writer wins on ``isthmus_pin_at``) and the FAIL text of a deleted
channel, which must still carry Mattermost's "channel is no longer shared" (§5.5)."""

from __future__ import annotations

from typing import Any

import pytest

from isthmus.domain.models import Post
from isthmus.domain.synced.posts import PIN_AT_KEY, _pin_change
from isthmus.federation.sync.messages import CHANNEL_DELETED_TEXT, NOT_SHARED_TEXT, not_shared_error

pytestmark = pytest.mark.nodb


def _stored(pinned: bool, pin_at: int) -> Post:
    return Post(id="p" * 26, create_at=1, update_at=1, edit_at=0, delete_at=0, is_pinned=pinned, user_id="u" * 26,
                channel_id="c" * 26, root_id="", original_id="", message="m", type="", props={}, hashtags="",
                file_ids=[], pending_post_id="", has_reactions=False, reply_count=0, last_reply_at=0,
                participants=[], remote_id=None, pin_at=pin_at)


def _incoming(pinned: bool, pin_at: int | None) -> dict[str, Any]:
    p: dict[str, Any] = {"id": "p" * 26, "is_pinned": pinned}
    if pin_at is not None:
        p[PIN_AT_KEY] = pin_at
    return p


@pytest.mark.parametrize(("stored", "incoming", "expected"), [
    ((False, 10), (True, 11), {"is_pinned": True, "pin_at": 11}),    # later pin wins
    ((True, 12), (False, 11), {}),                                   # earlier unpin loses
    ((True, 12), (False, 13), {"is_pinned": False, "pin_at": 13}),   # later unpin wins
    ((False, 12), (True, 12), {"is_pinned": True, "pin_at": 12}),    # exact tie: "pinned" wins ...
    ((True, 12), (False, 12), {}),                                   # ... on both sides
    ((True, 12), (True, 15), {"is_pinned": True, "pin_at": 15}),     # same state, newer clock: kept
    ((True, 12), (True, 12), {}),                                    # a replay changes nothing
])
def test_last_writer_wins_whatever_the_scope(stored: tuple[bool, int], incoming: tuple[bool, int],
                                             expected: dict[str, Any]) -> None:
    for in_scope in (True, False):
        assert _pin_change(_stored(*stored), _incoming(*incoming), in_scope, now=100) == expected


def test_a_mattermost_post_without_the_clock_follows_the_scope() -> None:
    assert _pin_change(_stored(False, 50), _incoming(True, None), True, now=40) == {"is_pinned": True, "pin_at": 51}
    assert _pin_change(_stored(False, 0), _incoming(True, None), True, now=40) == {"is_pinned": True, "pin_at": 40}
    assert _pin_change(_stored(False, 0), _incoming(True, None), False, now=40) == {}
    assert _pin_change(_stored(True, 0), _incoming(True, None), True, now=40) == {}


def test_the_deleted_channel_fail_keeps_mattermosts_substring() -> None:
    plain, deleted = not_shared_error("c" * 26), not_shared_error("c" * 26, deleted=True)
    assert NOT_SHARED_TEXT in plain.message and CHANNEL_DELETED_TEXT not in plain.message
    assert NOT_SHARED_TEXT in deleted.message and deleted.message.endswith(CHANNEL_DELETED_TEXT)
    assert deleted.status_code == plain.status_code == 400
