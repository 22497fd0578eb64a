"""Collapsed reply threads (``/users/{user_id}/teams/{team_id}/threads``): wrappers over ``domain.user_threads``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import actor_and_user, domain_of
from isthmus.api.params import STATUS_OK, bool_param, int_param
from isthmus.core.errors import AppError
from isthmus.domain import user_threads

router = APIRouter()
BASE = "/users/{user_id}/teams/{team_id}/threads"


@router.get(BASE)
async def get_threads(request: Request, user_id: str, team_id: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    q = request.query_params
    return await user_threads.list_threads(
        domain_of(request), actor, uid, team_id, since=int_param(request, "since", 0),
        before=q.get("before", ""), after=q.get("after", ""),
        per_page=int_param(request, "per_page", user_threads.DEFAULT_PER_PAGE, minimum=1,
                           maximum=user_threads.MAX_PER_PAGE),
        extended=bool_param(request, "extended"), deleted=bool_param(request, "deleted"),
        unread=bool_param(request, "unread"), totals_only=bool_param(request, "totalsOnly"),
        threads_only=bool_param(request, "threadsOnly"))


@router.put(BASE + "/read")
async def read_all(request: Request, user_id: str, team_id: str) -> dict[str, str]:
    actor, uid = await actor_and_user(request, user_id)
    await user_threads.do_read_all(domain_of(request), actor, uid, team_id)
    return STATUS_OK


@router.get(BASE + "/{thread_id}")
async def get_thread(request: Request, user_id: str, team_id: str, thread_id: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    return await user_threads.get_thread(domain_of(request), actor, uid, team_id, thread_id,
                                         extended=bool_param(request, "extended"))


@router.put(BASE + "/{thread_id}/following")
async def follow(request: Request, user_id: str, team_id: str, thread_id: str) -> dict[str, str]:
    actor, uid = await actor_and_user(request, user_id)
    await user_threads.do_follow(domain_of(request), actor, uid, team_id, thread_id, True)
    return STATUS_OK


@router.delete(BASE + "/{thread_id}/following")
async def unfollow(request: Request, user_id: str, team_id: str, thread_id: str) -> dict[str, str]:
    actor, uid = await actor_and_user(request, user_id)
    await user_threads.do_follow(domain_of(request), actor, uid, team_id, thread_id, False)
    return STATUS_OK


@router.put(BASE + "/{thread_id}/read/{timestamp}")
async def read(request: Request, user_id: str, team_id: str, thread_id: str, timestamp: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    if not timestamp.isdigit() or len(timestamp) > 15:
        raise AppError("api.context.invalid_url_param.app_error", "Invalid timestamp parameter.", 400)
    return await user_threads.do_read(domain_of(request), actor, uid, team_id, thread_id, int(timestamp))


@router.post(BASE + "/{thread_id}/set_unread/{post_id}")
async def set_unread(request: Request, user_id: str, team_id: str, thread_id: str, post_id: str) -> dict[str, Any]:
    actor, uid = await actor_and_user(request, user_id)
    return await user_threads.do_read(domain_of(request), actor, uid, team_id, thread_id, unread_from=post_id)
