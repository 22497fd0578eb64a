"""Custom profile attributes (``/custom_profile_attributes/…``): wrappers over ``domain.profile_attributes``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, json_body, valid_id
from isthmus.domain import profile_attributes as cpa

router = APIRouter()


@router.get("/custom_profile_attributes/fields")
async def list_fields(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    return await cpa.list_fields(domain_of(request))


@router.post("/custom_profile_attributes/fields")
async def create_field(request: Request) -> JSONResponse:
    actor = await require_actor(request)
    made = await cpa.do_create_field(domain_of(request), actor, await json_body(request))
    return JSONResponse(made, status_code=201)


@router.patch("/custom_profile_attributes/fields/{field_id}")
async def patch_field(request: Request, field_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await cpa.do_patch_field(domain_of(request), actor, field_id, await json_body(request))


@router.delete("/custom_profile_attributes/fields/{field_id}")
async def delete_field(request: Request, field_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    await cpa.do_delete_field(domain_of(request), actor, field_id)
    return STATUS_OK


@router.patch("/custom_profile_attributes/values")
async def patch_my_values(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    return await cpa.do_patch_values(domain_of(request), actor, actor.user_id, await json_body(request))


@router.get("/users/{user_id}/custom_profile_attributes")
async def get_values(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await cpa.get_values(domain_of(request), valid_id(resolve_user_id(user_id, actor), "user_id"))


@router.patch("/users/{user_id}/custom_profile_attributes")
async def patch_values(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return await cpa.do_patch_values(domain_of(request), actor, uid, await json_body(request))
