"""Configuration in Mattermost's shape (``config.json`` sections) with ``MM_<SECTION>_<KEY>`` overrides.

The file holds what an admin saved; environment overrides apply on top at load time and are never
written back (as in Mattermost): a setting fixed by the environment keeps its file value on save.
``ConfigStore.replace`` validates the whole new document before anything is written, so an invalid
PUT never half-applies. JSON documents are validated strictly (``"50"`` is not an integer, ``1`` is
not a boolean), as Mattermost's Go decoder does; only environment strings are converted.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

_LISTEN_RE = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]*)?:(\d{1,5})$")
# What GET /config shows instead of a secret, and what PUT may send back to mean "keep it" (Mattermost's FakeSetting).
FAKE_SETTING = "********************************"
SECRET_SETTINGS: tuple[tuple[str, str], ...] = (("SqlSettings", "DataSource"), ("ClusterSettings", "BusURL"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class ServiceSettingsModel(_Section):
    SiteURL: str = ""
    ListenAddress: str = ":8065"
    MaximumLoginAttempts: int = Field(default=10, ge=1, le=1000)
    SessionLengthWebInHours: int = Field(default=720, ge=1)
    EnableUserAccessTokens: bool = True
    EnableBotAccountCreation: bool = True
    MaximumPayloadSizeBytes: int = Field(default=300_000, ge=1024)
    # DELETE /channels/{id}?permanent=true purges the channel's rows only when this is on (Mattermost's default: off).
    EnableAPIChannelDeletion: bool = False
    # Drafts kept on the server for the user's other devices (Mattermost's default: on).
    AllowSyncedDrafts: bool = True
    EnableCustomEmoji: bool = True
    # Persistent notifications of urgent posts (Mattermost's defaults): remind every this many minutes, this many
    # times at most, and refuse a post that would remind more people than this.
    PersistentNotificationIntervalMinutes: int = Field(default=5, ge=1)
    PersistentNotificationMaxCount: int = Field(default=6, ge=1)
    PersistentNotificationMaxRecipients: int = Field(default=5, ge=1)
    # Webhook posts may name themselves (props.override_username); off, as in Mattermost.
    EnablePostUsernameOverride: bool = False

    @field_validator("SiteURL")
    @classmethod
    def _site_url(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", v):
            raise ValueError("SiteURL must be empty or an absolute http(s) URL")
        return v.rstrip("/")

    @field_validator("ListenAddress")
    @classmethod
    def _listen(cls, v: str) -> str:
        m = _LISTEN_RE.match(v.strip())
        if not m or not (0 < int(m.group(1)) < 65536):
            raise ValueError("ListenAddress must look like ':8065' or '127.0.0.1:8065'")
        return v.strip()


class SqlSettingsModel(_Section):
    DriverName: Literal["sqlite", "postgres"] = "sqlite"
    DataSource: str = "./data/isthmus.db"
    MaxOpenConns: int = Field(default=20, ge=1, le=1000)


class FileSettingsModel(_Section):
    DriverName: Literal["local"] = "local"
    Directory: str = "./data/files"
    MaxFileSize: int = Field(default=100 * 1024 * 1024, ge=1)
    EnableFileAttachments: bool = True
    EnablePublicLink: bool = False
    # Images above this many pixels are refused from the header, before any pixel is decoded (a 33 MP PNG
    # costs ~1.6 s CPU and ~0.5 GB to decode); -1 decoders means one per CPU, as in Mattermost.
    MaxImageResolution: int = Field(default=7680 * 4320, ge=1)
    MaxImageDecoderConcurrency: int = Field(default=-1, ge=-1)


class TeamSettingsModel(_Section):
    SiteName: str = Field(default="Isthmus", min_length=1, max_length=30)
    MaxUsersPerTeam: int = Field(default=50, ge=1)
    EnableUserCreation: bool = True
    EnableOpenServer: bool = True
    MaxChannelsPerTeam: int = Field(default=2000, ge=1)


class PasswordSettingsModel(_Section):
    MinimumLength: int = Field(default=8, ge=5, le=72)


class ConnectedWorkspacesSettingsModel(_Section):
    EnableRemoteClusterService: bool = False
    EnableSharedChannels: bool = False
    DisableSharedChannelsStatusSync: bool = False
    MaxPostsPerSync: int = Field(default=50, ge=1, le=10_000)
    SyncUsersOnConnectionOpen: bool = False
    GlobalUserSyncBatchSize: int = Field(default=25, ge=1, le=200)
    MemberSyncBatchSize: int = Field(default=20, ge=1, le=10_000)


class FeatureFlagsModel(_Section):
    EnableSharedChannelsDMs: bool = False
    EnableSharedChannelsPlugins: bool = True
    EnableSyncAllUsersForRemoteCluster: bool = False
    EnableSharedChannelsMemberSync: bool = False


class RateLimitSettingsModel(_Section):
    # Failed logins allowed per client address per minute, on top of the per-account lockout
    # (ServiceSettings.MaximumLoginAttempts). Slows password guessing spread over many accounts.
    LoginFailuresPerMinute: int = Field(default=20, ge=1, le=100_000)
    # After ServiceSettings.MaximumLoginAttempts failed passwords an account is paused this long after the
    # last failure (Mattermost locks it until a password reset: anyone could lock anyone out for good).
    AccountLockoutMinutes: int = Field(default=15, ge=1, le=24 * 60)
    # Edge limits (Isthmus; docs/reliability.md "Websocket floods"). A connection must send its request line and
    # headers within RequestHeaderTimeoutSeconds of opening or of the request's first byte (Go's ReadHeaderTimeout):
    # a slow-loris client trickling a byte every few seconds holds nothing for long.
    RequestHeaderTimeoutSeconds: int = Field(default=10, ge=1, le=300)
    # An unauthenticated websocket is closed after this long (Mattermost closes one after a few seconds).
    WebSocketAuthTimeoutSeconds: int = Field(default=5, ge=1, le=300)
    # Open websockets from one client address (0: no cap; behind a reverse proxy every client has the proxy's
    # address), and in all (also kept below the process's open-file limit, so a flood cannot starve REST).
    MaxWebSocketsPerAddress: int = Field(default=1000, ge=0, le=1_000_000)
    MaxWebSockets: int = Field(default=20_000, ge=1, le=1_000_000)


class ClusterSettingsModel(_Section):
    """Several serving processes on one PostgreSQL database (Mattermost's high-availability cluster).

    ``BusURL`` is ours: empty carries events between processes with PostgreSQL LISTEN/NOTIFY, a
    ``redis://`` URL with Redis pub/sub. SQLite is always one process (``serve`` refuses a second)."""

    Enable: bool = False
    ClusterName: str = Field(default="", max_length=128)
    BusURL: str = ""

    @field_validator("BusURL")
    @classmethod
    def _bus_url(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^rediss?://", v):
            raise ValueError("BusURL must be empty (PostgreSQL LISTEN/NOTIFY) or a redis:// or rediss:// URL")
        return v


class LogSettingsModel(_Section):
    ConsoleLevel: Literal["DEBUG", "INFO", "WARN", "ERROR"] = "INFO"


class Config(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    ServiceSettings: ServiceSettingsModel = Field(default_factory=ServiceSettingsModel)
    SqlSettings: SqlSettingsModel = Field(default_factory=SqlSettingsModel)
    FileSettings: FileSettingsModel = Field(default_factory=FileSettingsModel)
    TeamSettings: TeamSettingsModel = Field(default_factory=TeamSettingsModel)
    PasswordSettings: PasswordSettingsModel = Field(default_factory=PasswordSettingsModel)
    ConnectedWorkspacesSettings: ConnectedWorkspacesSettingsModel = Field(
        default_factory=ConnectedWorkspacesSettingsModel)
    FeatureFlags: FeatureFlagsModel = Field(default_factory=FeatureFlagsModel)
    RateLimitSettings: RateLimitSettingsModel = Field(default_factory=RateLimitSettingsModel)
    LogSettings: LogSettingsModel = Field(default_factory=LogSettingsModel)
    ClusterSettings: ClusterSettingsModel = Field(default_factory=ClusterSettingsModel)


class ConfigError(ValueError):
    """Raised with a one-line, human-readable reason when a config document is invalid."""


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"])
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def validate_document(doc: Mapping[str, Any]) -> Config:
    if not isinstance(doc, Mapping):
        raise ConfigError("config must be a JSON object")
    for section, values in doc.items():
        if section in Config.model_fields and not isinstance(values, Mapping):
            raise ConfigError(f"{section}: must be a JSON object")
    try:
        return Config.model_validate(dict(doc), strict=True)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err)) from None


def env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``MM_SERVICESETTINGS_SITEURL=x`` → ``{"ServiceSettings": {"SiteURL": "x"}}`` (case-insensitive).

    Values are converted to the setting's type here (``"true"`` → True, ``"50"`` → 50) because the
    document is validated strictly afterwards; a value that does not convert stays a string and is
    then reported by validation with the setting's name.
    """
    sections = {name.upper(): (name, cls) for name, cls in _section_types().items()}
    out: dict[str, dict[str, Any]] = {}
    for key, value in environ.items():
        if not key.upper().startswith("MM_"):
            continue
        rest = key[3:].upper()
        for upper, (name, cls) in sections.items():
            if rest.startswith(upper + "_"):
                field_upper = rest[len(upper) + 1:]
                for fname, info in cls.model_fields.items():
                    if fname.upper() == field_upper:
                        if name == "ServiceSettings" and fname == "ListenAddress":
                            value = _normalize_listen(value.strip())
                        out.setdefault(name, {})[fname] = _from_env(info.annotation, value)
    return out


def _from_env(annotation: Any, raw: str) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(raw.strip() if annotation is not str else raw)
    except ValidationError:
        return raw


def _section_types() -> dict[str, type[BaseModel]]:
    types: dict[str, type[BaseModel]] = {}
    for name, info in Config.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            types[name] = ann
    return types


def _merge(base: dict[str, Any], over: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in over.items():
        cur = merged.get(section)
        merged[section] = {**(cur if isinstance(cur, dict) else {}), **values}
    return merged


def _normalize_listen(v: str) -> str:
    # Mattermost accepts a bare port in env ("8065"); normalise it to ":8065".
    return f":{v}" if v.isdigit() else v


class ConfigStore:
    """Owns the effective config: the file on disk plus environment overrides."""

    def __init__(self, path: Path | None, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._environ = dict(os.environ if environ is None else environ)
        self._listeners: list[Callable[[Config], None]] = []
        # What the file says (no environment); kept so a save can restore env-fixed settings.
        self._file_doc: dict[str, Any] = {}
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path}: not valid JSON ({err})") from None
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}: must hold a JSON object")
            self._file_doc = loaded
        self.overrides = env_overrides(self._environ)
        try:
            self.config = validate_document(_merge(self._file_doc, self.overrides))
        except ConfigError as err:
            raise ConfigError(f"invalid configuration: {err}") from None
        if path is not None and not path.exists():
            saved = validate_document(self._file_doc)
            self._write(saved)
            self._file_doc = saved.model_dump()

    def on_change(self, listener: Callable[[Config], None]) -> None:
        self._listeners.append(listener)

    def file_document(self) -> dict[str, Any]:
        """What the file holds (no environment overrides): what another process of the cluster applies."""
        doc: dict[str, Any] = json.loads(json.dumps(self._file_doc))
        return doc

    def sanitized(self) -> dict[str, Any]:
        """The effective config for GET /config, secrets replaced by ``FAKE_SETTING``."""
        doc = self.config.model_dump()
        for section, key in SECRET_SETTINGS:
            if doc[section].get(key):
                doc[section][key] = FAKE_SETTING
        return doc

    def replace(self, doc: Mapping[str, Any]) -> Config:
        """Validate ``doc`` fully, then persist it and make it effective (env overrides still win).

        Settings fixed by the environment keep their file value, and a secret sent back as
        ``FAKE_SETTING`` keeps its current value, so GET → edit → PUT round-trips safely.
        """
        if not isinstance(doc, Mapping):
            raise ConfigError("config must be a JSON object")
        doc = self._desanitize(doc)
        wanted = validate_document(doc).model_dump()
        defaults = Config().model_dump()
        for section, values in self.overrides.items():
            file_section = self._file_doc.get(section)
            for key in values:
                if isinstance(file_section, dict) and key in file_section:
                    wanted[section][key] = file_section[key]
                else:
                    wanted[section][key] = defaults[section][key]
        saved = validate_document(wanted)
        effective = validate_document(_merge(saved.model_dump(), self.overrides))
        self._write(saved)
        self._file_doc = saved.model_dump()
        self.config = effective
        for listener in self._listeners:
            listener(effective)
        return effective

    def patch(self, doc: Mapping[str, Any]) -> Config:
        """Deep-merge a partial document into the current config and save it (all or nothing)."""
        if not isinstance(doc, Mapping):
            raise ConfigError("config patch must be a JSON object")
        current = self.config.model_dump()
        for section, values in doc.items():
            if section not in current:
                continue  # unknown sections are ignored, as in a full document
            if not isinstance(values, Mapping):
                raise ConfigError(f"{section}: must be a JSON object")
            current[section].update(values)
        return self.replace(current)

    def set_value(self, dotted: str, raw: str) -> Config:
        section, _, key = dotted.partition(".")
        if section not in Config.model_fields or not key:
            raise ConfigError(f"unknown setting {dotted!r}")
        fields = _section_types()[section].model_fields
        if key not in fields:
            raise ConfigError(f"unknown setting {dotted!r}")
        value: Any = raw
        if fields[key].annotation is not str:
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw  # e.g. an unquoted Literal such as ``postgres``; validation decides
        return self.patch({section: {key: value}})

    def _desanitize(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(doc)
        for section, key in SECRET_SETTINGS:
            values = out.get(section)
            if isinstance(values, Mapping) and values.get(key) == FAKE_SETTING:
                out[section] = {**values, key: getattr(getattr(self.config, section), key)}
        return out

    def _write(self, cfg: Config) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config.", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(cfg.model_dump(), fh, indent=2)
            fh.write("\n")
        os.replace(tmp, self.path)


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("ISTHMUS_CONFIG", "./data/config.json"))
