"""System: ping, config (admin), client config and license stubs that real clients load at startup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus import SERVER_VERSION
from isthmus.api.auth import domain_of, require_actor
from isthmus.api.params import json_object
from isthmus.config import ConfigError
from isthmus.core.errors import AppError
from isthmus.domain import directory
from isthmus.domain.permissions import PERMISSION_MANAGE_SYSTEM
from isthmus.domain.roles import require_system_permission

router = APIRouter()


@router.get("/system/ping")
async def ping(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "OK", "ActiveSearchBackend": "database",
                           "AndroidLatestVersion": "", "IosLatestVersion": ""}
    if request.query_params.get("get_server_status") in ("true", "1"):
        out["database_status"] = "OK"
        out["filestore_status"] = "OK"
    return out


def _config_json(request: Request) -> dict[str, Any]:
    # Secrets (the database DSN may hold a password) leave masked, as in Mattermost.
    return domain_of(request).config_store.sanitized()


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    require_system_permission(domain_of(request), actor, PERMISSION_MANAGE_SYSTEM)
    return _config_json(request)


async def _apply(request: Request, patch: bool) -> dict[str, Any]:
    actor = await require_actor(request)
    d = domain_of(request)
    require_system_permission(d, actor, PERMISSION_MANAGE_SYSTEM)
    body = await json_object(request)
    try:
        if patch:
            d.config_store.patch(body)
        else:
            d.config_store.replace(body)
    except ConfigError as err:
        raise AppError("model.config.is_valid.app_error", "Invalid configuration.", 400, str(err)) from None
    return _config_json(request)


@router.put("/config")
async def update_config(request: Request) -> dict[str, Any]:
    return await _apply(request, patch=False)


@router.put("/config/patch")
async def patch_config(request: Request) -> dict[str, Any]:
    return await _apply(request, patch=True)


@router.get("/config/client")
async def client_config(request: Request) -> dict[str, str]:
    cfg = domain_of(request).config
    cw = cfg.ConnectedWorkspacesSettings

    def flag(v: bool) -> str:
        return "true" if v else "false"

    return {
        "Version": SERVER_VERSION, "BuildNumber": "isthmus", "BuildDate": "", "BuildHash": "isthmus",
        "BuildHashEnterprise": "none", "BuildEnterpriseReady": "false",
        "SiteURL": cfg.ServiceSettings.SiteURL, "SiteName": cfg.TeamSettings.SiteName,
        "EnableUserCreation": flag(cfg.TeamSettings.EnableUserCreation),
        "EnableOpenServer": flag(cfg.TeamSettings.EnableOpenServer),
        "EnableFileAttachments": flag(cfg.FileSettings.EnableFileAttachments),
        "MaxFileSize": str(cfg.FileSettings.MaxFileSize),
        "ExperimentalSharedChannels": flag(cw.EnableSharedChannels),
        "ExperimentalRemoteClusterService": flag(cw.EnableRemoteClusterService),
        "EnableSharedChannels": flag(cw.EnableSharedChannels),
        "EnableRemoteClusterService": flag(cw.EnableRemoteClusterService),
        "PasswordMinimumLength": str(cfg.PasswordSettings.MinimumLength),
        "DiagnosticsEnabled": "false", "NoAccounts": "false",
        # What the apps need to turn on the features Isthmus serves.
        "CollapsedThreads": "default_on", "ThreadAutoFollow": "true",
        "AllowSyncedDrafts": flag(cfg.ServiceSettings.AllowSyncedDrafts),
        "EnableCustomEmoji": flag(cfg.ServiceSettings.EnableCustomEmoji),
        "EnablePostUsernameOverride": flag(cfg.ServiceSettings.EnablePostUsernameOverride),
    }


@router.get("/license/client")
async def client_license() -> dict[str, str]:
    return {"IsLicensed": "false"}


@router.get("/plugins/webapp")
async def webapp_plugins(request: Request) -> list[dict[str, Any]]:
    # Isthmus runs no plugins: an empty list is the whole truth, and the apps then load none.
    await require_actor(request)
    return []


@router.get("/limits/server")
async def server_limits(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    return await directory.get_server_limits(domain_of(request), actor)


@router.get("/users/known")
async def known_users(request: Request) -> list[str]:
    actor = await require_actor(request)
    return await directory.get_known_users(domain_of(request), actor)


@router.get("/teams/{team_id}/stats")
async def team_stats(request: Request, team_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await directory.get_team_stats(domain_of(request), actor, team_id)


@router.get("/cluster/status")
async def cluster_status(request: Request) -> list[dict[str, Any]]:
    """Mattermost's ClusterInfo list: the serving processes seen alive in the last few seconds."""
    actor = await require_actor(request)
    d = domain_of(request)
    require_system_permission(d, actor, PERMISSION_MANAGE_SYSTEM)
    nodes = await request.app.state.server.cluster.live_nodes()
    return [{"id": n["id"], "version": n["version"], "config_hash": n["config_hash"],
             "ipaddress": n["address"], "hostname": n["hostname"], "schema_version": n["schema_version"]}
            for n in nodes]
