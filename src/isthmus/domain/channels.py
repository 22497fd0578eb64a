"""Channels: create (public/private, direct, group), read, patch, archive and restore.

Membership changes live in ``domain/members.py``; the one low-level ``insert_member`` helper is
here because creating a team or a channel also creates memberships in the same transaction.
Direct channels are named ``<lowId>__<highId>`` and group channels by a sha1 of their sorted
member ids, so creating either twice returns the first (both are idempotent, as in Mattermost).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import (
    access_channel,
    can_read_channel,
    channel_member_of,
    channel_permissions,
    get_channel_row,
    get_team_row,
    team_permissions,
)
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, Channel, ChannelMember
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import channel_json, dumps
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as repo

CHANNEL_NAME_RE = re.compile(r"^[a-z0-9]+([a-z0-9_-]*[a-z0-9]+)?$")
NAME_MAX, DISPLAY_NAME_MAX, PURPOSE_MAX, HEADER_MAX = 64, 64, 250, 1024
GROUP_MIN_USERS, GROUP_MAX_USERS = 3, 8
DEFAULT_CHANNELS = (("town-square", "Town Square"), ("off-topic", "Off-Topic"))
TOWN_SQUARE = "town-square"
ADMIN_ROLES, USER_ROLES = "channel_user channel_admin", "channel_user"


def default_notify_props() -> dict[str, str]:
    return {"desktop": "default", "email": "default", "push": "default", "mark_unread": "all",
            "ignore_channel_mentions": "default", "channel_auto_follow_threads": "off"}


def exists_error() -> AppError:
    return invalid("store.sql_channel.save_channel.exists.app_error",
                   "A channel with that name already exists on the same team.")


def deleted_error(action: str) -> AppError:
    return invalid(f"api.channel.{action}.deleted.app_error", "The channel has been archived or deleted.")


def _text(fields: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    value = fields.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise invalid(f"model.channel.is_valid.{key}.app_error", f"Invalid {key} for the channel.")
    return value


def check_channel_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > NAME_MAX or not CHANNEL_NAME_RE.fullmatch(name):
        raise invalid("model.channel.is_valid.2_or_more.app_error",
                      "Name must be 1 to 64 lowercase alphanumeric characters, '-' or '_', "
                      "starting and ending with a letter or number.")
    return name


def check_channel_fields(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validated subset of name/display_name/purpose/header; unknown keys are ignored."""
    out: dict[str, Any] = {}
    if creating or fields.get("name") is not None:
        out["name"] = check_channel_name(fields.get("name"))
    display = _text(fields, "display_name", DISPLAY_NAME_MAX,
                    required=creating or fields.get("display_name") is not None)
    if display is not None:
        out["display_name"] = display
    for key, limit in (("purpose", PURPOSE_MAX), ("header", HEADER_MAX)):
        value = _text(fields, key, limit)
        if value is not None:
            out[key] = value
    return out


def new_channel_row(d: Domain, *, team_id: str, type_: str, name: str, display_name: str, creator_id: str,
                    purpose: str = "", header: str = "") -> dict[str, Any]:
    now = d.now()
    return {"id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "team_id": team_id,
            "type": type_, "display_name": display_name, "name": name, "header": header, "purpose": purpose,
            "last_post_at": now, "last_root_post_at": now, "total_msg_count": 0, "total_msg_count_root": 0,
            "creator_id": creator_id, "scheme_id": None, "group_constrained": False, "shared": False,
            "props": {}}


async def insert_member(d: Domain, conn: AsyncConnection, channel_id: str, user_id: str,
                        roles: str = USER_ROLES) -> ChannelMember:
    """Insert a membership row without checks (callers have checked)."""
    row: dict[str, Any] = {
           "channel_id": channel_id, "user_id": user_id, "roles": roles, "last_viewed_at": 0, "msg_count": 0,
           "msg_count_root": 0, "mention_count": 0, "mention_count_root": 0, "urgent_mention_count": 0,
           "notify_props": default_notify_props(), "last_update_at": d.now(),
           "scheme_user": "channel_user" in roles.split(), "scheme_admin": "channel_admin" in roles.split(),
           "scheme_guest": False}
    await repo.insert_channel_member(conn, row)
    return ChannelMember(**row)


async def create_default_channels(d: Domain, conn: AsyncConnection, team_id: str, creator_id: str) -> None:
    for name, display in DEFAULT_CHANNELS:
        row = new_channel_row(d, team_id=team_id, type_="O", name=name, display_name=display,
                              creator_id=creator_id)
        await repo.insert_channel(conn, row)
        if creator_id:
            await insert_member(d, conn, row["id"], creator_id, ADMIN_ROLES)


async def join_default_channels(d: Domain, tx: Tx, team_id: str, user_id: str, origin: str | None = None) -> None:
    """Mattermost joins a new team member to town-square and off-topic."""
    for row in await repo.select_channels_by_names(tx.conn, team_id, [n for n, _ in DEFAULT_CHANNELS]):
        if await channel_member_of(tx.conn, row["id"], user_id) is None:
            await insert_member(d, tx.conn, row["id"], user_id)
            tx.emit(Event("user_added", {"user_id": user_id, "team_id": team_id}, channel_id=row["id"],
                          team_id=team_id, origin=origin))


async def do_create_channel(d: Domain, actor: Actor, fields: dict[str, Any]) -> Channel:
    type_ = fields.get("type")
    if type_ not in ("O", "P"):
        raise invalid("model.channel.is_valid.type.app_error", "Invalid type.")
    team_id = fields.get("team_id")
    if not is_valid_id(team_id):
        raise invalid("model.channel.is_valid.team_id.app_error", "Invalid team id.")
    assert isinstance(team_id, str)
    values = check_channel_fields(fields, creating=True)
    permission = "create_public_channel" if type_ == "O" else "create_private_channel"
    try:
        async with transaction(d) as tx:
            team_row = await access_repo.select_team(tx.conn, team_id)
            if team_row is None:
                raise AppError("app.team.get.find.app_error", "Unable to find the existing team.", 404)
            if permission not in await team_permissions(d, tx.conn, actor, team_id):
                raise forbidden(permission)
            if team_row["delete_at"]:
                raise invalid("api.channel.create_channel.team_deleted.app_error", "The team has been deleted.")
            if await repo.select_channel_by_name(tx.conn, team_id, values["name"]) is not None:
                raise exists_error()
            if await repo.count_team_channels(tx.conn, team_id) >= d.config.TeamSettings.MaxChannelsPerTeam:
                raise invalid("api.channel.create_channel.max_channel_limit.app_error",
                              "This team has reached its limit of channels.")
            row = new_channel_row(d, team_id=team_id, type_=type_, name=values["name"],
                                  display_name=values["display_name"], creator_id=actor.user_id,
                                  purpose=values.get("purpose", ""), header=values.get("header", ""))
            await repo.insert_channel(tx.conn, row)
            await insert_member(d, tx.conn, row["id"], actor.user_id, ADMIN_ROLES)
            tx.emit(Event("channel_created", {"channel_id": row["id"], "team_id": team_id},
                          user_id=actor.user_id, team_id=team_id))
    except IntegrityError:
        raise exists_error() from None  # lost a race with a concurrent create of the same name
    return Channel(**row)


def direct_channel_name(a: str, b: str) -> str:
    low, high = sorted((a, b))
    return f"{low}__{high}"


def group_channel_name(user_ids: list[str]) -> str:
    """Mattermost's GetGroupNameFromUserIds: sha1 over the sorted ids, concatenated."""
    h = hashlib.sha1()
    for uid in sorted(user_ids):
        h.update(uid.encode())
    return h.hexdigest()


# Run in the transaction that creates (or returns) a DM/GM: ``domain.sharing.direct`` refuses or shares it with
# the remote participants' servers there (a registry because share_direct imports this module).
DirectHook = Callable[[Domain, Tx, dict[str, Any], list[str], str, bool], Awaitable[None]]
DIRECT_HOOKS: list[DirectHook] = []


async def _run_direct_hooks(d: Domain, tx: Tx, row: dict[str, Any], members: list[str], actor_id: str,
                            created: bool) -> None:
    for hook in DIRECT_HOOKS:
        await hook(d, tx, row, members, actor_id, created)


def _bad_user_ids() -> AppError:
    return invalid("api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.")


async def do_create_direct_channel(d: Domain, actor: Actor, user_ids: list[str]) -> Channel:
    if len(user_ids) != 2 or not all(is_valid_id(u) for u in user_ids):
        raise _bad_user_ids()
    if actor.user_id not in user_ids and not has_system_permission(d, actor, "manage_system"):
        raise forbidden("manage_system")
    if not has_system_permission(d, actor, "create_direct_channel"):
        raise forbidden("create_direct_channel")
    name = direct_channel_name(user_ids[0], user_ids[1])
    members = sorted(set(user_ids))
    for attempt in (1, 2):
        try:
            async with transaction(d) as tx:
                existing = await repo.select_channel_by_name(tx.conn, "", name)
                if existing is not None:
                    await _run_direct_hooks(d, tx, existing, members, actor.user_id, False)
                    return Channel(**existing)
                if len(await repo.select_usernames(tx.conn, members)) != len(members):
                    raise invalid("api.channel.create_direct_channel.invalid_user.app_error",
                                  "Invalid user ID for direct channel creation.")
                row = new_channel_row(d, team_id="", type_="D", name=name, display_name="",
                                      creator_id=actor.user_id)
                await repo.insert_channel(tx.conn, row)
                for uid in members:
                    await insert_member(d, tx.conn, row["id"], uid)
                await _run_direct_hooks(d, tx, row, members, actor.user_id, True)
                for uid in members:
                    teammate = next((m for m in members if m != uid), uid)
                    tx.emit(Event("direct_added", {"creator_id": actor.user_id, "teammate_id": teammate},
                                  user_id=uid, channel_id=row["id"]))
            return Channel(**row)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def do_create_group_channel(d: Domain, actor: Actor, user_ids: list[str]) -> Channel:
    if not all(is_valid_id(u) for u in user_ids):
        raise _bad_user_ids()
    members = sorted({*user_ids, actor.user_id})  # the creator is always in the group
    if not GROUP_MIN_USERS <= len(members) <= GROUP_MAX_USERS:
        raise invalid("api.channel.create_group.bad_size.app_error",
                      "Group message channels must contain at least 3 and no more than 8 users.")
    if not has_system_permission(d, actor, "create_group_channel"):
        raise forbidden("create_group_channel")
    name = group_channel_name(members)
    for attempt in (1, 2):
        try:
            async with transaction(d) as tx:
                existing = await repo.select_channel_by_name(tx.conn, "", name)
                if existing is not None:
                    await _run_direct_hooks(d, tx, existing, members, actor.user_id, False)
                    return Channel(**existing)
                names = await repo.select_usernames(tx.conn, members)
                if len(names) != len(members):
                    raise invalid("api.channel.create_group.bad_user.app_error",
                                  "One of the provided users does not exist.")
                display = ", ".join(sorted(names.values()))[:DISPLAY_NAME_MAX]
                row = new_channel_row(d, team_id="", type_="G", name=name, display_name=display,
                                      creator_id=actor.user_id)
                await repo.insert_channel(tx.conn, row)
                for uid in members:
                    await insert_member(d, tx.conn, row["id"], uid)
                await _run_direct_hooks(d, tx, row, members, actor.user_id, True)
                tx.emit(Event("group_added", {"teammate_ids": dumps(members)}, channel_id=row["id"]))
            return Channel(**row)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def get_channel(d: Domain, actor: Actor, channel_id: str) -> Channel:
    async with d.db.read() as conn:
        return await access_channel(d, conn, actor, channel_id)


async def get_channel_by_name(d: Domain, actor: Actor, team_id: str, name: str, *,
                              include_deleted: bool = False) -> Channel:
    """Private channels the caller cannot read answer 404, so a name never confirms one exists."""
    missing = AppError("app.channel.get_by_name.missing.app_error", "Channel does not exist.", 404)
    async with d.db.read() as conn:
        row = await repo.select_channel_by_name(conn, team_id, name)
        if row is None or (row["delete_at"] and not include_deleted):
            raise missing
        channel = Channel(**row)
        if not await can_read_channel(d, conn, actor, channel):
            if channel.type != "O":
                raise missing
            raise forbidden("read_public_channel")
        return channel


async def list_team_channels(d: Domain, actor: Actor, team_id: str, *, private: bool, page: int,
                             per_page: int) -> list[Channel]:
    async with d.db.read() as conn:
        await get_team_row(conn, team_id)
        perms = await team_permissions(d, conn, actor, team_id)
        needed = "manage_system" if private else "list_team_channels"
        if needed not in perms:
            raise forbidden(needed)
        rows = await repo.select_team_channels(conn, team_id, types=("P",) if private else ("O",),
                                               offset=page * per_page, limit=per_page)
    return [Channel(**r) for r in rows]


def _can_manage_props(perms: frozenset[str], channel: Channel) -> str | None:
    """The missing permission for editing this channel's properties, or None if allowed."""
    if channel.type in ("D", "G"):
        return None  # any member may set a DM/GM header (membership is checked by access_channel)
    needed = "manage_public_channel_properties" if channel.type == "O" else "manage_private_channel_properties"
    return None if needed in perms else needed


async def do_patch_channel(d: Domain, actor: Actor, channel_id: str, patch: dict[str, Any],
                           origin: str | None = None) -> Channel:
    values = check_channel_fields(patch, creating=False)
    async with transaction(d) as tx:
        channel = await access_channel(d, tx.conn, actor, channel_id)
        if channel.type in ("D", "G") and await channel_member_of(tx.conn, channel.id, actor.user_id) is None:
            raise forbidden("manage_private_channel_properties")
        missing = _can_manage_props(await channel_permissions(d, tx.conn, actor, channel), channel)
        if missing:
            raise forbidden(missing)
        if channel.delete_at:
            raise deleted_error("patch_update_channel")
        if channel.type in ("D", "G") and ({"name", "display_name"} & values.keys()):
            raise invalid("api.channel.patch_update_channel.update_direct_or_group_messages_not_allowed.app_error",
                          "You cannot rename a direct or group message channel.")
        if values.get("name", channel.name) != channel.name:
            if channel.name == TOWN_SQUARE:
                raise invalid("api.channel.update_channel.tried.app_error",
                              "Tried to perform an invalid update of the default channel town-square.")
            if await repo.select_channel_by_name(tx.conn, channel.team_id, values["name"]) is not None:
                raise exists_error()
        values = {k: v for k, v in values.items() if getattr(channel, k) != v}
        if not values:
            return channel
        values["update_at"] = d.now()
        await repo.update_channel(tx.conn, channel.id, values)
        updated = dataclasses.replace(channel, **values)
        tx.emit(Event("channel_updated", {"channel": dumps(channel_json(updated))}, channel_id=channel.id,
                      team_id=channel.team_id, origin=origin))
    return updated


# Run inside the transaction that archives a shared channel here (``domain.sharing.shares`` ends the share there,
# so the peers' durable "channel was deleted" notice commits with the archive: a crash right after the
# commit cannot lose it). A registry because shares imports this module.
ArchiveHook = Callable[[Domain, Tx, Channel], Awaitable[None]]
ARCHIVE_HOOKS: list[ArchiveHook] = []


async def do_delete_channel(d: Domain, actor: Actor, channel_id: str, origin: str | None = None) -> Channel:
    async with transaction(d) as tx:
        channel = await access_channel(d, tx.conn, actor, channel_id)
        if channel.type in ("D", "G"):
            raise invalid("api.channel.delete_channel.type.invalid", "Cannot delete direct or group message channels.")
        needed = "delete_public_channel" if channel.type == "O" else "delete_private_channel"
        if needed not in await channel_permissions(d, tx.conn, actor, channel):
            raise forbidden(needed)
        if channel.delete_at:
            raise deleted_error("delete_channel")
        if channel.name == TOWN_SQUARE:
            raise invalid("api.channel.delete_channel.cannot.app_error",
                          "Unable to delete the default channel town-square.")
        now = d.now()
        await repo.update_channel(tx.conn, channel.id, {"delete_at": now, "update_at": now})
        channel.delete_at = channel.update_at = now
        if channel.shared and origin is None:
            for hook in ARCHIVE_HOOKS:
                await hook(d, tx, channel)
        # Public channels are announced to the whole team (they appear in everyone's browse list).
        tx.emit(Event("channel_deleted", {"channel_id": channel.id, "delete_at": now},
                      channel_id="" if channel.type == "O" else channel.id, team_id=channel.team_id,
                      origin=origin))
    return channel


async def do_restore_channel(d: Domain, actor: Actor, channel_id: str, origin: str | None = None) -> Channel:
    async with transaction(d) as tx:
        channel = await get_channel_row(tx.conn, channel_id)
        if not channel.team_id or "manage_team" not in await team_permissions(d, tx.conn, actor, channel.team_id):
            raise forbidden("manage_team")
        if not channel.delete_at:
            raise invalid("api.channel.restore_channel.restored.app_error", "Unable to unarchive channel. "
                          "The channel is not archived.")
        now = d.now()
        await repo.update_channel(tx.conn, channel.id, {"delete_at": 0, "update_at": now})
        channel.delete_at, channel.update_at = 0, now
        tx.emit(Event("channel_restored", {"channel_id": channel.id}, team_id=channel.team_id, origin=origin))
    return channel


async def get_channel_stats(d: Domain, actor: Actor, channel_id: str) -> dict[str, Any]:
    async with d.db.read() as conn:
        channel = await access_channel(d, conn, actor, channel_id)
        members = await repo.count_channel_members(conn, channel.id)
        pinned = await repo.count_pinned_posts(conn, channel.id)
    return {"channel_id": channel.id, "member_count": members, "guest_count": 0,
            "pinnedpost_count": pinned, "files_count": 0}
