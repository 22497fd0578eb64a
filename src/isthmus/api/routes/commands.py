"""Slash commands (``mattermost-rest.md`` §3.7): execute, list, autocomplete; the work is in ``commands.registry``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import require_actor
from isthmus.api.params import bool_param, json_object, valid_id
from isthmus.commands.registry import Registry

router = APIRouter()


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.server.commands
    return registry


def _site_url(request: Request) -> str:
    """Mattermost's ``GetSiteURLHeader``: the configured SiteURL, else the URL the client used."""
    configured: str = request.app.state.server.config.ServiceSettings.SiteURL or ""
    return configured or str(request.base_url)


@router.post("/commands/execute")
async def execute_command(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    response = await _registry(request).execute(actor, body, _site_url(request))
    return response.to_json()


@router.get("/commands")
async def list_commands(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    team_id = request.query_params.get("team_id", "")
    if team_id:
        valid_id(team_id, "team_id")
    return await _registry(request).list_commands(actor, team_id, bool_param(request, "custom_only"))


@router.get("/teams/{team_id}/commands/autocomplete")
async def list_autocomplete_commands(request: Request, team_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    return await _registry(request).autocomplete_commands(actor, valid_id(team_id, "team_id"))


@router.get("/teams/{team_id}/commands/autocomplete_suggestions")
async def list_command_autocomplete_suggestions(request: Request, team_id: str) -> list[dict[str, str]]:
    actor = await require_actor(request)
    q = request.query_params
    return await _registry(request).suggestions(actor, valid_id(team_id, "team_id"), q.get("user_input", ""),
                                                q.get("channel_id", ""), q.get("root_id", ""))
