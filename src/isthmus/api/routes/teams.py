"""Teams and team members (``mattermost-rest.md`` §3.2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.errors import error_body, request_id
from isthmus.api.params import STATUS_OK, bad_body, bool_param, json_body, json_object, paging, valid_id
from isthmus.core.errors import AppError
from isthmus.domain import teams
from isthmus.domain.shapes import team_json, team_member_json

router = APIRouter()


@router.post("/teams", status_code=201)
async def create_team(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    fields = {k: body.get(k) for k in ("name", "display_name", "type", "description", "company_name",
                                       "allowed_domains")}
    return team_json(await teams.do_create_team(domain_of(request), actor, fields))


@router.get("/teams", response_model=None)
async def get_all_teams(request: Request) -> list[dict[str, Any]] | dict[str, Any]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    found, total = await teams.list_teams(domain_of(request), actor, page=page, per_page=per_page)
    out = [team_json(t) for t in found]
    if bool_param(request, "include_total_count"):
        return {"teams": out, "total_count": total}
    return out


@router.get("/teams/invite/{invite_id}")
async def get_team_invite_info(request: Request, invite_id: str) -> dict[str, Any]:
    """What a sign-up link leads to (no session needed: the person may not have an account yet)."""
    team = await teams.get_team_by_invite(domain_of(request), invite_id)
    return {"id": team.id, "name": team.name, "display_name": team.display_name, "description": team.description,
            "type": team.type}


@router.post("/teams/members/invite", status_code=201)
async def add_team_member_from_invite(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    invite_id = request.query_params.get("invite_id", "")
    return team_member_json(await teams.do_join_by_invite(domain_of(request), actor.user_id, invite_id))


@router.get("/teams/name/{name}/exists")
async def team_exists(request: Request, name: str) -> dict[str, bool]:
    await require_actor(request)
    return {"exists": await teams.team_exists(domain_of(request), name)}


@router.get("/teams/name/{name}")
async def get_team_by_name(request: Request, name: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return team_json(await teams.get_team_by_name(domain_of(request), actor, name))


@router.get("/teams/{team_id}")
async def get_team(request: Request, team_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return team_json(await teams.get_team(domain_of(request), actor, team_id))


@router.put("/teams/{team_id}/patch")
async def patch_team(request: Request, team_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    return team_json(await teams.do_patch_team(domain_of(request), actor, valid_id(team_id, "team_id"), body))


@router.delete("/teams/{team_id}")
async def delete_team(request: Request, team_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    if bool_param(request, "permanent"):
        # Permanent deletion is an operator action (Mattermost gates it behind EnableAPITeamDeletion).
        raise AppError("api.team.delete_team.not_enabled.app_error", "Permanent team deletion is not enabled.", 403)
    await teams.do_delete_team(domain_of(request), actor, valid_id(team_id, "team_id"))
    return STATUS_OK


@router.get("/users/{user_id}/teams")
async def get_teams_for_user(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return [team_json(t) for t in await teams.list_teams_for_user(domain_of(request), actor, uid)]


@router.get("/users/{user_id}/teams/members")
async def get_team_members_for_user(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return [team_member_json(m) for m in await teams.list_team_members_for_user(domain_of(request), actor, uid)]


@router.get("/users/{user_id}/teams/unread")
async def get_teams_unread(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    exclude = request.query_params.get("exclude_team", "")
    return await teams.list_team_unreads(domain_of(request), actor, uid, exclude)


@router.get("/teams/{team_id}/members")
async def get_team_members(request: Request, team_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    found = await teams.list_team_members(domain_of(request), actor, team_id, page=page, per_page=per_page)
    return [team_member_json(m) for m in found]


@router.get("/teams/{team_id}/members/{user_id}")
async def get_team_member(request: Request, team_id: str, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = resolve_user_id(user_id, actor)
    return team_member_json(await teams.get_team_member(domain_of(request), actor, team_id, uid))


def _member_user_id(item: object, team_id: str) -> str:
    if not isinstance(item, dict):
        raise bad_body("team_member")
    if item.get("team_id") not in (None, "", team_id):
        raise bad_body("team_id", "team_id in the body does not match the URL")
    user_id = item.get("user_id")
    if not isinstance(user_id, str):
        raise bad_body("user_id")
    return user_id


@router.post("/teams/{team_id}/members", status_code=201)
async def add_team_member(request: Request, team_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    tid = valid_id(team_id, "team_id")
    uid = _member_user_id(body, tid)
    return team_member_json(await teams.do_add_team_member(domain_of(request), actor, tid, uid))


@router.post("/teams/{team_id}/members/batch", status_code=201)
async def add_team_members(request: Request, team_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    tid = valid_id(team_id, "team_id")
    body = await json_body(request)
    if not isinstance(body, list) or not body or len(body) > 256:
        raise bad_body("team_members", "expected a JSON array of 1 to 256 team members")
    user_ids = [_member_user_id(item, tid) for item in body]
    graceful = bool_param(request, "graceful")
    results = await teams.do_add_team_members(domain_of(request), actor, tid, user_ids, graceful=graceful)
    if not graceful:
        return [team_member_json(m) for _, m, _ in results if m is not None]
    rid = request_id(request)
    return [{"user_id": uid, "member": team_member_json(m) if m else None,
             "error": error_body(err, rid) if err else None} for uid, m, err in results]


@router.delete("/teams/{team_id}/members/{user_id}")
async def remove_team_member(request: Request, team_id: str, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = resolve_user_id(user_id, actor)
    await teams.do_remove_team_member(domain_of(request), actor, valid_id(team_id, "team_id"), uid)
    return STATUS_OK

