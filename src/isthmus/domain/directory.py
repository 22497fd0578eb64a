"""Small reads Mattermost's apps make at startup: known users, server limits, team stats."""

from __future__ import annotations

from typing import Any

from isthmus.domain.access import access_team
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor
from isthmus.domain.roles import has_system_permission
from isthmus.store.repo import directory as repo


async def get_known_users(d: Domain, actor: Actor) -> list[str]:
    """Everyone who shares a channel with the caller (people of connected workspaces included)."""
    async with d.db.read() as conn:
        return await repo.select_known_user_ids(conn, actor.user_id)


async def get_server_limits(d: Domain, actor: Actor) -> dict[str, Any]:
    # Isthmus has no licence and no user cap: 0 means "no limit" to the apps. As in Mattermost, only
    # those who may read the user list learn how many active users there are.
    count = 0
    if has_system_permission(d, actor, "sysconsole_read_user_management_users") \
            or has_system_permission(d, actor, "manage_system"):
        async with d.db.read() as conn:
            count = await repo.count_active_users(conn)
    return {"activeUserCount": count, "maxUsersLimit": 0, "maxUsersHardLimit": 0}


async def get_team_stats(d: Domain, actor: Actor, team_id: str) -> dict[str, Any]:
    async with d.db.read() as conn:
        await access_team(d, conn, actor, team_id)
        total, active = await repo.team_member_counts(conn, team_id)
    return {"team_id": team_id, "total_member_count": total, "active_member_count": active}
