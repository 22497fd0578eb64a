"""Resource limits (issue 18): a full disk while writing a post or a file, and a database that goes away.

Each answers a clear AppError (507 for a full disk, 503 with Retry-After for the database) instead of a 500,
leaves nothing half-written (no post, no outbox row, no file row, no blob), and everything works again, sync
included, once the resource is back. The disk fills for real on the database side (SQLite's page limit;
PostgreSQL's own disk-full error, SQLSTATE 53100, raised by a trigger), and for blobs a copy that the kernel
cuts short with ENOSPC; the database goes away for real (SQLite: another process holds the write lock past the
busy wait; PostgreSQL: the TCP path to it is cut).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text

from isthmus.store.schema.files import file_infos
from isthmus.store.schema.shared import sync_outbox
from tests.cluster.test_shared_extras import upload
from tests.testlib.cluster import Cluster, Node
from tests.testlib.faultproxy import TcpGate
from tests.testlib.live import test_database_env as database_env
from tests.testlib.sharing import (
    SHARE_ENV,
    channel,
    eventually,
    person,
    posts_of,
    share,
    share_node,
    shared_pair,
    wait_converged,
)

# How long the database stays away once the first refusal was seen (the figure is 30 s; CI keeps it short).
OUTAGE_S = float(os.environ.get("ISTHMUS_DB_OUTAGE_S", "1.5"))


def _app_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) >= {"id", "message", "status_code", "request_id"} and body["status_code"] == status
    return body


async def _count(node: Node, table: Any) -> int:
    async with node.server.domain.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _outbox_posts(node: Node, channel_id: str) -> set[str]:
    """The post ids the outbox holds for a channel (other kinds, a status or a profile, may come and go)."""
    q = select(sync_outbox.c.entity_id).where(sync_outbox.c.channel_id == channel_id,
                                              sync_outbox.c.kind == "post")
    async with node.server.domain.db.read() as conn:
        return set((await conn.execute(q)).scalars())


@contextmanager
def _sqlite_full(node: Node) -> Iterator[None]:
    """Every connection the server takes from its pool may not grow the file past its current size."""
    engine = node.server.domain.db.engine.sync_engine

    def cap(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA max_page_count = 1")  # clamps to the current page count
        cur.close()

    def uncap(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA max_page_count = 1073741823")
        cur.close()

    event.listen(engine, "checkout", cap)
    try:
        yield
    finally:
        event.remove(engine, "checkout", cap)
        event.listen(engine, "checkout", uncap)


async def _pg_full(node: Node, full: bool) -> None:
    async with node.server.domain.db.write() as conn:
        if full:
            await conn.execute(text(
                "CREATE FUNCTION isthmus_disk_full() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                "'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$ "
                "LANGUAGE plpgsql"))
            await conn.execute(text("CREATE TRIGGER isthmus_disk_full BEFORE INSERT ON posts FOR EACH ROW "
                                    "EXECUTE FUNCTION isthmus_disk_full()"))
        else:
            await conn.execute(text("DROP TRIGGER isthmus_disk_full ON posts"))
            await conn.execute(text("DROP FUNCTION isthmus_disk_full()"))


async def test_disk_full_while_writing_a_post_saves_nothing_and_says_so(cluster: Cluster) -> None:
    a, b, _ab, ch = await shared_pair(cluster)
    ann = await person(a, channel_id=ch)
    await ann.post(ch, "before the disk filled")
    before_posts, before_outbox = set(await posts_of(a, ch)), await _outbox_posts(a, ch)
    big = "x" * 16_000  # needs new pages whatever free space the last page has
    if a.server.domain.db.is_sqlite:
        with _sqlite_full(a):
            r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": big})
    else:
        await _pg_full(a, True)
        r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": big})
        await _pg_full(a, False)
    body = _app_error(r, 507)
    assert body["id"] == "api.context.disk_full.app_error" and "storage is full" in body["message"]
    # No post row and no outbox row for it (the outbox may gain rows of other kinds meanwhile: ann's profile)
    assert set(await posts_of(a, ch)) == before_posts and await _outbox_posts(a, ch) == before_outbox

    after = await ann.post(ch, big)  # space again: it works, and it syncs
    await eventually(lambda: _has(b, ch, after["id"]))
    await wait_converged([a, b], ch, min_posts=2)


async def test_disk_full_while_storing_a_file_leaves_no_half_blob(cluster: Cluster,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    a = await share_node(cluster, "alpha")
    ch = await channel(a)
    ann = await person(a, channel_id=ch)
    real_move = shutil.move

    def full_disk_copy(src: str, dst: Any) -> Any:  # a move across filesystems is a copy; the disk fills mid-way
        data = Path(src).read_bytes()
        Path(dst).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "move", full_disk_copy)
    r = await ann.http.post("/api/v4/files", data={"channel_id": ch},
                            files={"files": ("report.bin", b"r" * 300_000, "application/octet-stream")})
    body = _app_error(r, 507)
    assert "free some space" in body["message"]
    files_dir = Path(a.server.config_store.config.FileSettings.Directory)
    left = await asyncio.to_thread(lambda: [p for p in files_dir.rglob("*") if p.is_file()])
    assert left == [] and await _count(a, file_infos) == 0  # no half blob, no staged upload, no row

    monkeypatch.setattr(shutil, "move", real_move)
    info = await upload(ann, ch, "report.bin", b"r" * 300_000, "application/octet-stream")
    assert (await ann.http.get(f"/api/v4/files/{info['id']}")).content == b"r" * 300_000


async def test_database_gone_answers_503_then_sync_resumes(cluster: Cluster, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import isthmus.store.sqlite_inline as inline

    monkeypatch.setattr(inline, "BUSY_WAIT_S", 1.0)  # how long a write waits for a locked SQLite file
    db_env = await asyncio.to_thread(database_env, tmp_path / "beta-db")
    gate: TcpGate | None = None
    if db_env["MM_SQLSETTINGS_DRIVERNAME"] == "postgres":
        url = db_env["MM_SQLSETTINGS_DATASOURCE"]
        host_port = url.split("@", 1)[1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        gate = TcpGate(host, int(port or 5432)).start()
        db_env["MM_SQLSETTINGS_DATASOURCE"] = url.replace(host_port, f"127.0.0.1:{gate.port}")
    a = await share_node(cluster, "alpha")
    b = await cluster.add("beta", env={**SHARE_ENV, **db_env})
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann = await person(a, channel_id=ch)
    first = await ann.post(ch, "before the database went away")
    await eventually(lambda: _has(b, ch, first["id"]))

    holder: sqlite3.Connection | None = None
    if gate is not None:
        gate.shut()
    else:  # another process takes SQLite's write lock and keeps it
        holder = sqlite3.connect(db_env["MM_SQLSETTINGS_DATASOURCE"], isolation_level=None, timeout=5)
        holder.execute("BEGIN IMMEDIATE")
    try:
        r = await b.http.post("/api/v4/teams", json={"name": "outage", "display_name": "Outage", "type": "O"})
        body = _app_error(r, 503)
        assert body["id"] == "api.context.database_unavailable.app_error" and int(r.headers["Retry-After"]) > 0
        during = [(await ann.post(ch, f"while beta's database is away {i}"))["id"] for i in range(3)]
        await asyncio.sleep(OUTAGE_S)  # alpha's sender meets the outage and backs off meanwhile
    finally:
        if gate is not None:
            gate.open()
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    for post_id in during:
        await eventually(lambda p=post_id: _has(b, ch, p), within=30)  # type: ignore[misc]
    await wait_converged([a, b], ch, min_posts=4)
    # An outage is said in words, not as a traceback every ping round or websocket sweep.
    tracebacks = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]
    assert tracebacks == []
    if gate is not None:
        gate.stop()


async def _has(node: Node, channel_id: str, post_id: str) -> bool:
    return post_id in await posts_of(node, channel_id)
