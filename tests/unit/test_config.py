"""ConfigStore on a temporary file with a fake environment: defaults, MM_* overrides, validation, saving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from isthmus.config import FAKE_SETTING, Config, ConfigError, ConfigStore, env_overrides

pytestmark = pytest.mark.nodb


def read(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_missing_file_is_created_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.json"
    store = ConfigStore(path, environ={})
    assert path.exists()
    assert read(path) == Config().model_dump()
    cw = store.config.ConnectedWorkspacesSettings
    assert cw.MaxPostsPerSync == 50
    assert cw.EnableRemoteClusterService is False
    assert store.config.SqlSettings.DriverName == "sqlite"
    assert store.config.ServiceSettings.ListenAddress == ":8065"


def test_required_sections_and_flags_exist() -> None:
    doc = Config().model_dump()
    assert set(doc["ConnectedWorkspacesSettings"]) >= {
        "EnableRemoteClusterService", "EnableSharedChannels", "DisableSharedChannelsStatusSync", "MaxPostsPerSync",
        "SyncUsersOnConnectionOpen", "GlobalUserSyncBatchSize", "MemberSyncBatchSize"}
    assert set(doc["FeatureFlags"]) >= {"EnableSharedChannelsDMs", "EnableSharedChannelsPlugins",
                                        "EnableSyncAllUsersForRemoteCluster", "EnableSharedChannelsMemberSync"}
    assert {"ServiceSettings", "SqlSettings", "FileSettings", "TeamSettings"} <= set(doc)


def test_env_overrides_win_and_are_typed(tmp_path: Path) -> None:
    env = {
        "MM_SERVICESETTINGS_SITEURL": "https://chat.example.com/",
        "MM_SERVICESETTINGS_LISTENADDRESS": "9000",
        "MM_SQLSETTINGS_DRIVERNAME": "postgres",
        "MM_SQLSETTINGS_DATASOURCE": "postgresql://u:p@db/x",
        "MM_FILESETTINGS_DIRECTORY": "/srv/files",
        "MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true",
        "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "TRUE",
        "MM_CONNECTEDWORKSPACESSETTINGS_MAXPOSTSPERSYNC": "7",
        "MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS": "1",
        "MM_NOSUCHSECTION_KEY": "ignored",
        "HOME": "/root",
    }
    store = ConfigStore(tmp_path / "config.json", environ=env)
    cfg = store.config
    assert cfg.ServiceSettings.SiteURL == "https://chat.example.com"  # trailing slash trimmed
    assert cfg.ServiceSettings.ListenAddress == ":9000"  # a bare port is accepted, as in Mattermost
    assert cfg.SqlSettings.DriverName == "postgres"
    assert cfg.SqlSettings.DataSource == "postgresql://u:p@db/x"
    assert cfg.FileSettings.Directory == "/srv/files"
    assert cfg.ConnectedWorkspacesSettings.EnableRemoteClusterService is True
    assert cfg.ConnectedWorkspacesSettings.EnableSharedChannels is True
    assert cfg.ConnectedWorkspacesSettings.MaxPostsPerSync == 7
    assert cfg.FeatureFlags.EnableSharedChannelsDMs is True
    # The environment is never written to the file.
    assert read(tmp_path / "config.json")["SqlSettings"]["DriverName"] == "sqlite"


def test_env_override_keys_are_case_insensitive() -> None:
    assert env_overrides({"mm_servicesettings_siteurl": "http://a"}) == {"ServiceSettings": {"SiteURL": "http://a"}}


def test_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"ServiceSettings": {"SiteURL": "http://file.example"},
                                "TeamSettings": {"SiteName": "FromFile"}}))
    store = ConfigStore(path, environ={"MM_SERVICESETTINGS_SITEURL": "http://env.example"})
    assert store.config.ServiceSettings.SiteURL == "http://env.example"
    assert store.config.TeamSettings.SiteName == "FromFile"


@pytest.mark.parametrize("env", [
    {"MM_CONNECTEDWORKSPACESSETTINGS_MAXPOSTSPERSYNC": "0"},
    {"MM_CONNECTEDWORKSPACESSETTINGS_MAXPOSTSPERSYNC": "many"},
    {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "perhaps"},
    {"MM_SQLSETTINGS_DRIVERNAME": "mysql"},
    {"MM_SERVICESETTINGS_LISTENADDRESS": "localhost"},
    {"MM_SERVICESETTINGS_SITEURL": "chat.example.com"},
])
def test_invalid_env_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        ConfigStore(tmp_path / "config.json", environ=env)
    key = next(iter(env)).split("_")[-1].lower()
    assert key in str(info.value).lower()


def test_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ConfigStore(path, environ={})
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        ConfigStore(path, environ={})


@pytest.mark.parametrize("patch", [
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": 0}},
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": "50"}},
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": 50.5}},
    {"ConnectedWorkspacesSettings": {"MaxPostsPerSync": True}},
    {"ConnectedWorkspacesSettings": {"EnableSharedChannels": "yes"}},
    {"ConnectedWorkspacesSettings": {"EnableSharedChannels": 1}},
    {"ServiceSettings": {"SiteURL": "ftp://example.com"}},
    {"ServiceSettings": {"SiteURL": 12}},
    {"ServiceSettings": {"ListenAddress": "127.0.0.1:70000"}},
    {"ServiceSettings": {"ListenAddress": "nope"}},
    {"SqlSettings": {"DriverName": "mysql"}},
    {"TeamSettings": {"SiteName": ""}},
    {"ServiceSettings": None},
    {"ServiceSettings": [1]},
])
def test_invalid_patch_changes_nothing(tmp_path: Path, patch: dict[str, Any]) -> None:
    path = tmp_path / "config.json"
    store = ConfigStore(path, environ={})
    store.patch({"TeamSettings": {"SiteName": "Before"}})
    before_file, before_cfg = path.read_bytes(), store.config
    # Mix a valid change in: it must not be applied either.
    with pytest.raises(ConfigError):
        store.patch({**patch, "FeatureFlags": {"EnableSharedChannelsDMs": True}})
    with pytest.raises(ConfigError):
        store.replace({**Config().model_dump(), **patch})
    assert path.read_bytes() == before_file
    assert store.config == before_cfg
    assert store.config.FeatureFlags.EnableSharedChannelsDMs is False


def test_replace_rejects_non_object(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "config.json", environ={})
    for bad in ([], "x", 5, None):
        with pytest.raises(ConfigError):
            store.replace(bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            store.patch(bad)  # type: ignore[arg-type]


def test_patch_deep_merges_saves_and_notifies(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    store = ConfigStore(path, environ={})
    seen: list[Config] = []
    store.on_change(seen.append)
    cfg = store.patch({"ConnectedWorkspacesSettings": {"MaxPostsPerSync": 10}, "Unknown": {"x": 1}})
    assert cfg.ConnectedWorkspacesSettings.MaxPostsPerSync == 10
    assert cfg.ConnectedWorkspacesSettings.MemberSyncBatchSize == 20  # untouched sibling kept
    assert read(path)["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 10
    assert "Unknown" not in read(path)
    assert seen == [cfg]
    # A new store on the same file sees the saved value.
    assert ConfigStore(path, environ={}).config.ConnectedWorkspacesSettings.MaxPostsPerSync == 10


def test_replace_resets_omitted_settings_to_defaults(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "config.json", environ={})
    store.patch({"TeamSettings": {"SiteName": "Changed"}})
    cfg = store.replace({"ServiceSettings": {"SiteURL": "http://x.example"}})
    assert cfg.TeamSettings.SiteName == "Isthmus"
    assert cfg.ServiceSettings.SiteURL == "http://x.example"


def test_env_fixed_settings_keep_file_value_on_save(tmp_path: Path) -> None:
    """As in Mattermost, saving never writes environment values into the file."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"ServiceSettings": {"SiteURL": "http://file.example"}}))
    store = ConfigStore(path, environ={"MM_SERVICESETTINGS_SITEURL": "http://env.example"})
    cfg = store.patch({"ServiceSettings": {"SiteURL": "http://admin.example"}, "TeamSettings": {"SiteName": "S"}})
    assert cfg.ServiceSettings.SiteURL == "http://env.example"
    saved = read(path)
    assert saved["ServiceSettings"]["SiteURL"] == "http://file.example"
    assert saved["TeamSettings"]["SiteName"] == "S"
    # GET → PUT round trip of the effective config does not leak the env value either.
    store.replace(store.config.model_dump())
    assert read(path)["ServiceSettings"]["SiteURL"] == "http://file.example"


def test_secrets_are_masked_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"SqlSettings": {"DataSource": "/secret/place.db"}}))
    store = ConfigStore(path, environ={})
    shown = store.sanitized()
    assert shown["SqlSettings"]["DataSource"] == FAKE_SETTING
    assert FAKE_SETTING not in json.dumps(store.config.model_dump())
    shown["TeamSettings"]["SiteName"] = "Renamed"
    store.replace(shown)
    assert store.config.SqlSettings.DataSource == "/secret/place.db"
    assert read(path)["SqlSettings"]["DataSource"] == "/secret/place.db"
    assert store.config.TeamSettings.SiteName == "Renamed"


def test_set_value_converts_by_type(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    store = ConfigStore(path, environ={})
    store.set_value("ConnectedWorkspacesSettings.MaxPostsPerSync", "25")
    store.set_value("ConnectedWorkspacesSettings.EnableSharedChannels", "true")
    store.set_value("TeamSettings.SiteName", "123")  # a string setting stays a string
    store.set_value("SqlSettings.DriverName", "postgres")
    saved = read(path)
    assert saved["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 25
    assert saved["ConnectedWorkspacesSettings"]["EnableSharedChannels"] is True
    assert saved["TeamSettings"]["SiteName"] == "123"
    assert saved["SqlSettings"]["DriverName"] == "postgres"
    for key, value in (("Nope.Key", "1"), ("TeamSettings.Nope", "1"), ("TeamSettings", "1"),
                       ("ConnectedWorkspacesSettings.MaxPostsPerSync", "zero")):
        with pytest.raises(ConfigError):
            store.set_value(key, value)
    assert read(path) == saved


def test_memory_only_store_never_writes(tmp_path: Path) -> None:
    store = ConfigStore(None, environ={"MM_TEAMSETTINGS_SITENAME": "Mem"})
    assert store.config.TeamSettings.SiteName == "Mem"
    store.patch({"FeatureFlags": {"EnableSharedChannelsDMs": True}})
    assert store.config.FeatureFlags.EnableSharedChannelsDMs is True
    assert list(tmp_path.iterdir()) == []
