"""Posts, threads, pins and channel timelines (``mattermost-rest.md`` §3.4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import (
    MAX_PER_PAGE,
    STATUS_OK,
    bool_param,
    int_param,
    json_object,
    json_string_list,
    paging,
    valid_id,
)
from isthmus.core.errors import invalid_param
from isthmus.domain import post_lists, posts
from isthmus.domain.context import retrying
from isthmus.domain.post_lists import PostPage
from isthmus.domain.shapes import post_json, post_list_json
from isthmus.domain.sharing import refusals

router = APIRouter()


def _page_json(page: PostPage) -> dict[str, Any]:
    return post_list_json(page.posts, page.order, next_post_id=page.next_post_id,
                          prev_post_id=page.prev_post_id, has_next=page.has_next)


@router.post("/posts", status_code=201)
async def create_post(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    set_online = bool_param(request, "set_online", True)
    # Post writes lock a post or the channel and then the share; a sync message applied at the same time takes
    # the share first. PostgreSQL breaks such a cycle by aborting one side: run ours again, never answer 500.
    d = domain_of(request)
    post = await retrying(lambda: posts.do_create_post(d, actor, body, set_online=set_online))
    out = post_json(post)
    if post.files:  # our extension: files a workspace sharing this channel will not take (the post still goes)
        warnings = await refusals.file_warnings(d, post.channel_id, post.files)
        if warnings:
            out["isthmus_file_warnings"] = warnings
    return out


@router.post("/posts/ephemeral", status_code=201)
async def create_post_ephemeral(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    post = await posts.do_send_ephemeral(domain_of(request), actor, body.get("user_id"), body.get("post"))
    return post_json(post)


@router.post("/posts/ids")
async def get_posts_by_ids(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    ids = await json_string_list(request, "post_ids")
    return [post_json(p) for p in await post_lists.list_posts_by_ids(domain_of(request), actor, ids)]


@router.get("/posts/{post_id}")
async def get_post(request: Request, post_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    include_deleted = bool_param(request, "include_deleted")
    return post_json(await posts.get_post(domain_of(request), actor, post_id, include_deleted=include_deleted))


@router.put("/posts/{post_id}")
async def update_post(request: Request, post_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    if body.get("id") != post_id:  # the post in the body must be the one in the URL
        raise invalid_param("id")
    return post_json(await retrying(lambda: posts.do_update_post(domain_of(request), actor, post_id, body)))


@router.put("/posts/{post_id}/patch")
async def patch_post(request: Request, post_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    return post_json(await retrying(lambda: posts.do_update_post(domain_of(request), actor, post_id, body)))


@router.delete("/posts/{post_id}")
async def delete_post(request: Request, post_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    await retrying(lambda: posts.do_delete_post(domain_of(request), actor, post_id))
    return STATUS_OK


@router.post("/posts/{post_id}/pin")
async def pin_post(request: Request, post_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    await retrying(lambda: posts.do_set_pinned(domain_of(request), actor, post_id, True))
    return STATUS_OK


@router.post("/posts/{post_id}/unpin")
async def unpin_post(request: Request, post_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    await retrying(lambda: posts.do_set_pinned(domain_of(request), actor, post_id, False))
    return STATUS_OK


@router.get("/posts/{post_id}/thread")
async def get_post_thread(request: Request, post_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    q = request.query_params
    page = await post_lists.get_thread(
        domain_of(request), actor, post_id, per_page=int_param(request, "perPage", 0, maximum=MAX_PER_PAGE),
        from_post=q.get("fromPost", ""), from_create_at=int_param(request, "fromCreateAt", 0),
        direction=q.get("direction", ""))
    return _page_json(page)


@router.get("/channels/{channel_id}/posts")
async def get_posts_for_channel(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    valid_id(channel_id, "channel_id")
    page_no, per_page = paging(request)
    q = request.query_params
    page = await post_lists.list_channel_posts(
        domain_of(request), actor, channel_id, page=page_no, per_page=per_page,
        since=int_param(request, "since", 0), before=q.get("before", ""), after=q.get("after", ""),
        include_deleted=bool_param(request, "include_deleted"), collapsed=bool_param(request, "collapsedThreads"))
    return _page_json(page)


@router.get("/channels/{channel_id}/pinned")
async def get_pinned_posts(request: Request, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    valid_id(channel_id, "channel_id")
    return _page_json(await post_lists.list_pinned_posts(domain_of(request), actor, channel_id))


@router.get("/users/{user_id}/channels/{channel_id}/posts/unread")
async def get_posts_around_last_unread(request: Request, user_id: str, channel_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    valid_id(channel_id, "channel_id")
    page = await post_lists.posts_around_last_unread(
        domain_of(request), actor, uid, channel_id,
        limit_before=int_param(request, "limit_before", 60, maximum=MAX_PER_PAGE),
        limit_after=int_param(request, "limit_after", 60, maximum=MAX_PER_PAGE))
    return _page_json(page)
