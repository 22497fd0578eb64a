"""The operator contract of the command line: ``python -m isthmus`` and ``isthmus config get/set``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

VENV_BIN = Path(sys.executable).parent
ISTHMUS = VENV_BIN / "isthmus"


def clean_env() -> dict[str, str]:
    """The caller's environment without MM_* overrides or ISTHMUS_CONFIG, so only what a test sets applies."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("MM_") and k != "ISTHMUS_CONFIG"}


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**clean_env(), **(env or {})}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_python_dash_m_help(tmp_path: Path) -> None:
    r = run([sys.executable, "-m", "isthmus", "--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    for command in ("serve", "migrate", "user", "team", "config"):
        assert command in r.stdout


def test_console_script_help(tmp_path: Path) -> None:
    r = run([str(ISTHMUS), "config", "--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "get" in r.stdout and "set" in r.stdout


def test_config_set_then_get(tmp_path: Path) -> None:
    cfg = tmp_path / "conf" / "config.json"
    r = run([str(ISTHMUS), "config", "set", "ConnectedWorkspacesSettings.MaxPostsPerSync", "12", "--config", str(cfg)],
            tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(cfg.read_text())["ConnectedWorkspacesSettings"]["MaxPostsPerSync"] == 12
    r = run([str(ISTHMUS), "config", "get", "ConnectedWorkspacesSettings.MaxPostsPerSync", "--config", str(cfg)],
            tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == 12
    r = run([str(ISTHMUS), "config", "set", "ServiceSettings.SiteURL", "https://chat.example.com", "--config",
             str(cfg)], tmp_path)
    assert r.returncode == 0, r.stderr
    r = run([str(ISTHMUS), "config", "get", "ServiceSettings", "--config", str(cfg)], tmp_path)
    assert json.loads(r.stdout)["SiteURL"] == "https://chat.example.com"


def test_config_get_shows_env_overrides_but_set_does_not_write_them(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    env = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true"}
    r = run([str(ISTHMUS), "config", "get", "ConnectedWorkspacesSettings", "--config", str(cfg)], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["EnableSharedChannels"] is True
    r = run([str(ISTHMUS), "config", "set", "TeamSettings.SiteName", "Env", "--config", str(cfg)], tmp_path, env)
    assert r.returncode == 0, r.stderr
    saved = json.loads(cfg.read_text())
    assert saved["ConnectedWorkspacesSettings"]["EnableSharedChannels"] is False
    assert saved["TeamSettings"]["SiteName"] == "Env"


def test_config_set_invalid_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    assert run([str(ISTHMUS), "config", "get", "--config", str(cfg)], tmp_path).returncode == 0
    before = cfg.read_bytes()
    for key, value in (("ConnectedWorkspacesSettings.MaxPostsPerSync", "0"), ("SqlSettings.DriverName", "mysql"),
                       ("ServiceSettings.ListenAddress", "nowhere"), ("No.Such", "1")):
        r = run([str(ISTHMUS), "config", "set", key, value, "--config", str(cfg)], tmp_path)
        assert r.returncode != 0
        assert "error" in r.stderr
    assert cfg.read_bytes() == before


def test_config_get_unknown_key_fails(tmp_path: Path) -> None:
    r = run([str(ISTHMUS), "config", "get", "Nope.Key", "--config", str(tmp_path / "c.json")], tmp_path)
    assert r.returncode == 2
    assert "unknown setting" in r.stderr


def test_default_config_path_is_relative_to_cwd(tmp_path: Path) -> None:
    r = run([str(ISTHMUS), "config", "get", "TeamSettings.SiteName"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == "Isthmus"
    assert (tmp_path / "data" / "config.json").exists()
