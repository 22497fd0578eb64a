"""GET/PUT /config and /config/patch (admins only, all-or-nothing) and the unauthenticated client config.

Every test that changes the shared server's config puts the previous one back in a ``finally``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NoAccessTokenProvided, NotEnoughPermissions

from isthmus.config import FAKE_SETTING
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


@contextmanager
def config_restored(live: LiveServer, admin: Person) -> Iterator[dict[str, Any]]:
    before = admin.driver.system.get_config()
    try:
        yield before
    finally:
        admin.driver.system.update_config(before)
        assert admin.driver.system.get_config() == before


def file_doc(live: LiveServer) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((live.data_dir / "config.json").read_text())
    return doc


def assert_app_error(r: httpx.Response, status: int, error_id: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert {"id", "message", "detailed_error", "request_id", "status_code"} <= set(body)
    assert body["status_code"] == status
    if error_id:
        assert body["id"] == error_id
    return body


def test_admin_reads_config_in_mattermost_shape(live: LiveServer, admin: Person) -> None:
    cfg = admin.driver.system.get_config()
    assert cfg["ServiceSettings"]["SiteURL"] == live.url
    assert cfg["SqlSettings"]["DriverName"] in ("sqlite", "postgres")
    assert cfg["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 50
    assert set(cfg["FeatureFlags"]) >= {"EnableSharedChannelsDMs", "EnableSharedChannelsPlugins",
                                        "EnableSyncAllUsersForRemoteCluster", "EnableSharedChannelsMemberSync"}


def test_database_source_is_masked(admin: Person, live: LiveServer) -> None:
    cfg = admin.driver.system.get_config()
    assert cfg["SqlSettings"]["DataSource"] == FAKE_SETTING
    assert live.env["MM_SQLSETTINGS_DATASOURCE"] not in json.dumps(cfg)


def test_plain_user_gets_403(user: Person) -> None:
    with pytest.raises(NotEnoughPermissions):
        user.driver.system.get_config()
    with pytest.raises(NotEnoughPermissions):
        user.driver.system.patch_config({"TeamSettings": {"SiteName": "pwned"}})
    r = user.http.put("/api/v4/config", json={})
    assert_app_error(r, 403, "api.context.permissions.app_error")


def test_no_token_gets_401(live: LiveServer, admin: Person) -> None:
    before = file_doc(live)
    for method, path in (("GET", "/api/v4/config"), ("PUT", "/api/v4/config"), ("PUT", "/api/v4/config/patch")):
        r = httpx.request(method, f"{live.url}{path}", json={"TeamSettings": {"SiteName": "anon"}})
        assert_app_error(r, 401, "api.context.session_expired.app_error")
    assert file_doc(live) == before


def test_patch_applies_persists_and_shows_in_client_config(live: LiveServer, admin: Person) -> None:
    with config_restored(live, admin) as before:
        name = "Patched" if before["TeamSettings"]["SiteName"] != "Patched" else "Patched2"
        out = admin.driver.system.patch_config({"TeamSettings": {"SiteName": name},
                                                "ConnectedWorkspacesSettings": {"MaxPostsPerSync": 7}})
        assert out["TeamSettings"]["SiteName"] == name
        assert out["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 7
        # Siblings untouched by the partial document keep their values.
        assert out["TeamSettings"]["MaxUsersPerTeam"] == before["TeamSettings"]["MaxUsersPerTeam"]
        assert out["ConnectedWorkspacesSettings"]["MemberSyncBatchSize"] == \
            before["ConnectedWorkspacesSettings"]["MemberSyncBatchSize"]
        assert admin.driver.system.get_config() == out
        saved = file_doc(live)
        assert saved["TeamSettings"]["SiteName"] == name
        assert saved["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 7
        client = httpx.get(f"{live.url}/api/v4/config/client", params={"format": "old"}).json()
        assert client["SiteName"] == name
    assert file_doc(live)["TeamSettings"]["SiteName"] == before["TeamSettings"]["SiteName"]


def test_put_round_trip_keeps_secrets_and_environment_out_of_the_file(live: LiveServer, admin: Person) -> None:
    with config_restored(live, admin) as before:
        doc = json.loads(json.dumps(before))
        doc["FeatureFlags"]["EnableSharedChannelsMemberSync"] = not before["FeatureFlags"][
            "EnableSharedChannelsMemberSync"]
        doc["ServiceSettings"]["SiteURL"] = "http://elsewhere.example"  # fixed by MM_SERVICESETTINGS_SITEURL
        out = admin.driver.system.update_config(doc)
        assert out["FeatureFlags"]["EnableSharedChannelsMemberSync"] is doc["FeatureFlags"][
            "EnableSharedChannelsMemberSync"]
        assert out["ServiceSettings"]["SiteURL"] == live.url  # the environment still wins
        saved = file_doc(live)
        assert saved["SqlSettings"]["DataSource"] != FAKE_SETTING
        assert saved["ServiceSettings"]["SiteURL"] != live.url  # env values are never written back
        # The server still works on its real database after the round trip.
        assert admin.driver.users.get_user("me")["username"] == admin.username


@pytest.mark.parametrize("patch", [
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": 0}},
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": "50"}},
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": -1}},
    {"ConnectedWorkspacesSettings": {"EnableSharedChannels": "true"}},
    {"ConnectedWorkspacesSettings": {"EnableRemoteClusterService": 1}},
    {"ServiceSettings": {"SiteURL": "not a url"}},
    {"ServiceSettings": {"SiteURL": "ftp://example.com"}},
    {"ServiceSettings": {"ListenAddress": "8065:"}},
    {"ServiceSettings": {"ListenAddress": ":99999"}},
    {"SqlSettings": {"DriverName": "mysql"}},
    {"TeamSettings": {"SiteName": "x" * 31}},
    {"TeamSettings": "yes"},
    {"FeatureFlags": None},
])
def test_invalid_values_are_400_and_nothing_is_applied(live: LiveServer, admin: Person,
                                                       patch: dict[str, Any]) -> None:
    before, before_file = admin.driver.system.get_config(), (live.data_dir / "config.json").read_bytes()
    # A valid change rides along in the same document: it must not be applied either.
    bad_patch = {**patch, "LogSettings": {"ConsoleLevel": "DEBUG"}}
    full = json.loads(json.dumps(before))
    for section, values in patch.items():
        full[section] = {**full[section], **values} if isinstance(values, dict) else values
    full["LogSettings"]["ConsoleLevel"] = "DEBUG"
    for path, body in (("/api/v4/config/patch", bad_patch), ("/api/v4/config", full)):
        r = admin.http.put(path, json=body)
        err = assert_app_error(r, 400, "model.config.is_valid.app_error")
        assert err["detailed_error"], "the reason names the setting"
    if None not in patch.values():  # the driver drops top-level None values before sending
        with pytest.raises(InvalidOrMissingParameters):
            admin.driver.system.patch_config(bad_patch)
    assert admin.driver.system.get_config() == before
    assert (live.data_dir / "config.json").read_bytes() == before_file


@pytest.mark.parametrize("raw", [b"[]", b'"config"', b"5", b"null", b"{", b'{"ServiceSettings": ', b"", b"\xff\xfe"])
def test_non_object_or_malformed_body_is_400(live: LiveServer, admin: Person, raw: bytes) -> None:
    before_file = (live.data_dir / "config.json").read_bytes()
    for path in ("/api/v4/config", "/api/v4/config/patch"):
        r = admin.http.put(path, content=raw, headers={"Content-Type": "application/json"})
        assert_app_error(r, 400, "api.context.invalid_body_param.app_error")
    assert (live.data_dir / "config.json").read_bytes() == before_file


def test_detailed_error_names_the_bad_setting(admin: Person) -> None:
    r = admin.http.put("/api/v4/config/patch", json={"ConnectedWorkspacesSettings": {"MaxPostsPerSync": 0}})
    body = assert_app_error(r, 400)
    assert "MaxPostsPerSync" in body["detailed_error"]


def test_client_config_needs_no_auth(live: LiveServer) -> None:
    r = httpx.get(f"{live.url}/api/v4/config/client", params={"format": "old"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert all(isinstance(v, str) for v in body.values())
    assert body["SiteURL"] == live.url
    assert body["Version"]
    assert body["ExperimentalSharedChannels"] in ("true", "false")
    assert body["ExperimentalRemoteClusterService"] in ("true", "false")


def test_client_config_through_the_driver(user: Person, live: LiveServer) -> None:
    assert user.driver.system.get_client_config()["SiteURL"] == live.url


def test_logged_out_admin_cannot_read_config(live: LiveServer, admin: Person) -> None:
    from tests.testlib.clients import driver

    d = driver(live, admin.username)
    d.users.logout()
    with pytest.raises(NoAccessTokenProvided):
        d.system.get_config()
