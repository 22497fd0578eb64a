"""Repository contracts on the configured database (SQLite, or PostgreSQL with ISTHMUS_TEST_POSTGRES_URL).

Each test gets a fresh database migrated to head, and talks to the repo functions directly: what
goes in comes back out with the same types (JSON columns as dicts, booleans as bools), filters and
orderings hold, deletes return what they removed. The same code must behave identically on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from isthmus.core.ids import new_id
from isthmus.store.engine import Database, sqlalchemy_url
from isthmus.store.migrate import alembic_config, upgrade
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import users as users_repo
from tests.testlib.live import test_database_env as database_env

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    # Synchronous: creating the PostgreSQL database runs its own event loop.
    env = database_env(tmp_path)
    return sqlalchemy_url(env["MM_SQLSETTINGS_DRIVERNAME"], env["MM_SQLSETTINGS_DATASOURCE"])


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


def user_row(name: str, *, create_at: int = 1000, **extra: Any) -> dict[str, Any]:
    return {"id": new_id(), "create_at": create_at, "update_at": create_at, "delete_at": 0, "username": name,
            "email": f"{name}@example.com", "password": "", "auth_service": "", "nickname": "",
            "first_name": "", "last_name": "", "position": "", "roles": "system_user", "locale": "en",
            "props": {"k": "v"}, "notify_props": {"push": "mention"}, "timezone": {},
            "last_password_update": 0, "last_picture_update": 0, "is_bot": False, "bot_description": "",
            "failed_attempts": 0, "remote_id": None, "remote_update_at": 0, **extra}


def session_row(user_id: str, token: str, create_at: int) -> dict[str, Any]:
    return {"id": new_id(), "token": token, "user_id": user_id, "create_at": create_at,
            "expires_at": create_at + 10_000, "last_activity_at": create_at, "device_id": "",
            "roles": "system_user", "is_oauth": False, "props": {"csrf": "x"}}


async def schema_state(db: Database) -> tuple[set[str], list[str]]:
    async with db.read() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        versions = list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    return tables, versions


async def test_upgrade_to_head_twice_is_idempotent(db_url: str) -> None:
    database = Database(db_url)
    try:
        await upgrade(database)
        tables, versions = await schema_state(database)
        assert versions == [HEAD]
        assert {"users", "sessions", "channels", "channel_members", "posts", "reactions"} <= tables
        row = user_row("keepme")
        async with database.write() as conn:
            await users_repo.insert_user(conn, row)
        await upgrade(database)  # nothing pending: no error, no change
        assert await schema_state(database) == (tables, [HEAD])
        async with database.read() as conn:
            assert (await users_repo.select_user(conn, row["id"])) == row
    finally:
        await database.dispose()


async def test_users_round_trip_and_filters(db: Database) -> None:
    carol = user_row("carol", create_at=3000, first_name="Carol", props={"a": {"nested": [1, 2]}})
    alice = user_row("alice", create_at=2000, nickname="Percent%Sign")
    bob = user_row("bob", create_at=1000, delete_at=5, roles="system_admin system_user", is_bot=True)
    async with db.write() as conn:
        for row in (carol, alice, bob):
            await users_repo.insert_user(conn, row)
    async with db.read() as conn:
        assert await users_repo.select_user(conn, carol["id"]) == carol  # JSON and bool types survive
        assert (await users_repo.select_user_by(conn, username="alice"))["id"] == alice["id"]  # type: ignore[index]
        assert (await users_repo.select_user_by(conn, email="bob@example.com"))["id"] == bob["id"]  # type: ignore[index]
        assert await users_repo.select_user_by(conn, username="nobody") is None
        assert await users_repo.count_users(conn) == 3
        by_ids = await users_repo.select_users_by_ids(conn, [bob["id"], carol["id"], new_id()])
        assert {r["id"] for r in by_ids} == {bob["id"], carol["id"]}
        assert await users_repo.select_users_by_ids(conn, []) == []

        async def names(**filters: Any) -> list[str]:
            rows = await users_repo.select_users(conn, offset=filters.pop("offset", 0),
                                                 limit=filters.pop("limit", 100), **filters)
            return [r["username"] for r in rows]

        assert await names() == ["alice", "bob", "carol"]
        assert await names(sort_by_username=False) == ["bob", "alice", "carol"]
        assert await names(active=True) == ["alice", "carol"]
        assert await names(active=False) == ["bob"]
        assert await names(role="system_admin") == ["bob"]
        assert await names(term="CAR") == ["carol"]
        assert await names(term="%") == ["alice"]  # LIKE wildcards in a term are literal
        assert await names(offset=1, limit=1) == ["bob"]
    async with db.write() as conn:
        assert await users_repo.update_user(conn, alice["id"], {"nickname": "ally", "update_at": 9}) == 1
    with pytest.raises(IntegrityError):
        async with db.write() as conn:  # usernames are unique; the failed write rolls back
            await users_repo.insert_user(conn, user_row("alice"))
    async with db.read() as conn:
        assert (await users_repo.select_user(conn, alice["id"]))["nickname"] == "ally"  # type: ignore[index]
        assert await users_repo.count_users(conn) == 3


async def test_sessions_round_trip_and_delete(db: Database) -> None:
    u, v = user_row("sess1"), user_row("sess2")
    s1, s2, s3 = session_row(u["id"], "a" * 26, 100), session_row(u["id"], "b" * 26, 200), \
        session_row(v["id"], "c" * 26, 300)
    async with db.write() as conn:
        for row in (u, v):
            await users_repo.insert_user(conn, row)
        for row in (s1, s2, s3):
            await users_repo.insert_session(conn, row)
    async with db.read() as conn:
        assert await users_repo.select_session_by_token(conn, "b" * 26) == s2
        assert await users_repo.select_session_by_token(conn, "z" * 26) is None
        assert [s["id"] for s in await users_repo.select_sessions_for_user(conn, u["id"])] == [s2["id"], s1["id"]]
    async with db.write() as conn:
        await users_repo.update_session_roles(conn, u["id"], "system_admin system_user")
        assert await users_repo.delete_session(conn, s1["id"]) == ["a" * 26]
        assert await users_repo.delete_session(conn, s1["id"]) == []
    async with db.read() as conn:
        assert [s["roles"] for s in await users_repo.select_sessions_for_user(conn, u["id"])] == \
            ["system_admin system_user"]
    async with db.write() as conn:
        assert await users_repo.delete_sessions_for_user(conn, u["id"]) == ["b" * 26]
    async with db.read() as conn:
        assert await users_repo.select_sessions_for_user(conn, u["id"]) == []
        assert await users_repo.select_session_by_token(conn, "c" * 26) == s3


async def test_channel_members_round_trip(db: Database) -> None:
    people = [user_row(f"mem{i}") for i in range(3)]
    channel = {"id": new_id(), "create_at": 1, "update_at": 1, "delete_at": 0, "team_id": new_id(), "type": "P",
               "display_name": "Room", "name": "room", "header": "", "purpose": "", "last_post_at": 0,
               "last_root_post_at": 0, "total_msg_count": 0, "total_msg_count_root": 0, "creator_id": "",
               "scheme_id": None, "group_constrained": False, "shared": False, "props": {}}
    async with db.write() as conn:
        for row in people:
            await users_repo.insert_user(conn, row)
        await channels_repo.insert_channel(conn, channel)
        for i, p in enumerate(people[:2]):
            await channels_repo.insert_channel_member(conn, {
                "channel_id": channel["id"], "user_id": p["id"], "roles": "channel_user",
                "notify_props": {"desktop": "all"}, "msg_count": i, "scheme_admin": i == 0})
    async with db.read() as conn:
        assert await channels_repo.count_channel_members(conn, channel["id"]) == 2
        listed = await channels_repo.select_channel_members(conn, channel["id"], offset=0, limit=10)
        assert [m["user_id"] for m in listed] == sorted(p["id"] for p in people[:2])
        first = await access_repo.select_channel_member(conn, channel["id"], people[0]["id"])
        assert first is not None
        assert (first["notify_props"], first["scheme_admin"], first["mention_count"]) == ({"desktop": "all"}, True, 0)
        assert await access_repo.select_channel_member(conn, channel["id"], people[2]["id"]) is None
        in_channel = await users_repo.select_users(conn, offset=0, limit=10, in_channel=channel["id"])
        assert {r["id"] for r in in_channel} == {p["id"] for p in people[:2]}
        outside = await users_repo.select_users(conn, offset=0, limit=10, not_in_channel=channel["id"])
        assert [r["id"] for r in outside] == [people[2]["id"]]
    async with db.write() as conn:
        await channels_repo.update_channel_member(conn, channel["id"], people[1]["id"], {"mention_count": 4})
        assert await channels_repo.delete_channel_member(conn, channel["id"], people[0]["id"]) == 1
        assert await channels_repo.delete_channel_member(conn, channel["id"], people[0]["id"]) == 0
    async with db.read() as conn:
        rest = await channels_repo.select_channel_members(conn, channel["id"], offset=0, limit=10)
        assert [(m["user_id"], m["mention_count"]) for m in rest] == [(people[1]["id"], 4)]
    async with db.write() as conn:
        assert await channels_repo.purge_channel(conn, channel["id"]) == []
    async with db.read() as conn:
        assert await channels_repo.count_channel_members(conn, channel["id"]) == 0
        assert await access_repo.select_channel(conn, channel["id"]) is None
