"""The model-based sync test runs whole clusters inside hypothesis examples: quick sync retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testlib.sharing import SYNC_ENV


@pytest.fixture(autouse=True)
def _fast_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in SYNC_ENV.items():
        monkeypatch.setenv(key, value)
    yield
