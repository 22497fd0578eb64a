"""Drafts (``/drafts``, ``/users/{user_id}/teams/{team_id}/drafts``): wrappers over ``domain.drafts``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, json_body, valid_id
from isthmus.domain import drafts

router = APIRouter()


@router.post("/drafts")
async def upsert_draft(request: Request) -> JSONResponse:
    actor = await require_actor(request)
    return JSONResponse(await drafts.do_upsert_draft(domain_of(request), actor, await json_body(request)),
                        status_code=201)


@router.get("/users/{user_id}/teams/{team_id}/drafts")
async def get_drafts(request: Request, user_id: str, team_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return await drafts.list_drafts(domain_of(request), actor, uid, team_id)


@router.delete("/users/{user_id}/channels/{channel_id}/drafts")
async def delete_channel_draft(request: Request, user_id: str, channel_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await drafts.do_delete_draft(domain_of(request), actor, uid, channel_id)
    return STATUS_OK


@router.delete("/users/{user_id}/channels/{channel_id}/drafts/{root_id}")
async def delete_thread_draft(request: Request, user_id: str, channel_id: str, root_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await drafts.do_delete_draft(domain_of(request), actor, uid, channel_id, root_id)
    return STATUS_OK
