"""Channel bookmarks (``/channels/{channel_id}/bookmarks``): wrappers over ``domain.bookmarks``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import domain_of, require_actor
from isthmus.api.params import int_param, json_body, valid_id
from isthmus.domain import bookmarks

router = APIRouter()
BASE = "/channels/{channel_id}/bookmarks"


@router.get(BASE)
async def get_bookmarks(request: Request, channel_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    return await bookmarks.list_bookmarks(domain_of(request), actor, valid_id(channel_id, "channel_id"),
                                          int_param(request, "bookmarks_since", 0))


@router.post(BASE)
async def create_bookmark(request: Request, channel_id: str) -> JSONResponse:
    actor = await require_actor(request)
    made = await bookmarks.do_create_bookmark(domain_of(request), actor, valid_id(channel_id, "channel_id"),
                                              await json_body(request))
    return JSONResponse(made, status_code=201)


@router.patch(BASE + "/{bookmark_id}")
async def patch_bookmark(request: Request, channel_id: str, bookmark_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await bookmarks.do_patch_bookmark(domain_of(request), actor, valid_id(channel_id, "channel_id"),
                                             bookmark_id, await json_body(request))


@router.post(BASE + "/{bookmark_id}/sort_order")
async def sort_bookmark(request: Request, channel_id: str, bookmark_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    return await bookmarks.do_sort_bookmark(domain_of(request), actor, valid_id(channel_id, "channel_id"),
                                            bookmark_id, await json_body(request))


@router.delete(BASE + "/{bookmark_id}")
async def delete_bookmark(request: Request, channel_id: str, bookmark_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await bookmarks.do_delete_bookmark(domain_of(request), actor, valid_id(channel_id, "channel_id"),
                                              bookmark_id)
