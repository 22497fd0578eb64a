"""sync_refusals (migration 0007) on both databases: one row per (remote, kind, item), the newest kept."""

from __future__ import annotations

from typing import Any

from isthmus.core.ids import new_id
from isthmus.store.engine import Database
from isthmus.store.repo import refusals as repo
from tests.store.test_repos import db, db_url  # noqa: F401  (fixtures)


def _row(remote_id: str, item: str, at: int, kind: str = "file") -> dict[str, Any]:
    return {"id": new_id(), "remote_id": remote_id, "channel_id": "c" * 26, "kind": kind, "item_id": item,
            "reason": "too_large", "message": f"{item} was not delivered", "create_at": at}


async def test_refused_again_replaces_and_only_the_newest_stay(db: Database) -> None:  # noqa: F811
    r1, r2 = new_id(), new_id()
    async with db.write() as conn:
        await repo.record_refusals(conn, [_row(r1, "a", 1), _row(r1, "b", 2), _row(r2, "a", 1)], keep=3)
        await repo.record_refusals(conn, [_row(r1, "a", 3), _row(r1, "a", 3, kind="post")], keep=3)
    async with db.read() as conn:
        assert await repo.count_refusals(conn, r1) == {"file": 2, "post": 1}
        assert [(r["kind"], r["item_id"], r["create_at"]) for r in await repo.recent_refusals(conn, r1, 2)] in (
            [("file", "a", 3), ("post", "a", 3)], [("post", "a", 3), ("file", "a", 3)])
    async with db.write() as conn:
        await repo.record_refusals(conn, [_row(r1, "c", 4), _row(r1, "d", 5)], keep=3)
    async with db.read() as conn:
        # b (2) and both a's (3: a tie at the cut goes as a whole) went; c and d stay
        assert await repo.count_refusals(conn, r1) == {"file": 2}
        assert await repo.count_refusals(conn, r2) == {"file": 1}  # another connection keeps its own
