"""Pure pieces of the refusal policy (issue 13): parsing a peer's limits and refusal reasons (untrusted input),
sizes in words, and the receiver's local "not transferred" note."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from isthmus.domain.sharing.refusals import (
    MARKER_KEY,
    Limits,
    human_size,
    keep_marker,
    received_marker,
    without_marker,
)
from isthmus.federation.sync.messages import SyncResponse

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(("obj", "expected"), [
    ({"max_file_size": 10, "enable_file_attachments": True, "max_post_size": 500}, Limits(10, True, 500)),
    ({"max_file_size": 10, "enable_file_attachments": False}, Limits(10, False, 16383)),
    ({"max_file_size": 10, "enable_file_attachments": True, "max_post_size": "x"}, Limits(10, True, 16383)),
    (None, None), ([], None), ("limits", None),
    ({"max_file_size": True, "enable_file_attachments": True}, None),
    ({"max_file_size": 0, "enable_file_attachments": True}, None),
    ({"max_file_size": 2**70, "enable_file_attachments": True}, None),
    ({"max_file_size": 10, "enable_file_attachments": "yes"}, None),
])
def test_limits_from_a_peer(obj: Any, expected: Limits | None) -> None:
    assert Limits.from_obj(obj) == expected


def test_limits_refuse() -> None:
    assert Limits(100, True, 1).refuses(100) is None
    assert Limits(100, True, 1).refuses(101) == "too_large"
    assert Limits(100, False, 1).refuses(1) == "attachments_off"


@pytest.mark.parametrize(("n", "words"), [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1 KB"), (2000, "2 KB"),
                                          (6144, "6 KB"), (1536, "1.5 KB"), (10 << 20, "10 MB"),
                                          (30 * (1 << 20) + 5, "30 MB"), (3 << 30, "3 GB")])
def test_human_size(n: int, words: str) -> None:
    assert human_size(n) == words


def test_reasons_in_an_answer_are_parsed_defensively() -> None:
    r = SyncResponse.from_obj({"post_errors": ["p1"], "isthmus_reasons": {
        "post": {"p1": "read-only", "p2": 5, "x" * 100: "long id"}, "reaction": "nope", 7: {"a": "b"},
        "k" * 17: {"a": "b"}}})
    assert r.reasons == {"post": {"p1": "read-only", "x" * 64: "long id"}}
    assert SyncResponse.from_obj({"isthmus_reasons": []}).reasons == {}
    out = SyncResponse()
    out.refuse("user", "u1", "w" * 500)
    assert out.to_obj()["isthmus_reasons"] == {"user": {"u1": "w" * 300}}
    assert "isthmus_reasons" not in SyncResponse().to_obj()  # Mattermost's answer shape when nothing is refused


def _d(max_size: int, on: bool) -> Any:
    return SimpleNamespace(config=SimpleNamespace(FileSettings=SimpleNamespace(MaxFileSize=max_size,
                                                                                 EnableFileAttachments=on)))


def test_the_receivers_note_says_why_in_words() -> None:
    post = {"metadata": {"files": [{"id": "f1", "name": "report.pdf", "size": 3 << 20},
                                   {"id": "f2", "name": "tiny.txt", "size": 3}]}}
    [big, small, unknown] = received_marker(_d(1 << 20, True), post, ["f1", "f2", "f3"])
    assert big["message"] == "A file (report.pdf, 3 MB) was not transferred: this workspace accepts files up to 1 MB"
    assert (big["reason"], big["size"], big["limit"]) == ("too_large", 3 << 20, 1 << 20)
    assert small["reason"] == "not_received"  # it fits here: a workspace on the way did not pass it on
    assert unknown["message"] == "A file was not transferred: a workspace on the way did not accept it"
    [off] = received_marker(_d(1 << 20, False), {"metadata": "junk"}, ["f1"])
    assert off["message"] == "A file was not transferred: this workspace does not accept file attachments"


def test_the_note_is_local() -> None:
    mine = {MARKER_KEY: [{"id": "f1"}], "a": 1}
    assert without_marker(mine) == {"a": 1}
    assert keep_marker({"b": 2, MARKER_KEY: "forged"}, mine) == {"b": 2, MARKER_KEY: [{"id": "f1"}]}
    assert keep_marker({"b": 2}, {"a": 1}) == {"b": 2}
