"""Sidebar categories (``/users/{user_id}/teams/{team_id}/channels/categories``): wrappers over ``domain.sidebar``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import actor_and_user, domain_of
from isthmus.api.params import STATUS_OK, json_body
from isthmus.domain import sidebar

router = APIRouter()
BASE = "/users/{user_id}/teams/{team_id}/channels/categories"


@router.get(BASE)
async def get_categories(request: Request, user_id: str, team_id: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    return await sidebar.get_categories(domain_of(request), actor, uid, team_id)


@router.post(BASE)
async def create_category(request: Request, user_id: str, team_id: str) -> JSONResponse:
    actor, uid = await actor_and_user(request, user_id)
    created = await sidebar.do_create_category(domain_of(request), actor, uid, team_id, await json_body(request))
    return JSONResponse(created, status_code=201)


@router.put(BASE)
async def update_categories(request: Request, user_id: str, team_id: str) -> list[dict[str, Any]]:
    actor, uid = await actor_and_user(request, user_id)
    return await sidebar.do_update_categories(domain_of(request), actor, uid, team_id, await json_body(request))


@router.get(BASE + "/order")
async def get_order(request: Request, user_id: str, team_id: str) -> list[str]:
    actor, uid = await actor_and_user(request, user_id)
    return await sidebar.get_order(domain_of(request), actor, uid, team_id)


@router.put(BASE + "/order")
async def update_order(request: Request, user_id: str, team_id: str) -> list[str]:
    actor, uid = await actor_and_user(request, user_id)
    return await sidebar.do_update_order(domain_of(request), actor, uid, team_id, await json_body(request))


@router.get(BASE + "/{category_id}")
async def get_category(request: Request, user_id: str, team_id: str, category_id: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    return await sidebar.get_category(domain_of(request), actor, uid, team_id, category_id)


@router.put(BASE + "/{category_id}")
async def update_category(request: Request, user_id: str, team_id: str, category_id: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    body = await json_body(request)
    if isinstance(body, dict):
        body = {**body, "id": category_id}  # the path names the category, as in Mattermost
    return (await sidebar.do_update_categories(domain_of(request), actor, uid, team_id, [body]))[0]


@router.delete(BASE + "/{category_id}")
async def delete_category(request: Request, user_id: str, team_id: str, category_id: str) -> dict[str, str]:
    actor, uid = await actor_and_user(request, user_id)
    await sidebar.do_delete_category(domain_of(request), actor, uid, team_id, category_id)
    return STATUS_OK
