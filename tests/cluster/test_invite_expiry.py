"""Invitations expire 48 hours after they were last generated; regenerating gives a new 48 hours (issue 15
item 7c). The connection JSON says when (``invite_expires_at``, our extra field) so the console can say
"Invitation expired — regenerate it"."""

from __future__ import annotations

from pathlib import Path

from isthmus.core.clock import FakeClock
from tests.testlib.cluster import Cluster

HOUR = 3600 * 1000


async def test_regenerated_invitation_gets_a_new_48_hours(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_800_000_000_000)
    cluster = Cluster(tmp_path)
    try:
        a = await cluster.add("alpha", clock=clock)
        b = await cluster.add("beta")
        remote_id, first = await cluster.invite(a, "beta")
        r = await a.http.get(f"/api/v4/remotecluster/{remote_id}")
        assert r.json()["invite_expires_at"] == 1_800_000_000_000 + 48 * HOUR
        clock.advance(47 * HOUR)
        r = await a.http.post(f"/api/v4/remotecluster/{remote_id}/generate_invite", json={"password": "s3cret-pw"})
        assert r.status_code == 201, r.text
        second = r.json()
        r = await a.http.get(f"/api/v4/remotecluster/{remote_id}")
        assert r.json()["invite_expires_at"] == clock.now_ms() + 48 * HOUR
        clock.advance(2 * HOUR)  # 49 hours after the first code, 2 after the second
        r = await cluster.accept(b, "alpha", second)
        assert r.status_code == 201, r.text
        r = await a.http.get(f"/api/v4/remotecluster/{remote_id}")
        assert r.json()["invite_expires_at"] == 0  # accepted: nothing left to expire
        assert first != second
    finally:
        await cluster.close()


async def test_regenerated_invitation_expires_48_hours_later(tmp_path: Path) -> None:
    clock = FakeClock(start_ms=1_800_000_000_000)
    cluster = Cluster(tmp_path)
    try:
        a = await cluster.add("alpha", clock=clock)
        b = await cluster.add("beta")
        remote_id, _ = await cluster.invite(a, "beta")
        clock.advance(10 * HOUR)
        r = await a.http.post(f"/api/v4/remotecluster/{remote_id}/generate_invite", json={"password": "s3cret-pw"})
        code = r.json()
        clock.advance(48 * HOUR + 1)
        r = await cluster.accept(b, "alpha", code)
        assert r.status_code == 400 and "invitation_expired" in r.json()["message"], r.text
        assert await b.remotes(include_deleted=True) == []
    finally:
        await cluster.close()
