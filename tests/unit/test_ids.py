"""Mattermost-compatible ids: 26 chars of Mattermost's base32 alphabet, unique, validated strictly."""

from __future__ import annotations

import base64

import pytest

from isthmus.core.ids import is_valid_id, new_id, new_token

pytestmark = pytest.mark.nodb

MM_ALPHABET = set("ybndrfg8ejkmcpqxot1uwisza345h769")


def test_new_id_shape() -> None:
    for _ in range(200):
        value = new_id()
        assert len(value) == 26
        assert set(value) <= MM_ALPHABET
        assert is_valid_id(value)


def test_ids_and_tokens_are_unique() -> None:
    made = {new_id() for _ in range(5000)} | {new_token() for _ in range(5000)}
    assert len(made) == 10_000


def test_id_decodes_to_16_random_bytes() -> None:
    std = str.maketrans("ybndrfg8ejkmcpqxot1uwisza345h769", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    raw = base64.b32decode(new_id().translate(std) + "======")
    assert len(raw) == 16


def test_known_mattermost_ids_are_valid() -> None:
    # Ids as a Mattermost server produces them.
    for value in ("ctsqzu9bxbgc8gfj4gj5kr7w4c", "4xp9fdt77pncbef59f4k1qe83o", "n8y1zmmfijg3fq3daufhjbbzhh"):
        assert is_valid_id(value)


@pytest.mark.parametrize("value", [
    "", "a" * 25, "a" * 27, "A" * 26, "me", "abcdefghijklmnopqrstuvwxy-", "abcdefghijklmnopqrstuvwxy ",
    "abcdefghijklmnopqrstuvwxyz\n", None, 12345, ["a" * 26], b"a" * 26,
])
def test_invalid_ids(value: object) -> None:
    assert not is_valid_id(value)
