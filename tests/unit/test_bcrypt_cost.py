"""ISTHMUS_BCRYPT_COST is a test-speed knob: below 10 it only applies with ISTHMUS_TESTING=1."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import bcrypt
import pytest

from isthmus.config import ConfigStore
from isthmus.domain.users import hash_password
from isthmus.server import Server, bcrypt_cost_from_env

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(("env", "cost"), [
    ({}, 10),
    ({"ISTHMUS_BCRYPT_COST": "4"}, 10),
    ({"ISTHMUS_BCRYPT_COST": "9", "ISTHMUS_TESTING": "0"}, 10),
    ({"ISTHMUS_BCRYPT_COST": "4", "ISTHMUS_TESTING": "1"}, 4),
    ({"ISTHMUS_BCRYPT_COST": "2", "ISTHMUS_TESTING": "1"}, 4),
    ({"ISTHMUS_BCRYPT_COST": "12"}, 12),
    ({"ISTHMUS_BCRYPT_COST": "99"}, 31),
    ({"ISTHMUS_BCRYPT_COST": "fast"}, 10),
    ({"ISTHMUS_BCRYPT_COST": ""}, 10),
])
def test_cost_from_environment(env: dict[str, str], cost: int) -> None:
    assert bcrypt_cost_from_env(env) == cost


def test_server_hashes_at_cost_10_without_the_testing_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISTHMUS_BCRYPT_COST", "4")
    monkeypatch.delenv("ISTHMUS_TESTING", raising=False)
    env = {"MM_SQLSETTINGS_DRIVERNAME": "sqlite", "MM_SQLSETTINGS_DATASOURCE": str(tmp_path / "x.db")}
    server = Server(ConfigStore(tmp_path / "config.json", environ=env))

    async def go() -> str:
        try:
            return await hash_password(server.domain, "correct horse")
        finally:
            await server.db.dispose()

    hashed = asyncio.run(go())
    assert server.domain.bcrypt_cost == 10
    assert hashed.startswith("$2b$10$") and bcrypt.checkpw(b"correct horse", hashed.encode())
    monkeypatch.setenv("ISTHMUS_TESTING", "1")
    assert bcrypt_cost_from_env(os.environ) == 4
