"""The in-process multi-server fixture (tests.testlib.cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.testlib.cluster import Cluster
from tests.testlib.sharing import SYNC_ENV


@pytest.fixture(autouse=True)
def _fast_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short sync backoff and sweep timings so convergence tests finish quickly (exact timing rules
    are unit-tested with a fake clock)."""
    for key, value in SYNC_ENV.items():
        monkeypatch.setenv(key, value)
    yield


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        await c.close()
