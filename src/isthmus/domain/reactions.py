"""Reactions: add, remove, list (``mattermost-rest.md`` §3.5).

A removal is a soft delete (``delete_at`` set, row kept) so sync and "posts since" clients can see
it. Adding a reaction that was removed revives the same row: ``delete_at`` back to 0 and a fresh
``update_at``. (Mattermost's upsert forgets to clear ``delete_at`` on that path; we do not copy it.)
Adding a live reaction again changes nothing and emits nothing. Every change recomputes the post's
``has_reactions`` and bumps its ``update_at`` in the same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel
from isthmus.domain.changes import reaction_entity, record_change
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, Channel, Post, Reaction
from isthmus.domain.post_lists import MAX_IDS, readable_channels
from isthmus.domain.posts import bad_post_id, post_not_found
from isthmus.domain.shapes import dumps, reaction_json
from isthmus.domain.sharing.ownership import refuse_remote_delete
from isthmus.store.repo import posts as posts_repo
from isthmus.store.repo import reactions as repo

EMOJI_NAME_RE = re.compile(r"^[a-z0-9_+\-]{1,64}$")
MAX_UNIQUE_EMOJIS_PER_POST = 50  # Mattermost's default UniqueEmojiReactionLimitPerPost


def check_emoji_name(value: object) -> str:
    if not isinstance(value, str) or not EMOJI_NAME_RE.fullmatch(value):
        raise invalid("model.reaction.is_valid.emoji_name.app_error", "Invalid emoji name.")
    return value


def _check_ids(user_id: object, post_id: object) -> tuple[str, str]:
    if not is_valid_id(user_id):
        raise invalid("model.reaction.is_valid.user_id.app_error", "Invalid user id.")
    if not is_valid_id(post_id):
        raise invalid("model.reaction.is_valid.post_id.app_error", "Invalid post id.")
    assert isinstance(user_id, str) and isinstance(post_id, str)
    return user_id, post_id


async def _reactable_post(d: Domain, tx: Tx, actor: Actor, post_id: str, permission: str) -> tuple[Post, Channel]:
    """The post and its channel, if the caller may react there; deleted posts are gone (404)."""
    row = await posts_repo.select_post(tx.conn, post_id, for_update=True)
    if row is None:
        raise post_not_found(post_id)
    channel = await access_channel(d, tx.conn, actor, row["channel_id"], permission)
    if row["delete_at"]:
        raise post_not_found(post_id)
    if channel.delete_at:
        raise invalid("api.reaction.save.archived_channel.app_error",
                      "You cannot react to posts in an archived channel.")
    return Post(**row), channel


def _emit(tx: Tx, kind: str, reaction: Reaction, channel: Channel, origin: str | None) -> None:
    tx.emit(Event(kind, {"reaction": dumps(reaction_json(reaction))}, channel_id=channel.id,
                  team_id=channel.team_id, origin=origin))


async def do_add_reaction(d: Domain, actor: Actor, body: dict[str, Any], origin: str | None = None) -> Reaction:
    user_id, post_id = _check_ids(body.get("user_id"), body.get("post_id"))
    emoji_name = check_emoji_name(body.get("emoji_name"))
    if user_id != actor.user_id:
        raise AppError("api.reaction.save_reaction.user_id.app_error",
                       "You can not save reaction for the other user.", 403)
    async with transaction(d) as tx:
        post, channel = await _reactable_post(d, tx, actor, post_id, "add_reaction")
        existing = await repo.select_reaction(tx.conn, user_id, post_id, emoji_name)
        if existing is not None and existing["delete_at"] == 0:
            return Reaction(**existing)  # idempotent: nothing changed, nothing to announce
        emojis = await repo.select_live_emoji_names(tx.conn, post_id)
        if emoji_name not in emojis and len(emojis) >= MAX_UNIQUE_EMOJIS_PER_POST:
            raise invalid("app.reaction.save.unique_emoji_limit.app_error",
                          "Maximum number of unique emoji reactions reached for this post.")
        now = d.now()
        if existing is None:
            row: dict[str, Any] = {"user_id": user_id, "post_id": post_id, "emoji_name": emoji_name,
                                   "create_at": now, "update_at": now, "delete_at": 0, "remote_id": origin,
                                   "channel_id": channel.id}
            await repo.insert_reaction(tx.conn, row)
        else:
            values = {"delete_at": 0, "update_at": max(now, existing["update_at"] + 1), "channel_id": channel.id,
                      "remote_id": origin}
            await repo.update_reaction(tx.conn, user_id, post_id, emoji_name, values)
            row = {**existing, **values}
        await repo.refresh_post_has_reactions(tx.conn, post.id, max(now, post.update_at + 1))
        reaction = Reaction(**row)
        _emit(tx, "reaction_added", reaction, channel, origin)
        await record_change(tx, channel, "reaction", reaction_entity(post.id, user_id, emoji_name), origin,
                            actor=actor, now=now)
    return reaction


async def _live(conn: AsyncConnection, post_id: str) -> list[Reaction]:
    return [Reaction(**r) for r in await repo.select_live_reactions(conn, [post_id])]


async def do_remove_reaction(d: Domain, actor: Actor, user_id: str, post_id: str, emoji_name: str,
                             origin: str | None = None) -> None:
    """Soft delete. Removing a reaction that is not there is a no-op (no event)."""
    user_id, post_id = _check_ids(user_id, post_id)
    emoji_name = check_emoji_name(emoji_name)
    permission = "remove_reaction" if user_id == actor.user_id else "remove_others_reactions"
    async with transaction(d) as tx:
        post, channel = await _reactable_post(d, tx, actor, post_id, permission)
        existing = await repo.select_reaction(tx.conn, user_id, post_id, emoji_name)
        if existing is None or existing["delete_at"]:
            return
        if origin is None and user_id != actor.user_id:
            await refuse_remote_delete(tx, channel.id, user_id, "reaction")
        now = max(d.now(), existing["update_at"] + 1)
        # remote_id: where this change came from. The sender skips reactions whose last change came from the
        # target, so keeping the reactor's connection here kept a moderator's removal from its server.
        values = {"delete_at": now, "update_at": now, "remote_id": origin}
        await repo.update_reaction(tx.conn, user_id, post_id, emoji_name, values)
        await repo.refresh_post_has_reactions(tx.conn, post.id, max(now, post.update_at + 1))
        _emit(tx, "reaction_removed", Reaction(**{**existing, **values}), channel, origin)
        await record_change(tx, channel, "reaction", reaction_entity(post.id, user_id, emoji_name), origin,
                            actor=actor, now=now)


async def list_reactions(d: Domain, actor: Actor, post_id: str) -> list[Reaction]:
    if not is_valid_id(post_id):
        raise bad_post_id()
    async with d.db.read() as conn:
        row = await posts_repo.select_post(conn, post_id)
        if row is None:
            raise post_not_found(post_id)
        await access_channel(d, conn, actor, row["channel_id"])
        if row["delete_at"]:
            raise post_not_found(post_id)
        return await _live(conn, post_id)


async def list_reactions_for_posts(d: Domain, actor: Actor, post_ids: list[str]) -> dict[str, list[Reaction]]:
    """POST /posts/ids/reactions: each readable post maps to its reactions (``[]`` when none).

    Posts the caller cannot read are left out of the answer altogether, like ids that do not
    exist, so it says nothing about them (not even that they have no reactions).
    """
    if len(post_ids) > MAX_IDS or not all(is_valid_id(i) for i in post_ids):
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing post_ids in request body.")
    async with d.db.read() as conn:
        rows = await posts_repo.select_posts_by_ids(conn, list(dict.fromkeys(post_ids)))
        readable = await readable_channels(d, conn, actor, {r["channel_id"] for r in rows})
        out: dict[str, list[Reaction]] = {r["id"]: [] for r in rows if r["channel_id"] in readable}
        for r in await repo.select_live_reactions(conn, list(out)):
            out[r["post_id"]].append(Reaction(**r))
    return out
