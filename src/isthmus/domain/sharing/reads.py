"""Guarded reads of shared-channel state for the REST API (``mattermost-protocol.md`` §9)."""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError, forbidden
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel, access_team
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor, User
from isthmus.domain.permissions import PERMISSION_MANAGE_SECURE_CONNECTIONS, PERMISSION_MANAGE_SHARED_CHANNELS
from isthmus.domain.remotes import RemoteCluster, get_remote
from isthmus.domain.roles import has_system_permission
from isthmus.domain.sharing import direct as share_direct
from isthmus.domain.sharing import shares
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import shared as repo
from isthmus.store.repo import users as users_repo


async def list_team_shares(d: Domain, actor: Actor, team_id: str, *, page: int,
                           per_page: int) -> list[shares.SharedChannel]:
    """``GET /sharedchannels/{team_id}``: non-holders of manage_shared_channels see only their channels."""
    shares.require_shares(d)
    async with d.db.read() as conn:
        await access_team(d, conn, actor, team_id)
    member = "" if has_system_permission(d, actor, PERMISSION_MANAGE_SHARED_CHANNELS) else actor.user_id
    return await shares.list_team_shares(d, team_id, member_id=member, page=page, per_page=per_page)


async def list_channel_remote_infos(d: Domain, actor: Actor, channel_id: str) -> list[RemoteCluster]:
    """``GET /sharedchannels/{channel_id}/remotes``: the connections this channel is shared with (read_channel)."""
    shares.require_shares(d)
    async with d.db.read() as conn:
        await access_channel(d, conn, actor, channel_id)
    out: list[RemoteCluster] = []
    for row in await shares.list_channel_remotes(d, channel_id):
        try:
            out.append(await get_remote(d, row.remote_id, include_deleted=True))
        except AppError:
            continue
    return out


async def get_remote_info(d: Domain, actor: Actor, remote_id: str) -> RemoteCluster:
    """``GET /sharedchannels/remote_info/{remote_id}``: only for members of a channel shared with it."""
    shares.require_shares(d)
    rc = await get_remote(d, remote_id, include_deleted=True)
    if has_system_permission(d, actor, PERMISSION_MANAGE_SECURE_CONNECTIONS):
        return rc
    async with d.db.read() as conn:
        for row in await repo.select_remotes_for_remote(conn, remote_id):
            if await access_repo.select_channel_member(conn, row["channel_id"], actor.user_id) is not None:
                return rc
    raise forbidden("read_channel")


async def list_remote_channels(d: Domain, actor: Actor, remote_id: str, *, include_unconfirmed: bool,
                               exclude_confirmed: bool, exclude_home: bool, exclude_remote: bool,
                               include_deleted: bool, page: int, per_page: int) -> list[shares.SharedChannelRemote]:
    """``GET /remotecluster/{remote_id}/sharedchannelremotes`` (manage_secure_connections)."""
    if not has_system_permission(d, actor, PERMISSION_MANAGE_SECURE_CONNECTIONS):
        raise forbidden(PERMISSION_MANAGE_SECURE_CONNECTIONS)
    shares.require_shares(d)
    if not is_valid_id(remote_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing remote_id in request URL.", 400)
    if exclude_home and exclude_remote:
        return []
    home: bool | None = False if exclude_home else True if exclude_remote else None
    filters: dict[str, Any] = {"include_deleted": include_deleted, "home": home,
                               "only_confirmed": not include_unconfirmed and not exclude_confirmed,
                               "only_unconfirmed": exclude_confirmed, "offset": page * per_page, "limit": per_page}
    async with d.db.read() as conn:
        rows = await repo.select_remotes_for_remote(conn, remote_id, **filters)
    return [shares.SharedChannelRemote(**r) for r in rows]


async def can_dm(d: Domain, actor: Actor, user_id: str, other_id: str) -> tuple[bool, str]:
    """``GET /sharedchannels/users/{user_id}/can_dm/{other_user_id}`` (§8.1): a local pair may always DM; a remote
    user only with shared DMs on (``EnableSharedChannelsDMs`` and shared channels) and when the user's own server
    (``OriginalRemoteId``, not a home that relayed them) is directly connected here. Also returns why not, in the
    words the refused ``POST /channels/direct`` would use (our extension, for the web client)."""
    if not is_valid_id(user_id) or not is_valid_id(other_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing user_id in request URL.", 400)
    if actor.user_id != user_id and not has_system_permission(d, actor, "manage_system"):
        raise forbidden("manage_system")
    async with d.db.read() as conn:
        row = await users_repo.select_user(conn, other_id)
        if row is None:
            raise AppError("app.user.missing_account.const", "Unable to find the user.", 404)
        other = User(**row)
        if not other.remote_id:
            return True, ""
        try:
            await share_direct.remote_targets(d, conn, [other])
        except AppError as err:
            return False, err.message
        return True, ""
