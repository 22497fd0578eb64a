"""Roles: read them, and patch a role's permissions (``mattermost-rest.md`` §3; Mattermost's roles API).

Role definitions are not secret (every client loads its own roles by name at startup), so reads only
need a session; patching needs ``manage_roles``. The real client sends the patch as ``PUT``; ``PATCH``
is accepted too.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor
from isthmus.api.params import bad_body, json_object, json_string_list, valid_id
from isthmus.core.errors import AppError
from isthmus.domain import roles
from isthmus.domain.shapes import role_json

router = APIRouter()

# Mattermost's model.IsValidRoleName: lower-case letters, digits and underscores, at most 64.
_ROLE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_NAMES = 200
MAX_PERMISSIONS = 1000


def _valid_name(name: str) -> str:
    if not _ROLE_NAME.fullmatch(name):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing role_name in request URL.",
                       400)
    return name


@router.get("/roles")
async def get_all_roles(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    return [role_json(r) for r in roles.list_roles(domain_of(request))]


@router.get("/roles/name/{role_name}")
async def get_role_by_name(request: Request, role_name: str) -> dict[str, Any]:
    await require_actor(request)
    return role_json(roles.get_role_by_name(domain_of(request), _valid_name(role_name)))


@router.post("/roles/names")
async def get_roles_by_names(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    names = await json_string_list(request, "role_names", max_items=MAX_NAMES)
    if not names:
        raise bad_body("role_names", "expected at least one role name")
    for name in names:
        if not _ROLE_NAME.fullmatch(name):
            raise bad_body("role_names", f"invalid role name {name[:64]!r}")
    return [role_json(r) for r in roles.list_roles_by_names(domain_of(request), dict.fromkeys(names))]


@router.get("/roles/{role_id}")
async def get_role(request: Request, role_id: str) -> dict[str, Any]:
    await require_actor(request)
    return role_json(roles.get_role(domain_of(request), valid_id(role_id, "role_id")))


async def _patch(request: Request, role_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    valid_id(role_id, "role_id")
    body = await json_object(request)
    perms = body.get("permissions")
    if perms is not None and (not isinstance(perms, list) or not all(isinstance(p, str) for p in perms)):
        raise bad_body("permissions", "expected a JSON array of strings")
    if perms is not None and len(perms) > MAX_PERMISSIONS:
        raise bad_body("permissions", f"at most {MAX_PERMISSIONS} items")
    return role_json(await roles.do_patch_role(domain_of(request), actor, role_id, perms))


@router.put("/roles/{role_id}/patch")
async def put_patch_role(request: Request, role_id: str) -> dict[str, Any]:
    return await _patch(request, role_id)


@router.patch("/roles/{role_id}/patch")
async def patch_role(request: Request, role_id: str) -> dict[str, Any]:
    return await _patch(request, role_id)
