"""Failing examples the model-based sync test found (test_sync_model.py), replayed step by step.

Each is named after what it shows. A known defect of issue 13 that another branch fixes is marked
``xfail(strict=True)`` with the defect's number: when the fix is merged the test passes, strict turns that
into a failure, and the mark must go (it never hides a regression silently).
"""

from __future__ import annotations

import pytest

from tests.model.sync_machine import SyncMachine


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="issue 13 defect 1: a file the peer refuses (attachments off on delta) stops the channel")
def test_a_refused_file_does_not_block_the_posts_after_it() -> None:
    # delta (attachments off) is the home; alpha posts two files to it: neither post ever arrives.
    state = SyncMachine()
    state.init(n=4, chans=[(555, 0)], configs=[43, 44, 52, 32, 0], extra=31)
    state.post(reply=152, size=500, where=613, who=109)
    state.post(reply=625, size=0, where=203, who=478)
    state.teardown()
