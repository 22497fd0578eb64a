"""User statuses and typing (``mattermost-rest.md`` §3.1): thin wrappers over ``domain.statuses``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, bad_body, json_body, json_object, valid_id
from isthmus.core.ids import is_valid_id
from isthmus.domain import statuses
from isthmus.domain.statuses import status_json

router = APIRouter()
MAX_IDS = 1000


@router.post("/users/status/ids")
async def get_statuses_by_ids(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    ids = await json_body(request)
    # Mattermost: an empty list or any malformed id is "Invalid user_ids parameter".
    if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS or not all(is_valid_id(i) for i in ids):
        raise bad_body("user_ids", "expected a non-empty JSON array of user ids")
    return [status_json(s) for s in await statuses.get_statuses(domain_of(request), ids)]


@router.get("/users/{user_id}/status")
async def get_user_status(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return status_json(await statuses.get_status(domain_of(request), uid))


@router.put("/users/{user_id}/status")
async def update_user_status(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    body = await json_object(request)
    status, dnd_end_time = statuses.parse_status_body(body, uid, user_id)
    return status_json(await statuses.do_update_status(domain_of(request), actor, uid, status, dnd_end_time))


@router.post("/users/{user_id}/typing")
async def publish_user_typing(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    body = await json_object(request)
    await statuses.publish_typing(domain_of(request), actor, uid, body.get("channel_id"), body.get("parent_id"))
    return STATUS_OK
