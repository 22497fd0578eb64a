"""Writes that arrive from a connected workspace: posts and reactions upserted by their global ids.

These are the receiver's counterparts of ``do_create_post`` / ``do_update_post`` / ``do_delete_post`` /
``do_add_reaction``: they keep the sender's ids and timestamps, check ownership instead of a user's
permissions, emit the same websocket events (``origin`` = the connection) and append to the outbox
with that origin, so a home server relays the change to its other remotes but never back.

Idempotent: applying the same item twice changes nothing the second time (no event, no outbox row).
Conflict rules: a delete is final; message/file/props edits apply when the incoming ``edit_at`` is newer
(or equal with different content); the pin is last-writer-wins on its clock ``pin_at`` (a tie goes to
"pinned"); reactions follow their owner's ``update_at`` (only the owner's server
can change a user's reaction, so its clock orders them), honouring ``delete_at`` both ways.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain import files, persistent_notifications, post_files
from isthmus.domain.access import get_channel_row
from isthmus.domain.changes import reaction_entity, record_change, record_changes
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Channel, FileInfo, Post, Reaction, User
from isthmus.domain.post_fields import MESSAGE_MAX_RUNES, mentioned_usernames, parse_hashtags
from isthmus.domain.post_priority import synced_priority
from isthmus.domain.posts import attach_metadata
from isthmus.domain.reactions import EMOJI_NAME_RE
from isthmus.domain.shapes import dumps, post_json, reaction_json
from isthmus.domain.sharing import plugin_components
from isthmus.domain.sharing.ownership import (
    NotAllowed,
    author_from,
    check_content_change,
    check_deletion,
    sender_is_home,
)
from isthmus.domain.sharing.refusals import MARKER_KEY, keep_marker, received_marker, without_marker
from isthmus.domain.threads import add_reply_to_summary, recompute_summary
from isthmus.store.repo import files as files_repo
from isthmus.store.repo import posts as repo
from isthmus.store.repo import reactions as reactions_repo
from isthmus.store.repo import users as users_repo

# Key an Isthmus sender adds to each synced post: the parts that changed ("content", "pin"). A post without it
# (from Mattermost) updates every part, as Mattermost does.
CHANGES_KEY = "isthmus_changes"
# Key an Isthmus sender adds to each synced post: its pin clock (``posts.pin_at``). With it the pin is a
# last-writer-wins register; a post without it (from Mattermost) is pinned as the pin scope says.
PIN_AT_KEY = "isthmus_pin_at"
# Outcomes of an upsert, for the sync response and tests.
CREATED, UPDATED, DELETED, UNCHANGED = "created", "updated", "deleted", "unchanged"


class ItemRefused(Exception):
    """One synced item was refused (it goes to ``post_errors`` / ``reaction_errors``)."""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62 else 0


def _str(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _file_ids(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(v for v in value if is_valid_id(v)))[:files.MAX_FILES_PER_POST]


def _props(value: object) -> dict[str, Any]:
    if not isinstance(value, dict) or len(dumps(value)) > 800_000:
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str)}


async def _attach_present_files(tx: Tx, post_id: str, channel_id: str, user_id: str,
                                file_ids: list[str]) -> list[FileInfo]:
    """Attach the files that arrived (pushed before the post); a missing one stays listed but unattached.
    Returns the attached ones (for ``metadata.files``)."""
    rows = await files_repo.select_file_infos_by_ids(tx.conn, file_ids, for_update=True)
    ok = [r["id"] for r in rows if r["channel_id"] == channel_id and r["creator_id"] == user_id
          and not r["delete_at"] and r["post_id"] in ("", post_id)]
    if ok:
        try:
            return await files.attach_to_post(tx, post_id, channel_id, user_id, ok)
        except AppError:
            pass  # pre-filtered above; never refuse the post half-way through its writes
    return []


async def _mention_ids(tx: Tx, channel_id: str, message: str, sender_id: str, is_root: bool, now: int) -> list[str]:
    if "@" not in message:
        return []
    names = mentioned_usernames(message)
    found = dict((n, uid) for uid, n in await repo.select_member_ids_by_usernames(tx.conn, channel_id, names))
    ids = list(dict.fromkeys(found[n] for n in names if n in found and found[n] != sender_id))
    await repo.increment_mentions(tx.conn, channel_id, ids, is_root, now)
    return ids


def new_post_row(d: Domain, channel: Channel, origin: str, author_id: str, p: dict[str, Any], message: str,
                 root_id: str) -> dict[str, Any]:
    """The row a new synced post is stored as (the per-post and the bulk path share it)."""
    create_at = _int(p.get("create_at")) or d.now()
    return {
        "id": p["id"], "create_at": create_at, "update_at": max(_int(p.get("update_at")), create_at),
        "edit_at": _int(p.get("edit_at")), "delete_at": _int(p.get("delete_at")),
        "is_pinned": p.get("is_pinned") is True, "user_id": author_id, "channel_id": channel.id, "root_id": root_id,
        "original_id": "", "message": message, "type": _str(p.get("type"), 64),
        "props": plugin_components.for_shared(d.config, without_marker(_props(p.get("props")))),
        "hashtags": parse_hashtags(message), "file_ids": _file_ids(p.get("file_ids")), "pending_post_id": "",
        "has_reactions": False, "reply_count": 0, "last_reply_at": 0, "participants": [], "remote_id": origin,
        "pin_at": _int(p.get(PIN_AT_KEY)), "priority": synced_priority(p.get("metadata")),
    }


def posted_event(channel: Channel, origin: str, author: User, post: str, mentions: list[str]) -> Event:
    """``posted`` for a synced post (``post``: its JSON as created); the bulk path emits the same."""
    data: dict[str, Any] = {
        "post": post, "channel_type": channel.type, "channel_name": channel.name,
        "channel_display_name": channel.display_name, "sender_name": f"@{author.username}",
        "team_id": channel.team_id, "set_online": False}
    if mentions:
        data["mentions"] = dumps(mentions)
    return Event("posted", data, channel_id=channel.id, team_id=channel.team_id, origin=origin)


async def _create(d: Domain, tx: Tx, channel: Channel, origin: str, p: dict[str, Any], message: str) -> str:
    author = await author_from(tx, p.get("user_id"), origin, channel.id)
    root_id = p.get("root_id") or ""
    if root_id and not is_valid_id(root_id):
        raise ItemRefused("invalid root_id")
    root: Post | None = None
    row_values = new_post_row(d, channel, origin, author.id, p, message, root_id)
    if root_id:
        row = await repo.select_post(tx.conn, root_id, for_update=True)
        if row is not None and row["channel_id"] != channel.id:
            raise ItemRefused("root post is in another channel")
        root = Post(**row) if row is not None and not row["delete_at"] else None
        if row is not None and row["delete_at"] and not row_values["delete_at"]:
            # A reply written while its root was being deleted elsewhere: deleting the root deletes its replies,
            # so this one ends deleted too, on every server (the outbox row below relays the tombstone).
            row_values["delete_at"] = max(d.now(), row_values["create_at"])
    create_at = row_values["create_at"]
    await repo.insert_post(tx.conn, row_values)
    if row_values["delete_at"]:  # created and deleted before we ever saw it: keep the tombstone, announce nothing
        await record_change(tx, channel, "post", p["id"], origin, now=d.now())
        return DELETED
    infos: list[FileInfo] = []
    if row_values["file_ids"]:
        infos = await _attach_present_files(tx, p["id"], channel.id, author.id, row_values["file_ids"])
        missing = [f for f in row_values["file_ids"] if f not in {i.id for i in infos}]
        if missing:  # the sender's peer refused them (or we did): the channel says which and why
            row_values["props"] = {**row_values["props"], MARKER_KEY: received_marker(d, p, missing)}
            await repo.update_post(tx.conn, p["id"], {"props": row_values["props"]})
    await repo.update_channel_for_post(tx.conn, channel.id, create_at, not root_id)
    if root is not None:
        await add_reply_to_summary(tx.conn, root, author.id, create_at)
    mentions = await _mention_ids(tx, channel.id, message, author.id, not root_id, create_at)
    await persistent_notifications.schedule(d, tx, channel, row_values, mentions, check_limits=False)
    post = Post(**row_values, files=post_files.ordered(infos))  # metadata.files as a local create has them
    tx.emit(posted_event(channel, origin, author, dumps(post_json(post)), mentions))
    await record_change(tx, channel, "post", post.id, origin, now=d.now())
    return CREATED


async def _update(d: Domain, tx: Tx, channel: Channel, origin: str, stored: Post, p: dict[str, Any],
                  message: str) -> str:
    if stored.delete_at:
        return UNCHANGED  # a delete is final
    now = max(d.now(), stored.update_at + 1)
    if _int(p.get("delete_at")):
        await _allowed(check_deletion(tx, stored.user_id, origin, channel.id))
        await repo.update_post(tx.conn, stored.id, {"delete_at": _int(p.get("delete_at")), "update_at": now})
        stored.delete_at, stored.update_at = _int(p.get("delete_at")), now
        reply_ids: list[str] = []
        if stored.root_id:
            await recompute_summary(tx.conn, stored.root_id, now)
        else:
            reply_ids = await repo.soft_delete_replies(tx.conn, stored.id, now)
        await post_files.delete_with_posts(tx, stored, reply_ids, now)  # as a local delete: no longer downloadable
        tx.emit(Event("post_deleted", {"post": dumps(post_json(stored))}, channel_id=channel.id,
                      team_id=channel.team_id, origin=origin))
        await record_change(tx, channel, "post", stored.id, origin, now=now)
        # The cascade is a change of each reply: recorded, so a server that got a reply the root's sender never
        # saw deletes it too (a reply racing its root's deletion ends deleted everywhere).
        await record_changes(tx, channel, "post", reply_ids, origin, now=now)
        return DELETED
    values: dict[str, Any] = {}
    scope = p.get(CHANGES_KEY)
    content = not isinstance(scope, list) or "content" in scope
    pin = not isinstance(scope, list) or "pin" in scope
    edit_at = _int(p.get("edit_at"))
    file_ids = _file_ids(p.get("file_ids"))
    # Last writer wins on edit_at; an exact tie is broken by content so both sides pick the same winner.
    newer = edit_at > stored.edit_at or (edit_at == stored.edit_at and message > stored.message)
    edits = content and (message != stored.message or file_ids != stored.file_ids) and newer
    props = plugin_components.for_shared(d.config, without_marker(_props(p.get("props"))))
    new_props = content and "props" in p and props != without_marker(stored.props) and edit_at >= stored.edit_at
    if edits or new_props:  # refused before anything of the item is written
        await _allowed(check_content_change(tx, stored.user_id, origin, channel.id))
    if edits:
        values.update(message=message, hashtags=parse_hashtags(message), edit_at=edit_at, file_ids=file_ids)
        if file_ids:
            await _attach_present_files(tx, stored.id, channel.id, stored.user_id, file_ids)
    if new_props:
        values["props"] = keep_marker(props, stored.props)
    priority = synced_priority(p.get("metadata"))  # Mattermost overwrites it whenever a post carries one
    if content and priority is not None and priority != stored.priority:
        values["priority"] = priority
    values.update(_pin_change(stored, p, pin, now))
    if not values:
        return UNCHANGED
    if values.keys() == {"is_pinned", "pin_at"} and values["is_pinned"] == stored.is_pinned:
        # Only the clock moved (a concurrent pin with the same outcome). Keep and relay it: servers that still
        # hold the older clock would otherwise let a stale unpin win there and not here. Nothing to show.
        await repo.update_post(tx.conn, stored.id, {"pin_at": values["pin_at"]})
        await record_change(tx, channel, "pin", stored.id, origin, now=now)
        return UNCHANGED
    values["update_at"] = now
    await repo.update_post(tx.conn, stored.id, values)
    for key, value in values.items():
        setattr(stored, key, value)
    await attach_metadata(tx.conn, [stored])
    tx.emit(Event("post_edited", {"post": dumps(post_json(stored))}, channel_id=channel.id,
                  team_id=channel.team_id, origin=origin))
    if "is_pinned" in values:
        await record_change(tx, channel, "pin", stored.id, origin, now=now)
    if values.keys() - {"is_pinned", "pin_at", "update_at"}:
        await record_change(tx, channel, "post", stored.id, origin, now=now)
    return UPDATED


async def _allowed(check: Any) -> None:
    try:
        await check
    except NotAllowed as err:
        raise ItemRefused(str(err)) from None


def _pin_change(stored: Post, p: dict[str, Any], in_scope: bool, now: int) -> dict[str, Any]:
    """The incoming pin state, if it wins. With a clock, (pin_at, is_pinned) is a last-writer-wins register:
    the later write wins whatever the scope says, and an exact tie goes to "pinned", so every server picks
    the same winner whatever order the changes arrive in. Without one (Mattermost), the pin scope decides."""
    pinned = p.get("is_pinned") is True
    if PIN_AT_KEY not in p:
        if in_scope and pinned != stored.is_pinned:
            return {"is_pinned": pinned, "pin_at": max(now, stored.pin_at + 1)}
        return {}
    pin_at = _int(p.get(PIN_AT_KEY))
    if (pin_at, pinned) > (stored.pin_at, stored.is_pinned):
        return {"is_pinned": pinned, "pin_at": pin_at}
    return {}


async def do_upsert_post_from_remote(d: Domain, origin: str, channel_id: str, p: dict[str, Any],
                                     message: str) -> str:
    """One synced post in its own transaction (see :func:`upsert_post`)."""
    async with transaction(d) as tx:
        return await upsert_post(d, tx, origin, await get_channel_row(tx.conn, channel_id), p, message)


async def upsert_post(d: Domain, tx: Tx, origin: str, channel: Channel, p: dict[str, Any], message: str) -> str:
    """Create, update or delete one synced post inside the caller's transaction. ``message`` is already
    mention-transformed. Every refusal (:class:`ItemRefused`, AppError) is raised before anything is written,
    so a caller applying a whole sync message in one transaction can skip the item and go on."""
    check_post(channel, p, message)
    return await apply_post(d, tx, origin, channel, await repo.select_post(tx.conn, p["id"], for_update=True),
                            p, message)


def check_post(channel: Channel, p: dict[str, Any], message: str) -> None:
    """The checks of a synced post that need no database (raises :class:`ItemRefused`)."""
    if not is_valid_id(p.get("id")):
        raise ItemRefused("invalid post id")
    if p.get("channel_id") != channel.id:
        raise ItemRefused("post is not in the synced channel")
    if len(message) > MESSAGE_MAX_RUNES:
        raise ItemRefused("message too long")


async def apply_post(d: Domain, tx: Tx, origin: str, channel: Channel, stored: dict[str, Any] | None,
                     p: dict[str, Any], message: str) -> str:
    """:func:`upsert_post` after :func:`check_post`, given the post's current row, read and locked (None: new)."""
    if stored is None:
        return await _create(d, tx, channel, origin, p, message)
    if stored["channel_id"] != channel.id:
        raise ItemRefused("post id belongs to another channel")
    return await _update(d, tx, channel, origin, Post(**stored), p, message)


async def do_upsert_reaction_from_remote(d: Domain, origin: str, channel_id: str, r: dict[str, Any]) -> str:
    """One synced reaction in its own transaction (see :func:`upsert_reaction`)."""
    async with transaction(d) as tx:
        return await upsert_reaction(d, tx, origin, await get_channel_row(tx.conn, channel_id), r)


async def upsert_reaction(d: Domain, tx: Tx, origin: str, channel: Channel, r: dict[str, Any]) -> str:
    """Add, revive or remove one synced reaction (its owner's ``update_at`` orders the changes). Refusals are
    raised before anything is written, as in :func:`upsert_post`."""
    channel_id = channel.id
    post_id, emoji = r.get("post_id"), r.get("emoji_name")
    if not is_valid_id(post_id) or not isinstance(emoji, str) or not EMOJI_NAME_RE.fullmatch(emoji):
        raise ItemRefused("invalid reaction")
    assert isinstance(post_id, str)
    delete_at = _int(r.get("delete_at"))
    if delete_at and await sender_is_home(tx, channel_id, origin) and is_valid_id(r.get("user_id")):
        # The home may remove anyone's reaction (moderation), our own users' too
        row_user = await users_repo.select_user(tx.conn, str(r.get("user_id")))
        if row_user is None:
            raise ItemRefused("reaction of an unknown user")
        user = User(**row_user)
    else:
        user = await author_from(tx, r.get("user_id"), origin, channel_id)
    post = await repo.select_post(tx.conn, post_id, for_update=True)
    if post is None or post["channel_id"] != channel_id:
        raise ItemRefused("reaction to a post outside the synced channel")
    existing = await reactions_repo.select_reaction(tx.conn, user.id, post_id, emoji)
    now = d.now()
    update_at = _int(r.get("update_at")) or _int(r.get("create_at")) or now
    if existing is None:
        row: dict[str, Any] = {"user_id": user.id, "post_id": post_id, "emoji_name": emoji,
                               "create_at": _int(r.get("create_at")) or now, "update_at": update_at,
                               "delete_at": delete_at, "remote_id": origin, "channel_id": channel_id}
        await reactions_repo.insert_reaction(tx.conn, row)
        if delete_at:
            return UNCHANGED  # a reaction we never saw live: remember it as removed, nothing to show
        kind, outcome = "reaction_added", CREATED
    else:
        if update_at <= existing["update_at"]:
            return UNCHANGED  # older than (or the same as) what we have: a replay
        values = {"update_at": update_at, "delete_at": delete_at, "remote_id": origin}
        await reactions_repo.update_reaction(tx.conn, user.id, post_id, emoji, values)
        if bool(delete_at) == bool(existing["delete_at"]):
            return UNCHANGED  # newer but the same state: nothing to show or relay
        row = {**existing, **values}
        kind, outcome = ("reaction_removed", DELETED) if delete_at else ("reaction_added", UPDATED)
    await reactions_repo.refresh_post_has_reactions(tx.conn, post_id, max(now, post["update_at"] + 1))
    tx.emit(Event(kind, {"reaction": dumps(reaction_json(Reaction(**row)))}, channel_id=channel_id,
                  team_id=channel.team_id, origin=origin))
    await record_change(tx, channel, "reaction", reaction_entity(post_id, user.id, emoji), origin, now=now)
    return outcome


async def post_system_message(d: Domain, tx: Tx, channel: Channel, user_id: str, message: str,
                              post_type: str = "system_generic") -> Post:
    """A persisted system post in ``channel`` (e.g. "This channel is no longer shared."). Not synced."""
    now = max(d.now(), channel.last_post_at + 1)
    row: dict[str, Any] = {
        "id": new_id(), "create_at": now, "update_at": now, "edit_at": 0, "delete_at": 0, "is_pinned": False,
        "user_id": user_id, "channel_id": channel.id, "root_id": "", "original_id": "", "message": message,
        "type": post_type, "props": {}, "hashtags": "", "file_ids": [], "pending_post_id": "",
        "has_reactions": False, "reply_count": 0, "last_reply_at": 0, "participants": [], "remote_id": None}
    await repo.insert_post(tx.conn, row)
    await repo.update_channel_for_post(tx.conn, channel.id, now, True)
    post = Post(**row)
    tx.emit(Event("posted", {"post": dumps(post_json(post)), "channel_type": channel.type,
                             "channel_name": channel.name, "channel_display_name": channel.display_name,
                             "sender_name": "System", "team_id": channel.team_id, "set_online": False},
                  channel_id=channel.id, team_id=channel.team_id))
    return post


def refused(err: Exception) -> str:
    return err.message if isinstance(err, AppError) else str(err)


async def do_archive_channel_from_remote(d: Domain, channel_id: str, origin: str) -> bool:
    """The home deleted the shared channel: archive our copy too (seed, v10.10+). False if already gone."""
    from isthmus.store.repo import channels as channels_repo

    async with transaction(d) as tx:
        channel = await get_channel_row(tx.conn, channel_id)
        if channel.delete_at:
            return False
        now = d.now()
        await channels_repo.update_channel(tx.conn, channel.id, {"delete_at": now, "update_at": now})
        tx.emit(Event("channel_deleted", {"channel_id": channel.id, "delete_at": now},
                      channel_id="" if channel.type == "O" else channel.id, team_id=channel.team_id, origin=origin))
    return True
