"""Roles and permissions through mattermostautodriver (``roles.*``) and raw HTTP for bad input.

Tests that change a built-in role restore it in a ``finally`` so the shared server stays default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from mattermostautodriver.exceptions import (
    InvalidOrMissingParameters,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)

from tests.testlib.clients import Person, driver
from tests.testlib.live import LiveServer

BUILT_IN = {"system_admin", "system_user", "system_guest", "team_admin", "team_user", "team_guest",
            "channel_admin", "channel_user", "channel_guest"}


@contextmanager
def role_restored(admin: Person, name: str) -> Iterator[dict[str, object]]:
    """Yield the role and put its permissions back afterwards, whatever the test did."""
    role = admin.driver.roles.get_role_by_name(name)
    try:
        yield role
    finally:
        admin.driver.roles.patch_role(role["id"], permissions=role["permissions"])
        assert admin.driver.roles.get_role_by_name(name)["permissions"] == role["permissions"]


def test_all_built_in_roles_listed(user: Person) -> None:
    found = user.driver.roles.get_all_roles()
    names = {r["name"] for r in found}
    assert BUILT_IN <= names
    for r in found:
        assert len(r["id"]) == 26
        assert isinstance(r["permissions"], list)
        assert r["built_in"] is True


def test_get_by_id_and_by_name_agree(user: Person) -> None:
    by_name = user.driver.roles.get_role_by_name("team_admin")
    by_id = user.driver.roles.get_role(by_name["id"])
    assert by_id == by_name
    assert "manage_team" in by_id["permissions"]


def test_get_by_names_returns_only_known(user: Person) -> None:
    found = user.driver.roles.get_roles_by_names(["system_user", "channel_user", "no_such_role", "system_user"])
    assert sorted(r["name"] for r in found) == ["channel_user", "system_user"]


def test_admins_hold_connected_workspace_permissions_users_do_not(user: Person) -> None:
    admin_role = user.driver.roles.get_role_by_name("system_admin")
    user_role = user.driver.roles.get_role_by_name("system_user")
    for perm in ("manage_secure_connections", "manage_shared_channels", "manage_system", "manage_roles"):
        assert perm in admin_role["permissions"]
        assert perm not in user_role["permissions"]


def test_unknown_role_is_404(user: Person) -> None:
    with pytest.raises(ResourceNotFound):
        user.driver.roles.get_role_by_name("no_such_role")
    with pytest.raises(ResourceNotFound):
        user.driver.roles.get_role("a" * 26)


def test_invalid_role_id_and_name_are_400(user: Person) -> None:
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.roles.get_role("not-an-id")
    r = user.http.get("/api/v4/roles/name/Bad%20Name")
    assert r.status_code == 400
    assert r.json()["id"] == "api.context.invalid_url_param.app_error"


def test_roles_need_a_session(live: LiveServer) -> None:
    r = httpx.get(f"{live.url}/api/v4/roles/name/system_user")
    assert r.status_code == 401
    assert r.json()["id"] == "api.context.session_expired.app_error"


def test_plain_user_cannot_patch_roles(admin: Person, user: Person) -> None:
    role = user.driver.roles.get_role_by_name("system_user")
    with pytest.raises(NotEnoughPermissions):
        user.driver.roles.patch_role(role["id"], permissions=[*role["permissions"], "manage_system"])
    assert admin.driver.roles.get_role_by_name("system_user")["permissions"] == role["permissions"]


def test_unknown_permission_is_400_and_changes_nothing(admin: Person) -> None:
    role = admin.driver.roles.get_role_by_name("system_user")
    with pytest.raises(InvalidOrMissingParameters):
        admin.driver.roles.patch_role(role["id"], permissions=[*role["permissions"], "fly_to_the_moon"])
    assert admin.driver.roles.get_role_by_name("system_user") == role


def test_patch_body_must_hold_a_list_of_strings(admin: Person) -> None:
    role_id = admin.driver.roles.get_role_by_name("system_user")["id"]
    for body in ({"permissions": "manage_system"}, {"permissions": [1, 2]}, {"permissions": {"a": 1}}, [1]):
        r = admin.http.put(f"/api/v4/roles/{role_id}/patch", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["id"] == "api.context.invalid_body_param.app_error"


def test_patch_unknown_role_is_404(admin: Person) -> None:
    with pytest.raises(ResourceNotFound):
        admin.driver.roles.patch_role("b" * 26, permissions=["create_team"])


def test_system_admin_must_keep_manage_roles(admin: Person) -> None:
    role = admin.driver.roles.get_role_by_name("system_admin")
    with pytest.raises(InvalidOrMissingParameters):
        admin.driver.roles.patch_role(role["id"], permissions=["manage_system"])
    assert admin.driver.roles.get_role_by_name("system_admin")["permissions"] == role["permissions"]


def test_grant_secure_connections_to_system_user(admin: Person, user: Person) -> None:
    with role_restored(admin, "system_user") as role:
        patched = admin.driver.roles.patch_role(
            role["id"], permissions=[*role["permissions"], "manage_secure_connections"])
        assert "manage_secure_connections" in patched["permissions"]
        assert patched["update_at"] >= role["update_at"]
        me = user.driver.users.get_user("me")
        assert me["roles"] == "system_user"
        held = user.driver.roles.get_roles_by_names(me["roles"].split())
        assert any("manage_secure_connections" in r["permissions"] for r in held)
        assert "manage_shared_channels" not in user.driver.roles.get_role_by_name("system_user")["permissions"]
    assert "manage_secure_connections" not in user.driver.roles.get_role_by_name("system_user")["permissions"]


def test_grant_takes_effect_for_existing_sessions(live: LiveServer, admin: Person, user: Person) -> None:
    """A permission granted to system_user is honoured at once by a real permission-gated route."""
    session_before = driver(live, user.username)  # logged in before the change
    with pytest.raises(NotEnoughPermissions):
        session_before.system.get_config()
    with role_restored(admin, "system_user") as role:
        admin.driver.roles.patch_role(role["id"], permissions=[*role["permissions"], "manage_system"])
        cfg = session_before.system.get_config()
        assert "ConnectedWorkspacesSettings" in cfg
        assert user.driver.system.get_config()["ServiceSettings"]["SiteURL"] == live.url
        # Revoke: the very next request is refused again.
        admin.driver.roles.patch_role(role["id"], permissions=role["permissions"])
        with pytest.raises(NotEnoughPermissions):
            session_before.system.get_config()
    with pytest.raises(NotEnoughPermissions):
        user.driver.system.get_config()


def test_patch_route_accepts_http_patch_method(admin: Person) -> None:
    role = admin.driver.roles.get_role_by_name("channel_user")
    r = admin.http.patch(f"/api/v4/roles/{role['id']}/patch", json={"permissions": role["permissions"]})
    assert r.status_code == 200
    assert r.json()["permissions"] == role["permissions"]


def test_patch_without_permissions_changes_nothing(admin: Person) -> None:
    role = admin.driver.roles.get_role_by_name("team_user")
    r = admin.http.put(f"/api/v4/roles/{role['id']}/patch", json={})
    assert r.status_code == 200
    assert r.json()["permissions"] == role["permissions"]


def test_logged_out_driver_gets_401(live: LiveServer, user: Person) -> None:
    d = driver(live, user.username)
    d.users.logout()
    with pytest.raises(NoAccessTokenProvided):
        d.roles.get_all_roles()
