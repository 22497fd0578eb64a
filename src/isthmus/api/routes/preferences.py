"""Preferences (``/users/{user_id}/preferences``): thin wrappers over ``domain.preferences``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, json_body, valid_id
from isthmus.domain import preferences

router = APIRouter()


@router.get("/users/{user_id}/preferences")
async def get_preferences(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return await preferences.get_preferences(domain_of(request), actor, uid)


@router.put("/users/{user_id}/preferences")
async def save_preferences(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await preferences.do_save_preferences(domain_of(request), actor, uid, await json_body(request))
    return STATUS_OK


@router.post("/users/{user_id}/preferences/delete")
async def delete_preferences(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await preferences.do_delete_preferences(domain_of(request), actor, uid, await json_body(request))
    return STATUS_OK


@router.get("/users/{user_id}/preferences/{category}")
async def get_preferences_by_category(request: Request, user_id: str, category: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return await preferences.get_preferences(domain_of(request), actor, uid, category)


@router.get("/users/{user_id}/preferences/{category}/name/{name}")
async def get_preference(request: Request, user_id: str, category: str, name: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return (await preferences.get_preferences(domain_of(request), actor, uid, category, name))[0]
