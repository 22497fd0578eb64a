"""Posts: create, edit, pin, delete and single reads (``mattermost-rest.md`` §3.4).

``do_create_post`` is the benchmark hot path, so it does not go through ``access_channel`` (six
point lookups). One joined query (``repo.select_post_context``) returns the channel, the caller's
channel and team roles and username, and ``_readable`` applies exactly the rule of
``access.can_read_channel`` to that row. Everything the post moves (the post row, channel counters,
the poster's read state, the thread summary on the root, mention counts) is written in the same
transaction, and the ``posted`` event is published only after it commits.

Every other write loads the post, then checks the channel with ``access_channel`` inside the write
transaction, so a permission or archive change can never interleave with the check.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden, invalid, invalid_param
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain import files, persistent_notifications, post_files
from isthmus.domain.access import access_channel
from isthmus.domain.changes import lock_share, record_change
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, Channel, FileInfo, Post, Reaction
from isthmus.domain.post_fields import (
    bad_field,
    check_message,
    check_new_post,
    check_post_patch,
    check_props,
    mentioned_usernames,
    parse_hashtags,
)
from isthmus.domain.post_priority import attach_acknowledgements
from isthmus.domain.roles import has_system_permission, permissions_of
from isthmus.domain.shapes import dumps, post_json
from isthmus.domain.sharing import plugin_components
from isthmus.domain.sharing.ownership import refuse_pin_in_former_copy, refuse_remote_delete, refuse_remote_edit
from isthmus.domain.threads import add_reply_to_summary, recompute_summary
from isthmus.store.repo import posts as repo
from isthmus.store.repo import reactions as reactions_repo

PENDING_TTL_MS = 30_000  # a client retry with the same pending_post_id within this window gets the first post
MAX_SKEW_MS = 1_000  # how far create_at may be nudged past the clock to keep a channel's posts ordered
_PENDING = "pending_post_ids"


# --- helpers shared with post_lists / reactions ---------------------------------------------------

def post_not_found(post_id: str = "") -> AppError:
    return AppError("app.post.get.app_error", "Unable to get the post.", 404, f"id={post_id}" if post_id else "")


def bad_post_id() -> AppError:
    return AppError("api.context.invalid_url_param.app_error", "Invalid or missing post_id in request URL.", 400)


async def attach_reactions(conn: AsyncConnection, posts: list[Post]) -> None:
    """Fill ``metadata.reactions`` for many posts with one query (never N+1)."""
    ids = [p.id for p in posts if p.has_reactions and not p.delete_at]
    by_post: dict[str, list[Reaction]] = defaultdict(list)
    for row in await reactions_repo.select_live_reactions(conn, ids):
        by_post[row["post_id"]].append(Reaction(**row))
    for p in posts:
        p.reactions = by_post.get(p.id, [])


async def attach_metadata(conn: AsyncConnection, posts: list[Post]) -> None:
    """``metadata.reactions``, ``metadata.files`` and ``metadata.acknowledgements``: one query each, none for
    posts without any."""
    await attach_reactions(conn, posts)
    await post_files.load_files(conn, posts)
    await attach_acknowledgements(conn, posts)


def _readable(channel: Channel, perms: frozenset[str], is_member: bool) -> bool:
    # Same rule as access.can_read_channel, applied to the row select_post_context already loaded.
    if "read_channel" in perms and (is_member or "manage_system" in perms):
        return True
    return channel.type == "O" and "read_public_channel" in perms


def _pending_cache(d: Domain) -> dict[tuple[str, str], tuple[str, int]]:
    cache: dict[tuple[str, str], tuple[str, int]] = d.caches.setdefault(_PENDING, {})
    return cache


def _remember_pending(d: Domain, user_id: str, pending: str, post_id: str) -> None:
    cache = _pending_cache(d)
    now = d.now()
    if len(cache) > 25_000:  # bounded like Mattermost's seenPendingPostIdsCache
        for key in [k for k, (_, exp) in cache.items() if exp < now]:
            del cache[key]
        if len(cache) > 25_000:
            cache.clear()
    cache[(user_id, pending)] = (post_id, now + PENDING_TTL_MS)


# --- create ---------------------------------------------------------------------------------------

async def do_create_post(d: Domain, actor: Actor, body: dict[str, Any], *, set_online: bool = True,
                         origin: str | None = None) -> Post:
    fields = check_new_post(body)
    pending = fields["pending_post_id"]
    if pending:
        seen = _pending_cache(d).get((actor.user_id, pending))
        if seen is not None and seen[1] >= d.now():
            return await get_post(d, actor, seen[0])
    async with transaction(d) as tx:
        post, channel, username, mentions = await _insert_post(d, tx, actor, fields, origin)
        data: dict[str, Any] = {
            "post": dumps(post_json(post)), "channel_type": channel.type, "channel_name": channel.name,
            "channel_display_name": f"@{username}" if channel.type == "D" else channel.display_name,
            "sender_name": f"@{username}", "team_id": channel.team_id, "set_online": set_online,
        }
        if mentions:
            data["mentions"] = dumps(mentions)
        tx.emit(Event("posted", data, channel_id=channel.id, team_id=channel.team_id, origin=origin))
        if origin is None:
            tx.emit(Event("channel_viewed", {"channel_id": channel.id}, user_id=actor.user_id))
    if pending:
        _remember_pending(d, actor.user_id, pending, post.id)
    return post


async def _insert_post(d: Domain, tx: Tx, actor: Actor, fields: dict[str, Any], origin: str | None
                       ) -> tuple[Post, Channel, str, list[str]]:
    conn, channel_id = tx.conn, fields["channel_id"]
    ctx = await repo.select_post_context(conn, channel_id, actor.user_id)
    if ctx is None:
        raise AppError("app.channel.get.existing.app_error", "Unable to find the existing channel.", 404)
    is_member = ctx.pop("ctx_member_id") is not None
    member_roles = ctx.pop("ctx_member_roles") or ""
    team_roles = ctx.pop("ctx_team_roles") or ""
    team_live = ctx.pop("ctx_team_delete_at") == 0
    username, is_bot = ctx.pop("ctx_username") or "", bool(ctx.pop("ctx_is_bot"))
    channel = Channel(**ctx)
    perms = permissions_of(d, actor.roles, team_roles if team_live else "", member_roles)
    if not _readable(channel, perms, is_member):
        raise forbidden("read_channel")
    if "create_post" not in perms:
        raise forbidden("create_post")
    if channel.delete_at:
        raise invalid("api.post.create_post.can_not_post_to_deleted.error",
                      "Can not post to a deleted channel.")
    if channel.shared:  # the share lock before the root and channel rows: the receiver's lock order
        await lock_share(tx, channel)
    root: Post | None = None
    if fields["root_id"]:
        root = await _thread_root(conn, fields["root_id"], channel_id)
    now = d.now()
    # Nudge create_at past the channel's last post (within MAX_SKEW_MS) so a channel's timeline
    # is strictly ordered by create_at even when two posts land in the same millisecond.
    create_at = channel.last_post_at + 1 if now <= channel.last_post_at < now + MAX_SKEW_MS else now
    props = dict(fields["props"])
    if channel.shared:
        props = plugin_components.for_shared(d.config, props)
    if is_bot:
        props["from_bot"] = "true"
    row: dict[str, Any] = {
        "id": new_id(), "create_at": create_at, "update_at": create_at, "edit_at": 0, "delete_at": 0,
        "is_pinned": False, "user_id": actor.user_id, "channel_id": channel_id, "root_id": fields["root_id"],
        "original_id": "", "message": fields["message"], "type": fields["type"], "props": props,
        "hashtags": parse_hashtags(fields["message"]), "file_ids": fields["file_ids"],
        "pending_post_id": fields["pending_post_id"], "has_reactions": False, "reply_count": 0,
        "last_reply_at": 0, "participants": [], "remote_id": origin, "priority": fields["priority"],
    }
    await repo.insert_post(conn, row)
    infos: list[FileInfo] = []
    if row["file_ids"]:  # refuses files of other channels/users or already attached (400)
        infos = await files.attach_to_post(tx, row["id"], channel_id, actor.user_id, row["file_ids"])
    await repo.update_channel_for_post(conn, channel_id, create_at, root is None)
    if is_member and origin is None:
        await repo.update_member_viewed(conn, channel_id, actor.user_id, create_at)
    if root is not None:
        await add_reply_to_summary(conn, root, actor.user_id, create_at)
    mentions = await _mentions(conn, channel_id, fields["message"], actor.user_id, root is None, create_at)
    await persistent_notifications.schedule(d, tx, channel, row, mentions, check_limits=origin is None)
    await record_change(tx, channel, "post", row["id"], origin, actor=actor, now=now)  # last: holds the share lock
    post = Post(**row, files=post_files.ordered(infos))  # metadata.files from the attach: no extra query
    return post, channel, username, mentions


async def _thread_root(conn: AsyncConnection, root_id: str, channel_id: str) -> Post:
    row = await repo.select_post(conn, root_id, for_update=True)
    if row is None or row["delete_at"] or row["channel_id"] != channel_id:
        raise invalid("api.post.create_post.root_id.app_error", "Invalid root_id parameter.")
    if row["root_id"]:
        raise invalid("api.post.create_post.root_id.app_error", "Replies to replies are not allowed.")
    return Post(**row)


async def _mentions(conn: AsyncConnection, channel_id: str, message: str, sender_id: str, is_root: bool,
                    now: int) -> list[str]:
    """Ids of channel members named by @username (never the sender), in order of appearance."""
    if "@" not in message:
        return []
    names = mentioned_usernames(message)
    found = dict((name, uid) for uid, name in await repo.select_member_ids_by_usernames(conn, channel_id, names))
    ids = list(dict.fromkeys(found[n] for n in names if n in found and found[n] != sender_id))
    await repo.increment_mentions(conn, channel_id, ids, is_root, now)
    return ids


# --- edit / pin -----------------------------------------------------------------------------------

async def _load_editable(conn: AsyncConnection, post_id: str, permission: str) -> Post:
    if not is_valid_id(post_id):
        raise bad_post_id()
    row = await repo.select_post(conn, post_id, for_update=True)
    if row is None or row["delete_at"]:
        # Mattermost answers a permission error here, so edits never confirm a post id exists.
        raise forbidden(permission)
    return Post(**row)


async def _save_edit(d: Domain, tx: Tx, post: Post, channel: Channel, values: dict[str, Any],
                     origin: str | None) -> Post:
    if channel.delete_at:
        raise invalid("api.post.update_post.can_not_update_post_in_deleted.error",
                      "Can not update a post in a deleted channel.")
    values["update_at"] = max(d.now(), post.update_at + 1)
    if "is_pinned" in values:  # the pin clock: a local pin supersedes every pin state this server has seen
        values["pin_at"] = max(values["update_at"], post.pin_at + 1)
    await repo.update_post(tx.conn, post.id, values)
    for key, value in values.items():
        setattr(post, key, value)
    await attach_metadata(tx.conn, [post])
    tx.emit(Event("post_edited", {"post": dumps(post_json(post))}, channel_id=channel.id,
                  team_id=channel.team_id, origin=origin))
    # A pin travels apart from an edit, so a peer applies only what changed (concurrent pin + edit both survive).
    if "is_pinned" in values:
        await record_change(tx, channel, "pin", post.id, origin, now=values["update_at"])
    if values.keys() - {"is_pinned", "pin_at", "update_at"}:
        await record_change(tx, channel, "post", post.id, origin, now=values["update_at"])
    return post


async def do_update_post(d: Domain, actor: Actor, post_id: str, body: dict[str, Any],
                         origin: str | None = None) -> Post:
    """PUT /posts/{id} and PUT /posts/{id}/patch: fields present in ``body`` replace the old ones."""
    changes = check_post_patch(body)
    async with transaction(d) as tx:
        post = await _load_editable(tx.conn, post_id, "edit_post")
        own = post.user_id == actor.user_id
        channel = await access_channel(d, tx.conn, actor, post.channel_id,
                                       "edit_post" if own else "edit_others_posts")
        if post.type.startswith("system_"):
            raise invalid("api.post.update_post.system_message.app_error", "Unable to update system message.")
        now = d.now()
        values: dict[str, Any] = {}
        props = check_props(changes["props"], post.props) if "props" in changes else post.props
        if origin is None and (changes.get("message", post.message) != post.message or props != post.props
                               or changes.get("file_ids", post.file_ids) != post.file_ids):
            await refuse_remote_edit(tx, channel.id, post.user_id)  # its own server would refuse it
        if "message" in changes and changes["message"] != post.message:
            values.update(message=changes["message"], hashtags=parse_hashtags(changes["message"]), edit_at=now)
        if "file_ids" in changes and changes["file_ids"] != post.file_ids:
            await post_files.change_files(tx, actor.user_id, post, changes["file_ids"], now)
            values.update(file_ids=changes["file_ids"], edit_at=now)
        if "is_pinned" in changes:
            values["is_pinned"] = changes["is_pinned"]
        if "props" in changes:
            values["props"] = plugin_components.for_shared(d.config, props) if channel.shared else props
        return await _save_edit(d, tx, post, channel, values, origin)


async def do_set_pinned(d: Domain, actor: Actor, post_id: str, pinned: bool) -> Post:
    async with transaction(d) as tx:
        post = await _load_editable(tx.conn, post_id, "read_channel")
        channel = await access_channel(d, tx.conn, actor, post.channel_id)
        await refuse_pin_in_former_copy(tx, channel.id, post.user_id)
        return await _save_edit(d, tx, post, channel, {"is_pinned": pinned}, None)


# --- delete ---------------------------------------------------------------------------------------

async def do_delete_post(d: Domain, actor: Actor, post_id: str, origin: str | None = None) -> Post:
    """Soft delete; deleting a root deletes its replies too, deleting a reply refreshes the root's summary."""
    if not is_valid_id(post_id):
        raise bad_post_id()
    async with transaction(d) as tx:
        row = await repo.select_post(tx.conn, post_id, for_update=True)
        if row is None or row["delete_at"]:
            raise post_not_found(post_id)
        post = Post(**row)
        permission = "delete_post" if post.user_id == actor.user_id else "delete_others_posts"
        channel = await access_channel(d, tx.conn, actor, post.channel_id, permission)
        if channel.delete_at:
            raise invalid("api.post.delete_post.can_not_delete_post_in_deleted.error",
                          "Can not delete a post in a deleted channel.")
        if origin is None and post.user_id != actor.user_id:
            await refuse_remote_delete(tx, channel.id, post.user_id)
        now = max(d.now(), post.update_at + 1)
        await repo.update_post(tx.conn, post.id, {"delete_at": now, "update_at": now})
        post.delete_at = post.update_at = now
        reply_ids: list[str] = []
        if post.root_id:
            await recompute_summary(tx.conn, post.root_id, now)
        else:
            reply_ids = await repo.soft_delete_replies(tx.conn, post.id, now)
        await post_files.delete_with_posts(tx, post, reply_ids, now)  # no longer downloadable once committed
        tx.emit(Event("post_deleted", {"post": dumps(post_json(post))}, channel_id=channel.id,
                      team_id=channel.team_id, origin=origin))
        await record_change(tx, channel, "post", post.id, origin, now=now)
        for reply_id in reply_ids:  # the cascade syncs too: a peer may hold a reply we never saw deleted here
            await record_change(tx, channel, "post", reply_id, origin, now=now)
    return post


# --- reads ----------------------------------------------------------------------------------------

async def get_post(d: Domain, actor: Actor, post_id: str, *, include_deleted: bool = False) -> Post:
    if not is_valid_id(post_id):
        raise bad_post_id()
    if include_deleted and not has_system_permission(d, actor, "manage_system"):
        raise forbidden("manage_system")
    async with d.db.read() as conn:
        row = await repo.select_post(conn, post_id)
        if row is None or (row["delete_at"] and not include_deleted):
            raise post_not_found(post_id)
        await access_channel(d, conn, actor, row["channel_id"])
        post = Post(**row)
        await attach_metadata(conn, [post])
    return post


# --- ephemeral ------------------------------------------------------------------------------------

async def do_send_ephemeral(d: Domain, actor: Actor, user_id: object, body: object) -> Post:
    """A post shown to one user only: never stored, delivered as ``ephemeral_message``."""
    if not has_system_permission(d, actor, "create_post_ephemeral"):
        raise forbidden("create_post_ephemeral")
    if not is_valid_id(user_id):
        raise invalid_param("user_id")
    if not isinstance(body, dict):
        raise invalid_param("post")
    assert isinstance(user_id, str)
    if not is_valid_id(body.get("channel_id")):
        raise invalid_param("channel_id")
    root_id = body.get("root_id") or ""
    if root_id and not is_valid_id(root_id):
        raise bad_field("root_id")
    channel_id: str = body["channel_id"]
    now = d.now()
    props = check_props(body["props"]) if body.get("props") is not None else {}
    post = Post(id=new_id(), create_at=now, update_at=now, edit_at=0, delete_at=0, is_pinned=False,
                user_id=actor.user_id, channel_id=channel_id, root_id=root_id, original_id="",
                message=check_message(body.get("message", "")), type="system_ephemeral",
                props=await plugin_components.for_channel(d, channel_id, props),
                hashtags="", file_ids=[], pending_post_id="", has_reactions=False, reply_count=0,
                last_reply_at=0, participants=[], remote_id=None)
    # Nothing is written, so there is no commit to wait for. Scoped to the one user only (never
    # the channel), so no hub can leak it to the other members.
    await d.bus.publish([Event("ephemeral_message", {"post": dumps(post_json(post))}, user_id=user_id)])
    return post
