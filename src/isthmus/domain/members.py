"""Channel membership: join, add, leave, remove, roles, mark-as-viewed and membership listings.

Readability is checked before anything else (``access_channel``), so a private channel answers
403 to non-members whatever they try, and archived channels refuse membership writes with 400.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import (
    access_channel,
    channel_member_of,
    channel_permissions,
    get_team_row,
    team_member_of,
    team_permissions,
)
from isthmus.domain.changes import record_member_change
from isthmus.domain.channels import TOWN_SQUARE, deleted_error, insert_member
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, Channel, ChannelMember
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import channel_member_json, dumps
from isthmus.domain.sharing.ownership import member_added, member_removed
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as repo
from isthmus.store.repo import users as users_repo

CHANNEL_MEMBER_ROLES = frozenset({"channel_user", "channel_admin"})


def _bad_user_id(where: str = "body") -> AppError:
    return invalid(f"api.context.invalid_{where}_param.app_error", f"Invalid or missing user_id in request {where}.")


def _members_permission(channel: Channel) -> str:
    return "manage_public_channel_members" if channel.type == "O" else "manage_private_channel_members"


def member_missing() -> AppError:
    return AppError("app.channel.get_member.missing.app_error",
                    "No channel member found for that user ID and channel ID.", 404)


async def _check_add(d: Domain, conn: AsyncConnection, actor: Actor, channel: Channel, user_id: str,
                     perms: frozenset[str]) -> None:
    if await channel_member_of(conn, channel.id, user_id) is not None:
        # Already in (possibly added by a concurrent request after ``perms`` was read): a no-op that
        # must not be judged as "adding someone else".
        return
    if user_id == actor.user_id and channel.type == "O":
        if "join_public_channels" not in perms:
            raise forbidden("join_public_channels")
        return
    if _members_permission(channel) not in perms:
        raise forbidden(_members_permission(channel))


async def do_add_channel_members(d: Domain, actor: Actor, channel_id: str, user_ids: list[str],
                                 origin: str | None = None) -> list[ChannelMember]:
    if not user_ids or not all(is_valid_id(u) for u in user_ids):
        raise _bad_user_id()
    try:
        return await _add_channel_members(d, actor, channel_id, user_ids, origin)
    except IntegrityError:
        # A concurrent add inserted one of these rows first; the retry sees it as already a member.
        return await _add_channel_members(d, actor, channel_id, user_ids, origin)


async def _add_channel_members(d: Domain, actor: Actor, channel_id: str, user_ids: list[str],
                               origin: str | None) -> list[ChannelMember]:
    added: list[ChannelMember] = []
    async with transaction(d) as tx:
        channel = await access_channel(d, tx.conn, actor, channel_id)
        if channel.type in ("D", "G"):
            raise invalid("api.channel.add_user_to_channel.type.app_error",
                          "Can not add user to this channel type.")
        if channel.delete_at:
            raise deleted_error("add_user_to_channel")
        perms = await channel_permissions(d, tx.conn, actor, channel)
        for uid in dict.fromkeys(user_ids):
            await _check_add(d, tx.conn, actor, channel, uid, perms)
            existing = await channel_member_of(tx.conn, channel.id, uid)
            if existing is not None:
                added.append(existing)  # already in: idempotent, no event
                continue
            if await users_repo.select_user(tx.conn, uid) is None:
                raise AppError("app.user.missing_account.const", "Unable to find the user.", 404)
            if await team_member_of(tx.conn, channel.team_id, uid) is None:
                raise invalid("api.channel.add_user.to.channel.failed.deleted.app_error",
                              "Failed to add user to channel because they are not a member of the team.")
            added.append(await insert_member(d, tx.conn, channel.id, uid))
            if channel.shared:
                await member_added(tx, channel.id, uid)
            tx.emit(Event("user_added", {"user_id": uid, "team_id": channel.team_id}, channel_id=channel.id,
                          team_id=channel.team_id, origin=origin))
            await record_member_change(tx, channel, uid, origin, now=d.now())
    return added


async def do_remove_channel_member(d: Domain, actor: Actor, channel_id: str, user_id: str,
                                   origin: str | None = None) -> None:
    if not is_valid_id(user_id):
        raise _bad_user_id("url")
    async with transaction(d) as tx:
        channel = await access_channel(d, tx.conn, actor, channel_id)
        if channel.type == "D" or (channel.type == "G" and user_id != actor.user_id):
            raise invalid("api.channel.remove_channel_member.type.app_error",
                          "Unable to remove user from a direct or group message channel.")
        if channel.delete_at:
            raise deleted_error("remove_user_from_channel")
        if user_id != actor.user_id and channel.type != "G":
            needed = _members_permission(channel)
            if needed not in await channel_permissions(d, tx.conn, actor, channel):
                raise forbidden(needed)
        if channel.name == TOWN_SQUARE:
            raise invalid("api.channel.remove.default.app_error",
                          "Unable to remove user from the default channel town-square.")
        if await repo.delete_channel_member(tx.conn, channel.id, user_id) == 0:
            raise member_missing()
        if channel.shared and origin is None:
            await member_removed(tx, channel.id, user_id, d.now())
        tx.emit(Event("user_removed", {"remover_id": actor.user_id, "user_id": user_id}, channel_id=channel.id,
                      team_id=channel.team_id, origin=origin))
        tx.emit(Event("user_removed", {"remover_id": actor.user_id, "channel_id": channel.id}, user_id=user_id,
                      origin=origin))
        await record_member_change(tx, channel, user_id, origin, now=d.now())


async def list_channel_members(d: Domain, actor: Actor, channel_id: str, *, page: int,
                               per_page: int) -> list[ChannelMember]:
    async with d.db.read() as conn:
        channel = await access_channel(d, conn, actor, channel_id)
        rows = await repo.select_channel_members(conn, channel.id, offset=page * per_page, limit=per_page)
    return [ChannelMember(**r) for r in rows]


async def get_channel_member(d: Domain, actor: Actor, channel_id: str, user_id: str) -> ChannelMember:
    if not is_valid_id(user_id):
        raise _bad_user_id("url")
    async with d.db.read() as conn:
        channel = await access_channel(d, conn, actor, channel_id)
        member = await channel_member_of(conn, channel.id, user_id)
    if member is None:
        raise member_missing()
    return member


async def do_view_channel(d: Domain, actor: Actor, user_id: str, channel_id: str,
                          prev_channel_id: str = "") -> dict[str, int]:
    """Mark channels read: counters catch up with the channel's totals; answers each one's new last_viewed_at.

    Channels the user is not a member of are skipped silently, as in Mattermost.
    """
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    for name, value in (("channel_id", channel_id), ("prev_channel_id", prev_channel_id)):
        if value and not is_valid_id(value):
            raise invalid("api.context.invalid_body_param.app_error", f"Invalid or missing {name} in request body.")
    times: dict[str, int] = {}
    async with transaction(d) as tx:
        for cid in dict.fromkeys(c for c in (channel_id, prev_channel_id) if c):
            row = await access_repo.select_channel(tx.conn, cid)
            if row is None or await channel_member_of(tx.conn, cid, user_id) is None:
                continue
            now = max(d.now(), row["last_post_at"])
            await repo.update_channel_member(tx.conn, cid, user_id, {
                "last_viewed_at": now, "msg_count": row["total_msg_count"],
                "msg_count_root": row["total_msg_count_root"], "mention_count": 0, "mention_count_root": 0,
                "urgent_mention_count": 0, "last_update_at": now})
            times[cid] = now
        if channel_id in times:
            tx.emit(Event("channel_viewed", {"channel_id": channel_id}, user_id=user_id))
    return times


async def do_update_member_roles(d: Domain, actor: Actor, channel_id: str, user_id: str,
                                 roles: object) -> ChannelMember:
    names = roles.split() if isinstance(roles, str) else []
    if not names or not set(names) <= CHANNEL_MEMBER_ROLES or "channel_user" not in names:
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing roles in request body.")
    if not is_valid_id(user_id):
        raise _bad_user_id("url")
    role_str = " ".join(r for r in ("channel_user", "channel_admin") if r in names)
    async with transaction(d) as tx:
        channel = await access_channel(d, tx.conn, actor, channel_id)
        if "manage_channel_roles" not in await channel_permissions(d, tx.conn, actor, channel):
            raise forbidden("manage_channel_roles")
        if channel.type in ("D", "G"):
            raise invalid("api.channel.update_channel_member_roles.type.app_error",
                          "Roles cannot be changed in direct or group message channels.")
        if channel.delete_at:
            raise deleted_error("update_channel_member_roles")
        member = await channel_member_of(tx.conn, channel.id, user_id)
        if member is None:
            raise member_missing()
        member.roles, member.scheme_admin, member.last_update_at = role_str, "channel_admin" in names, d.now()
        await repo.update_channel_member(tx.conn, channel.id, user_id, {
            "roles": member.roles, "scheme_admin": member.scheme_admin, "scheme_user": True,
            "last_update_at": member.last_update_at})
        tx.emit(Event("channel_member_updated", {"channelMember": dumps(channel_member_json(member))},
                      user_id=user_id))
    return member


async def _check_user_team(d: Domain, conn: AsyncConnection, actor: Actor, user_id: str, team_id: str | None) -> None:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    if team_id is not None:
        await get_team_row(conn, team_id)
        if "view_team" not in await team_permissions(d, conn, actor, team_id):
            raise forbidden("view_team")


async def list_channels_for_user(d: Domain, actor: Actor, user_id: str, team_id: str | None, *,
                                 include_deleted: bool = False) -> list[Channel]:
    """The user's channels in a team (plus their direct and group channels), or in every team."""
    async with d.db.read() as conn:
        await _check_user_team(d, conn, actor, user_id, team_id)
        rows = await repo.select_channels_for_user(conn, user_id, team_id, include_deleted=include_deleted)
    return [Channel(**r) for r in rows]


async def list_members_for_user(d: Domain, actor: Actor, user_id: str, team_id: str) -> list[ChannelMember]:
    async with d.db.read() as conn:
        await _check_user_team(d, conn, actor, user_id, team_id)
        rows = await repo.select_members_for_user(conn, user_id, team_id)
    return [ChannelMember(**r) for r in rows]


async def get_channel_timezones(d: Domain, actor: Actor, channel_id: str) -> list[str]:
    async with d.db.read() as conn:
        channel = await access_channel(d, conn, actor, channel_id)
        zones: list[Any] = await repo.select_member_timezones(conn, channel.id)
    out: set[str] = set()
    for tz in zones:
        if not isinstance(tz, dict):
            continue
        auto = str(tz.get("useAutomaticTimezone", "true")).lower() == "true"
        name = tz.get("automaticTimezone") if auto else tz.get("manualTimezone")
        if isinstance(name, str) and name:
            out.add(name)
    return sorted(out)
