"""Channels and channel members (``mattermost-rest.md`` §3.3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import (
    STATUS_OK,
    bad_body,
    bool_param,
    json_object,
    json_string_list,
    opt_str,
    paging,
    valid_id,
)
from isthmus.domain import channel_purge, channels, members, teams
from isthmus.domain.context import retrying
from isthmus.domain.models import Actor
from isthmus.domain.shapes import channel_json, channel_member_json

router = APIRouter()

CHANNEL_FIELDS = ("team_id", "name", "display_name", "type", "purpose", "header")


@router.post("/channels", status_code=201)
async def create_channel(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    return channel_json(await channels.do_create_channel(domain_of(request), actor,
                                                         {k: body.get(k) for k in CHANNEL_FIELDS}))


@router.post("/channels/direct", status_code=201)
async def create_direct_channel(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    ids = await json_string_list(request, "user_ids", max_items=2)
    return channel_json(await channels.do_create_direct_channel(domain_of(request), actor, ids))


@router.post("/channels/group", status_code=201)
async def create_group_channel(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    ids = await json_string_list(request, "user_ids", max_items=16)
    return channel_json(await channels.do_create_group_channel(domain_of(request), actor, ids))


@router.post("/channels/members/{user_id}/view")
async def view_channel(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    channel_id = opt_str(body, "channel_id", 26) or ""
    prev = opt_str(body, "prev_channel_id", 26) or ""
    times = await members.do_view_channel(domain_of(request), actor, uid, channel_id, prev)
    return {"status": "OK", "last_viewed_at_times": times}


@router.get("/channels/{channel_id}")
async def get_channel(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return channel_json(await channels.get_channel(domain_of(request), actor, channel_id))


@router.get("/teams/{team_id}/channels/name/{channel_name}")
async def get_channel_by_name(request: Request, team_id: str, channel_name: str) -> dict[str, Any]:
    actor = await require_actor(request)
    tid = valid_id(team_id, "team_id")
    found = await channels.get_channel_by_name(domain_of(request), actor, tid, channel_name,
                                               include_deleted=bool_param(request, "include_deleted"))
    return channel_json(found)


@router.get("/teams/name/{team_name}/channels/name/{channel_name}")
async def get_channel_by_names(request: Request, team_name: str, channel_name: str) -> dict[str, Any]:
    actor = await require_actor(request)
    d = domain_of(request)
    team = await teams.get_team_by_name(d, actor, team_name)
    found = await channels.get_channel_by_name(d, actor, team.id, channel_name,
                                               include_deleted=bool_param(request, "include_deleted"))
    return channel_json(found)


async def _team_channels(request: Request, team_id: str, *, private: bool) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    found = await channels.list_team_channels(domain_of(request), actor, team_id, private=private, page=page,
                                              per_page=per_page)
    return [channel_json(c) for c in found]


@router.get("/teams/{team_id}/channels")
async def get_public_channels(request: Request, team_id: str) -> list[dict[str, Any]]:
    return await _team_channels(request, team_id, private=False)


@router.get("/teams/{team_id}/channels/private")
async def get_private_channels(request: Request, team_id: str) -> list[dict[str, Any]]:
    return await _team_channels(request, team_id, private=True)


async def _user(request: Request, user_id: str) -> tuple[Actor, str]:
    actor = await require_actor(request)
    return actor, valid_id(resolve_user_id(user_id, actor), "user_id")


@router.get("/users/{user_id}/teams/{team_id}/channels")
async def get_channels_for_team_for_user(request: Request, user_id: str, team_id: str) -> list[dict[str, Any]]:
    actor, uid = await _user(request, user_id)
    found = await members.list_channels_for_user(domain_of(request), actor, uid, team_id,
                                                 include_deleted=bool_param(request, "include_deleted"))
    return [channel_json(c) for c in found]


@router.get("/users/{user_id}/teams/{team_id}/channels/members")
async def get_channel_members_for_user(request: Request, user_id: str, team_id: str) -> list[dict[str, Any]]:
    actor, uid = await _user(request, user_id)
    found = await members.list_members_for_user(domain_of(request), actor, uid, team_id)
    return [channel_member_json(m) for m in found]


@router.get("/users/{user_id}/channels")
async def get_channels_for_user(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor, uid = await _user(request, user_id)
    found = await members.list_channels_for_user(domain_of(request), actor, uid, None,
                                                 include_deleted=bool_param(request, "include_deleted"))
    return [channel_json(c) for c in found]


@router.put("/channels/{channel_id}/patch")
async def patch_channel(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    patch: dict[str, Any] = {k: body[k] for k in ("name", "display_name", "purpose", "header") if k in body}
    return channel_json(await channels.do_patch_channel(domain_of(request), actor, channel_id, patch))


@router.put("/channels/{channel_id}")
async def update_channel(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    if body.get("id") not in (None, channel_id):
        raise bad_body("id", "id in the body does not match the URL")
    patch: dict[str, Any] = {k: body[k] for k in ("name", "display_name", "purpose", "header") if k in body}
    return channel_json(await channels.do_patch_channel(domain_of(request), actor, channel_id, patch))


@router.delete("/channels/{channel_id}")
async def delete_channel(request: Request, channel_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    if bool_param(request, "permanent"):
        await channel_purge.do_purge_channel(domain_of(request), actor, channel_id)
    else:
        await channels.do_delete_channel(domain_of(request), actor, channel_id)
    return STATUS_OK


@router.post("/channels/{channel_id}/restore")
async def restore_channel(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return channel_json(await channels.do_restore_channel(domain_of(request), actor, channel_id))


@router.get("/channels/{channel_id}/stats")
async def get_channel_stats(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await channels.get_channel_stats(domain_of(request), actor, channel_id)


@router.get("/channels/{channel_id}/timezones")
async def get_channel_timezones(request: Request, channel_id: str) -> list[str]:
    actor = await require_actor(request)
    return await members.get_channel_timezones(domain_of(request), actor, channel_id)


@router.get("/channels/{channel_id}/members")
async def get_channel_members(request: Request, channel_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    found = await members.list_channel_members(domain_of(request), actor, channel_id, page=page, per_page=per_page)
    return [channel_member_json(m) for m in found]


@router.get("/channels/{channel_id}/members/{user_id}")
async def get_channel_member(request: Request, channel_id: str, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = resolve_user_id(user_id, actor)
    return channel_member_json(await members.get_channel_member(domain_of(request), actor, channel_id, uid))


@router.post("/channels/{channel_id}/members", response_model=None)
async def add_channel_member(request: Request, channel_id: str) -> JSONResponse:
    actor = await require_actor(request)
    body = await json_object(request)
    user_ids = body.get("user_ids")
    if user_ids is not None:
        if not isinstance(user_ids, list) or not user_ids or len(user_ids) > 1000 \
                or not all(isinstance(u, str) for u in user_ids):
            raise bad_body("user_ids")
        # Member writes lock member rows, then the share: re-run if PostgreSQL aborts one to break a lock cycle
        # with a sync message applied at the same time (it takes the share first).
        added = await retrying(lambda: members.do_add_channel_members(domain_of(request), actor, channel_id,
                                                                      user_ids))
        return JSONResponse([channel_member_json(m) for m in added], status_code=201)
    user_id = body.get("user_id")
    if not isinstance(user_id, str):
        raise bad_body("user_id")
    one = [resolve_user_id(user_id, actor)]
    added = await retrying(lambda: members.do_add_channel_members(domain_of(request), actor, channel_id, one))
    return JSONResponse(channel_member_json(added[0]), status_code=201)


@router.delete("/channels/{channel_id}/members/{user_id}")
async def remove_channel_member(request: Request, channel_id: str, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    user = resolve_user_id(user_id, actor)
    await retrying(lambda: members.do_remove_channel_member(domain_of(request), actor, channel_id, user))
    return STATUS_OK


@router.put("/channels/{channel_id}/members/{user_id}/roles")
async def update_channel_member_roles(request: Request, channel_id: str, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = resolve_user_id(user_id, actor)
    await members.do_update_member_roles(domain_of(request), actor, channel_id, uid, body.get("roles"))
    return STATUS_OK
