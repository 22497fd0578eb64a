"""Guarded reads: fetch an object *and* check the caller may use it, in one place.

Unknown ids and ids the caller may not see both answer 404 where Mattermost does, 403 where the
object is visible but the action is not allowed, so responses never confirm that a private
object exists. Effective permissions in a channel are the union of the caller's system, team and
channel roles.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden
from isthmus.core.ids import is_valid_id
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor, Channel, ChannelMember, Team, TeamMember
from isthmus.domain.roles import permissions_of
from isthmus.store.repo import access as repo


def _bad_id(name: str) -> AppError:
    return AppError("api.context.invalid_url_param.app_error", f"Invalid or missing {name} in request URL.",
                    400)


async def get_team_row(conn: AsyncConnection, team_id: str) -> Team:
    if not is_valid_id(team_id):
        raise _bad_id("team_id")
    row = await repo.select_team(conn, team_id)
    if row is None:
        raise AppError("app.team.get.find.app_error", "Unable to find the existing team.", 404)
    return Team(**row)


async def get_channel_row(conn: AsyncConnection, channel_id: str) -> Channel:
    if not is_valid_id(channel_id):
        raise _bad_id("channel_id")
    row = await repo.select_channel(conn, channel_id)
    if row is None:
        raise AppError("app.channel.get.existing.app_error", "Unable to find the existing channel.", 404)
    return Channel(**row)


async def team_member_of(conn: AsyncConnection, team_id: str, user_id: str) -> TeamMember | None:
    row = await repo.select_team_member(conn, team_id, user_id)
    if row is None or row["delete_at"]:
        return None
    return TeamMember(**row)


async def channel_member_of(conn: AsyncConnection, channel_id: str, user_id: str) -> ChannelMember | None:
    row = await repo.select_channel_member(conn, channel_id, user_id)
    return ChannelMember(**row) if row else None


async def team_permissions(d: Domain, conn: AsyncConnection, actor: Actor, team_id: str) -> frozenset[str]:
    member = await team_member_of(conn, team_id, actor.user_id)
    return permissions_of(d, actor.roles, member.roles if member else "")


async def channel_permissions(d: Domain, conn: AsyncConnection, actor: Actor,
                              channel: Channel) -> frozenset[str]:
    """Union of system, team and channel roles; empty channel roles when not a member."""
    cmember = await channel_member_of(conn, channel.id, actor.user_id)
    tmember = await team_member_of(conn, channel.team_id, actor.user_id) if channel.team_id else None
    return permissions_of(d, actor.roles, tmember.roles if tmember else "", cmember.roles if cmember else "")


async def access_team(d: Domain, conn: AsyncConnection, actor: Actor, team_id: str,
                      permission: str = "view_team") -> Team:
    """The team, if the caller holds ``permission`` in it (system admins hold everything)."""
    team = await get_team_row(conn, team_id)
    if permission not in await team_permissions(d, conn, actor, team_id):
        if team.delete_at == 0 and team.allow_open_invite and permission == "view_team":
            return team
        raise forbidden(permission)
    return team


async def can_read_channel(d: Domain, conn: AsyncConnection, actor: Actor, channel: Channel) -> bool:
    perms = await channel_permissions(d, conn, actor, channel)
    if "read_channel" in perms and (await channel_member_of(conn, channel.id, actor.user_id) is not None
                                    or "manage_system" in perms):
        return True
    # Public channels are readable by every member of their team (Mattermost's read_public_channel).
    return channel.type == "O" and "read_public_channel" in perms


async def access_channel(d: Domain, conn: AsyncConnection, actor: Actor, channel_id: str,
                         permission: str = "read_channel") -> Channel:
    """The channel, if the caller may read it and holds ``permission`` there.

    Readability is checked first: a channel the caller cannot read answers 403 like Mattermost
    (``api.context.permissions.app_error``), never its content.
    """
    channel = await get_channel_row(conn, channel_id)
    if not await can_read_channel(d, conn, actor, channel):
        raise forbidden("read_channel")
    if permission != "read_channel":
        perms = await channel_permissions(d, conn, actor, channel)
        if permission not in perms:
            raise forbidden(permission)
    return channel
