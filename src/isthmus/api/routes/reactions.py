"""Reactions (``mattermost-rest.md`` §3.5) and post acknowledgements (same path shape, same nature)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, json_object, json_string_list
from isthmus.domain import acknowledgements, reactions
from isthmus.domain.context import retrying
from isthmus.domain.shapes import ack_json, reaction_json

router = APIRouter()


@router.post("/reactions")
async def save_reaction(request: Request) -> dict[str, Any]:
    # 200, not the spec's 201: the Go handler writes 200 and clients accept either.
    actor = await require_actor(request)
    body = await json_object(request)
    # Locks the post, then the share: may cross a sync message (share first); re-run if PostgreSQL aborts us.
    return reaction_json(await retrying(lambda: reactions.do_add_reaction(domain_of(request), actor, body)))


@router.get("/posts/{post_id}/reactions")
async def get_reactions(request: Request, post_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    return [reaction_json(r) for r in await reactions.list_reactions(domain_of(request), actor, post_id)]


@router.delete("/users/{user_id}/posts/{post_id}/reactions/{emoji_name}")
async def delete_reaction(request: Request, user_id: str, post_id: str, emoji_name: str) -> dict[str, str]:
    actor = await require_actor(request)
    user = resolve_user_id(user_id, actor)
    await retrying(lambda: reactions.do_remove_reaction(domain_of(request), actor, user, post_id, emoji_name))
    return STATUS_OK


@router.post("/posts/ids/reactions")
async def get_bulk_reactions(request: Request) -> dict[str, list[dict[str, Any]]]:
    actor = await require_actor(request)
    ids = await json_string_list(request, "post_ids")
    found = await reactions.list_reactions_for_posts(domain_of(request), actor, ids)
    return {pid: [reaction_json(r) for r in items] for pid, items in found.items()}


@router.post("/users/{user_id}/posts/{post_id}/ack")
async def acknowledge_post(request: Request, user_id: str, post_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    ack = await acknowledgements.do_acknowledge(domain_of(request), actor, resolve_user_id(user_id, actor), post_id)
    return ack_json(ack)


@router.delete("/users/{user_id}/posts/{post_id}/ack")
async def unacknowledge_post(request: Request, user_id: str, post_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    await acknowledgements.do_unacknowledge(domain_of(request), actor, resolve_user_id(user_id, actor), post_id)
    return STATUS_OK
