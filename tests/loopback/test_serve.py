"""The operator contract of ``isthmus serve`` and ``isthmus user create``, tested on real processes.

Each test starts ``python -m isthmus serve`` (or the installed entry point, or scripts/serve) as a
subprocess configured only through ``--config``/``MM_*`` environment, exactly as operators and
other people's scripts will.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.common import ServerProcess
from mattermostautodriver import TypedDriver
from mattermostautodriver.exceptions import NoAccessTokenProvided

from isthmus.store.engine import Database, sqlalchemy_url
from isthmus.store.migrate import alembic_config, upgrade
from tests.loopback.conftest import SpawnServer
from tests.testlib.clients import PASSWORD, unique

pytestmark = pytest.mark.loopback

REPO = Path(__file__).resolve().parents[2]


def mm_driver(srv: ServerProcess, login_id: str, password: str = PASSWORD) -> TypedDriver:
    d = TypedDriver({"url": "127.0.0.1", "port": srv.port, "scheme": "http", "max_retries": 0,
                     "login_id": login_id, "password": password})
    d.login()
    return d


def api_signup(srv: ServerProcess, username: str) -> dict[str, Any]:
    r = httpx.post(f"{srv.url}/api/v4/users", json={"username": username, "email": f"{username}@example.com",
                                                    "password": PASSWORD}, timeout=30)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def db_revision(srv: ServerProcess) -> str | None:
    """The Alembic revision recorded in the server's database (None before any migration)."""
    from sqlalchemy import inspect, text

    async def read() -> str | None:
        db = Database(sqlalchemy_url(srv.env["MM_SQLSETTINGS_DRIVERNAME"], srv.env["MM_SQLSETTINGS_DATASOURCE"]))
        try:
            async with db.read() as conn:
                tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
                if "alembic_version" not in tables:
                    return None
                return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        finally:
            await db.dispose()

    return asyncio.run(read())


def migrate_db_to(srv: ServerProcess, revision: str) -> None:
    async def go() -> None:
        db = Database(sqlalchemy_url(srv.env["MM_SQLSETTINGS_DRIVERNAME"], srv.env["MM_SQLSETTINGS_DATASOURCE"]))
        try:
            await upgrade(db, revision)
        finally:
            await db.dispose()

    asyncio.run(go())


# -- serve: ready line, ping, SIGTERM --------------------------------------------------------------


@pytest.mark.parametrize("form", [":{port}", "127.0.0.1:{port}"])
def test_serve_logs_one_ready_line_answers_ping_and_stops_on_sigterm(spawn: SpawnServer, form: str) -> None:
    srv = spawn()
    srv.env["MM_SERVICESETTINGS_LISTENADDRESS"] = form.format(port=srv.port)
    srv.start()
    # The ready line is the contract: from the moment it is logged, ping answers 200.
    r = httpx.get(f"{srv.url}/api/v4/system/ping", timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json()["status"] == "OK"
    for _ in range(20):
        assert srv.ping() == 200
    [line] = srv.ready_lines()
    assert str(srv.port) in line
    assert srv.url in line  # SiteURL printed
    assert srv.stop() == 0
    assert len(srv.ready_lines()) == 1
    assert srv.ping() == 0  # nothing listens any more
    assert "Traceback" not in srv.log()


def test_sigterm_while_clients_are_connected_still_exits_cleanly(spawn: SpawnServer) -> None:
    srv = spawn().start()
    user = api_signup(srv, unique("ka"))
    keepalive = httpx.Client(base_url=srv.url, timeout=5)  # an idle keep-alive connection stays open
    assert keepalive.get(f"/api/v4/users/{user['id']}").status_code == 401
    assert srv.stop() == 0
    keepalive.close()
    assert "Traceback" not in srv.log()


def test_bad_config_fails_fast_with_a_clear_message(spawn: SpawnServer) -> None:
    srv = spawn(env={"MM_SERVICESETTINGS_LISTENADDRESS": "not-an-address"})
    with pytest.raises(RuntimeError, match="exited"):
        srv.start(timeout=30)
    assert srv.returncode not in (0, None)
    assert "ListenAddress" in srv.log()
    assert "Traceback" not in srv.log()


# -- configuration from the environment -----------------------------------------------------------


def test_environment_overrides_are_effective_and_visible_to_admins(spawn: SpawnServer) -> None:
    srv = spawn(env={"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true",
                     "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true"}).start()
    admin = api_signup(srv, unique("adm"))
    d = mm_driver(srv, admin["username"])
    cfg = d.system.get_config()
    assert cfg["ServiceSettings"]["SiteURL"] == srv.url
    assert cfg["ServiceSettings"]["ListenAddress"] == f"127.0.0.1:{srv.port}"
    assert cfg["SqlSettings"]["DriverName"] == srv.env["MM_SQLSETTINGS_DRIVERNAME"]
    assert db_revision(srv) is not None  # the server migrated the database MM_SQLSETTINGS_DATASOURCE names
    assert cfg["FileSettings"]["Directory"] == srv.env["MM_FILESETTINGS_DIRECTORY"]
    assert cfg["ConnectedWorkspacesSettings"]["EnableRemoteClusterService"] is True
    assert cfg["ConnectedWorkspacesSettings"]["EnableSharedChannels"] is True
    # As in Mattermost, environment overrides are never written back into config.json.
    saved = json.loads(srv.config.read_text())
    assert saved["ConnectedWorkspacesSettings"]["EnableRemoteClusterService"] is False
    assert saved["ServiceSettings"]["SiteURL"] != srv.url


def test_without_overrides_connected_workspaces_are_off(spawn: SpawnServer) -> None:
    srv = spawn().start()
    admin = api_signup(srv, unique("adm"))
    cfg = mm_driver(srv, admin["username"]).system.get_config()
    assert cfg["ConnectedWorkspacesSettings"]["EnableRemoteClusterService"] is False
    assert cfg["ConnectedWorkspacesSettings"]["EnableSharedChannels"] is False
    assert cfg["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 50


def test_config_file_settings_apply_when_not_overridden(spawn: SpawnServer) -> None:
    srv = spawn()
    srv.config.write_text(json.dumps({"TeamSettings": {"SiteName": "FromFile"},
                                      "ConnectedWorkspacesSettings": {"EnableSharedChannels": True}}))
    srv.start()
    admin = api_signup(srv, unique("adm"))
    cfg = mm_driver(srv, admin["username"]).system.get_config()
    assert cfg["TeamSettings"]["SiteName"] == "FromFile"
    assert cfg["ConnectedWorkspacesSettings"]["EnableSharedChannels"] is True


# -- migrations ---------------------------------------------------------------------------------


def test_serve_applies_pending_migrations(spawn: SpawnServer) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    base, head = script.get_base(), script.get_current_head()
    srv = spawn()
    migrate_db_to(srv, str(base))  # a database left behind by an older release
    assert db_revision(srv) == base
    srv.start()
    assert db_revision(srv) == head
    # The schema at head works: an account can be created and used.
    admin = api_signup(srv, unique("mig"))
    assert mm_driver(srv, admin["username"]).users.get_user("me")["id"] == admin["id"]
    # A restart with nothing pending is a no-op and still becomes ready.
    assert srv.stop() == 0
    srv.start()
    assert db_revision(srv) == head
    assert srv.ping() == 200


# -- first account, user create --------------------------------------------------------------------


def test_first_account_created_through_the_api_is_system_admin(spawn: SpawnServer) -> None:
    srv = spawn().start()
    first = api_signup(srv, unique("first"))
    second = api_signup(srv, unique("second"))
    assert "system_admin" in first["roles"].split()
    assert second["roles"] == "system_user"
    me = mm_driver(srv, first["username"]).users.get_user("me")
    assert "system_admin" in me["roles"].split()


def test_user_create_without_a_running_server_then_login(spawn: SpawnServer) -> None:
    srv = spawn()
    name = unique("cli")
    out = srv.cli("user", "create", "--username", name, "--email", f"{name}@example.com",
                  "--password", PASSWORD, "--system-admin")
    assert out.returncode == 0, out.stderr
    assert name in out.stdout
    srv.start()
    d = mm_driver(srv, name)
    me = d.users.get_user("me")
    assert me["username"] == name
    assert set(me["roles"].split()) == {"system_admin", "system_user"}
    # The CLI-made admin can administer the running server.
    assert d.system.get_config()["ServiceSettings"]["SiteURL"] == srv.url


def test_user_create_while_the_server_runs_then_login(spawn: SpawnServer) -> None:
    srv = spawn().start()
    api_signup(srv, unique("first"))  # takes the "first account is admin" slot
    name = unique("cli")
    out = srv.cli("user", "create", "--username", name, "--email", f"{name}@example.com", "--password", PASSWORD)
    assert out.returncode == 0, out.stderr
    me = mm_driver(srv, name).users.get_user("me")
    assert me["username"] == name
    assert me["roles"] == "system_user"
    with pytest.raises(NoAccessTokenProvided):
        mm_driver(srv, name, "not-the-password")
    # Same username again: refused with a clear error, not a traceback, and nothing changes.
    again = srv.cli("user", "create", "--username", name, "--email", f"x{name}@example.com", "--password", PASSWORD)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    listed = srv.cli("user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [u["username"] for u in json.loads(listed.stdout)].count(name) == 1


# -- packaging -------------------------------------------------------------------------------------


def test_pip_installed_command_and_module_serve(spawn: SpawnServer, tmp_path: Path) -> None:
    """``pip install .`` into a fresh venv gives a working ``isthmus`` command and ``python -m isthmus``."""
    pkg = tmp_path / "pkg"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", pkg / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, pkg / name)
    venv = tmp_path / "venv"
    # No pip inside (ensurepip is slow): the test venv's pip installs into it with --python.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # Runtime dependencies come from the test venv (a path entry, so its editable isthmus install is
    # not picked up); isthmus itself is built and installed from the copy, like a user's pip install.
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", purelib],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_isthmus_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q",
                          "--no-deps", "--disable-pip-version-check", str(pkg)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr
    where = subprocess.run([str(venv / "bin/python"), "-c", "import isthmus; print(isthmus.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(venv)), where
    helped = subprocess.run([str(venv / "bin/isthmus"), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    assert "serve" in helped.stdout and "user" in helped.stdout

    srv = spawn(command=[str(venv / "bin/isthmus"), "serve"]).start()
    assert srv.ping() == 200
    # Migrations ship inside the installed package: the schema works.
    first = api_signup(srv, unique("pip"))
    assert "system_admin" in first["roles"].split()
    # `python -m isthmus` of the same install, same config and environment, while the server runs.
    name = unique("mod")
    made = subprocess.run([str(venv / "bin/python"), "-m", "isthmus", "user", "create", "--username", name,
                           "--email", f"{name}@example.com", "--password", PASSWORD, "--config", str(srv.config)],
                          env=srv.env, cwd=srv.data_dir, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert mm_driver(srv, name).users.get_user("me")["username"] == name
    assert srv.stop() == 0


# -- scripts/serve ---------------------------------------------------------------------------------


def test_scripts_serve_creates_the_admin_once(spawn: SpawnServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    # scripts/serve keeps everything in ISTHMUS_DATA_DIR (SQLite, whatever the test backend is).
    srv = spawn(command=["bash", str(REPO / "scripts/serve")], config_arg=False,
                env={"ISTHMUS_DATA_DIR": str(data), "MM_SQLSETTINGS_DRIVERNAME": "",
                     "MM_SQLSETTINGS_DATASOURCE": "", "MM_FILESETTINGS_DIRECTORY": ""})
    srv.start(timeout=300)  # the first run may install into .venv
    first_log = srv.log()
    pw_lines = [line for line in first_log.splitlines() if line.strip().startswith("password:")]
    assert len(pw_lines) == 1, first_log
    password = pw_lines[0].split(":", 1)[1].strip()
    assert len(password) >= 16
    me = mm_driver(srv, "admin", password).users.get_user("me")
    assert set(me["roles"].split()) == {"system_admin", "system_user"}
    assert (data / "config.json").exists() and (data / "isthmus.db").exists()
    assert srv.stop() == 0

    srv.start(timeout=120)
    assert "password:" not in srv.log()
    assert "created user" not in srv.log()
    assert len(srv.ready_lines()) == 1
    assert mm_driver(srv, "admin", password).users.get_user("me")["username"] == "admin"
    listed = subprocess.run([sys.executable, "-m", "isthmus", "user", "list", "--json",
                             "--config", str(data / "config.json")],
                            capture_output=True, text=True, env=srv.env, cwd=tmp_path, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [u["username"] for u in json.loads(listed.stdout)] == ["admin"]
    assert srv.stop() == 0
