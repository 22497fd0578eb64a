"""Shared channels: the records and every write to them (``mattermost-protocol.md`` §1.2–§1.3, §5).

A channel is *shared* when it has a ``shared_channels`` row (and ``channels.shared`` is true). On its
home server it has one ``shared_channel_remotes`` row per invited connection; on every other server it
has exactly one, pointing at the home. Federation (``isthmus.federation.sync``) calls these functions;
the network never runs inside their transactions. Accepting an invite (our copy of a channel shared with
us) is in ``accept``, the invite's confirmation in ``confirm``, reads guarded for REST in ``reads``,
re-invite catch-up and the durable unshare notice in ``resume``.

Cursor rule: a new or restored remote row starts at the current end of the outbox, so history from
before the invitation is not replayed (as in Mattermost), while everything written after the admin
invited (even if the peer was offline and the invite is still pending) will be delivered (a restored row
also replays what it missed meanwhile: ``resume``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from isthmus.core.errors import AppError, forbidden
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import channel_permissions, get_channel_row
from isthmus.domain.changes import record_member_change
from isthmus.domain.channels import ARCHIVE_HOOKS
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, Channel
from isthmus.domain.permissions import PERMISSION_MANAGE_SHARED_CHANNELS, PERMISSION_MANAGE_SYSTEM
from isthmus.domain.remotes import DELETE_HOOKS
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import channel_json, dumps
from isthmus.domain.sharing.notices import post_notice
from isthmus.domain.sharing.resume import (
    UNSHARE_NOTICE_DELETED,
    UNSHARE_NOTICE_NONE,
    UNSHARE_NOTICE_UNSHARED,
    replay_missed,
    stop_receiving,
)
from isthmus.domain.synced.users import member_sync_enabled
from isthmus.store.repo import clocks as clocks_repo
from isthmus.store.repo import shared as repo
from isthmus.store.repo import user_sync as user_sync_repo

EVENT_REMOTE_UPDATED = "shared_channel_remote_updated"
# Internal (not a websocket event): the sharing of a channel changed; the sender drops its caches.
EVENT_SHARES_CHANGED = "shared_channels_changed"
# Internal: a connection was removed; data = channel ids it shared and our copies of its channels.
EVENT_CONNECTION_UNSHARED = "shared_channels_connection_removed"
# A shared channel archived here was unshared in the same transaction: the federation layer pokes the senders.
EVENT_ARCHIVED_UNSHARED = "shared_channel_archived"


@dataclass(slots=True)
class SharedChannel:
    channel_id: str
    team_id: str
    home: bool
    readonly: bool
    share_name: str
    share_display_name: str
    share_purpose: str
    share_header: str
    creator_id: str
    create_at: int
    update_at: int
    remote_id: str


@dataclass(slots=True)
class SharedChannelRemote:
    id: str
    channel_id: str
    creator_id: str
    create_at: int
    update_at: int
    delete_at: int
    is_invite_accepted: bool
    is_invite_confirmed: bool
    remote_id: str
    last_post_update_at: int
    last_post_update_id: str
    last_post_create_at: int
    last_post_create_id: str
    last_members_sync_at: int
    outbox_cursor: int
    unsent_since: int = 0
    unshare_notice: int = 0
    confirmed_by_sync: bool = False
    to_home: bool = False


def shared_channel_json(s: SharedChannel) -> dict[str, Any]:
    out: dict[str, Any] = {"id": s.channel_id, "team_id": s.team_id, "home": s.home, "readonly": s.readonly,
                           "name": s.share_name, "display_name": s.share_display_name,
                           "purpose": s.share_purpose, "header": s.share_header, "creator_id": s.creator_id,
                           "create_at": s.create_at, "update_at": s.update_at}
    if s.remote_id:
        out["remote_id"] = s.remote_id
    return out


def shared_channel_remote_json(r: SharedChannelRemote) -> dict[str, Any]:
    return {"id": r.id, "channel_id": r.channel_id, "creator_id": r.creator_id, "create_at": r.create_at,
            "update_at": r.update_at, "delete_at": r.delete_at, "is_invite_accepted": r.is_invite_accepted,
            "is_invite_confirmed": r.is_invite_confirmed, "remote_id": r.remote_id,
            "last_post_update_at": r.last_post_update_at, "last_post_id": r.last_post_update_id,
            "last_post_create_at": r.last_post_create_at, "last_post_create_id": r.last_post_create_id,
            "last_members_sync_at": r.last_members_sync_at}


# --- switches and permissions ------------------------------------------------------------------------

PERMISSION_MANAGE_CHANNEL_ROLES = "manage_channel_roles"


def shares_enabled(d: Domain) -> bool:
    cw = d.config.ConnectedWorkspacesSettings
    return bool(cw.EnableSharedChannels and cw.EnableRemoteClusterService)


def require_shares(d: Domain) -> None:
    if not shares_enabled(d):
        raise AppError("api.shared_channel.service_not_enabled.app_error",
                       "Shared Channels Service is not enabled.", 501)


def authorize(d: Domain, actor: Actor) -> None:
    """``manage_shared_channels`` first, then the service switches (Mattermost's order)."""
    if not has_system_permission(d, actor, PERMISSION_MANAGE_SHARED_CHANNELS):
        raise forbidden(PERMISSION_MANAGE_SHARED_CHANNELS)
    require_shares(d)


async def authorize_channel(d: Domain, actor: Actor, channel_id: str) -> None:
    """Share or unshare one channel: ``manage_shared_channels`` (system admin, or the shared_channel_manager
    role), and, below system admin, administering that channel (channel or team admin: manage_channel_roles)."""
    authorize(d, actor)
    if has_system_permission(d, actor, PERMISSION_MANAGE_SYSTEM):
        return
    async with d.db.read() as conn:
        channel = await get_channel_row(conn, channel_id)
        if PERMISSION_MANAGE_CHANNEL_ROLES not in await channel_permissions(d, conn, actor, channel):
            raise forbidden(PERMISSION_MANAGE_CHANNEL_ROLES)


def not_home_error() -> AppError:
    return AppError("api.command_share.channel_invite_not_home.error",
                    "Cannot invite secure connection to a shared channel originating somewhere else.", 400)


def no_remote_error(remote_id: str) -> AppError:
    return AppError("api.command_share.channel_remote_id_not_exists",
                    f"Shared channel secure connection `{remote_id}` does not exist for this channel.", 400)


def _not_shared_error(channel_id: str) -> AppError:
    return AppError("api.command_share.channel_not_shared.error", "This channel is not shared.", 400,
                    f"channel_id={channel_id}")


# --- reads ---------------------------------------------------------------------------------------------

async def get_share(d: Domain, channel_id: str) -> SharedChannel | None:
    async with d.db.read() as conn:
        row = await repo.select_shared_channel(conn, channel_id)
    return SharedChannel(**row) if row else None


async def get_channel_remote(d: Domain, channel_id: str, remote_id: str) -> SharedChannelRemote | None:
    async with d.db.read() as conn:
        row = await repo.select_remote(conn, channel_id, remote_id)
    return SharedChannelRemote(**row) if row else None


async def list_channel_remotes(d: Domain, channel_id: str, *,
                               include_deleted: bool = False) -> list[SharedChannelRemote]:
    async with d.db.read() as conn:
        rows = await repo.select_remotes_for_channel(conn, channel_id, include_deleted=include_deleted)
    return [SharedChannelRemote(**r) for r in rows]


async def list_remote_channels(d: Domain, remote_id: str, **filters: Any) -> list[SharedChannelRemote]:
    async with d.db.read() as conn:
        rows = await repo.select_remotes_for_remote(conn, remote_id, **filters)
    return [SharedChannelRemote(**r) for r in rows]


async def list_team_shares(d: Domain, team_id: str, *, member_id: str = "", page: int = 0,
                           per_page: int = 200) -> list[SharedChannel]:
    async with d.db.read() as conn:
        rows = await repo.select_shared_channels_for_team(conn, team_id, member_id=member_id,
                                                          offset=page * per_page, limit=per_page)
    return [SharedChannel(**r) for r in rows]


# --- writes ---------------------------------------------------------------------------------------------

async def emit_channel_updated(tx: Tx, channel_id: str) -> Channel:
    channel = await get_channel_row(tx.conn, channel_id)
    tx.emit(Event("channel_updated", {"channel": dumps(channel_json(channel))}, channel_id=channel.id,
                  team_id=channel.team_id))
    return channel


def emit_remote_updated(tx: Tx, channel_id: str, remote_id: str) -> None:
    tx.emit(Event(EVENT_REMOTE_UPDATED, {"channel_id": channel_id, "remote_id": remote_id}, channel_id=channel_id))
    tx.emit(Event(EVENT_SHARES_CHANGED, {"channel_id": channel_id, "remote_id": remote_id}))


def share_row(d: Domain, channel: Channel, creator_id: str, *, home: bool, readonly: bool,
               remote_id: str = "") -> dict[str, Any]:
    now = d.now()
    return {"channel_id": channel.id, "team_id": channel.team_id, "home": home, "readonly": readonly,
            "share_name": channel.name, "share_display_name": channel.display_name[:64],
            "share_purpose": channel.purpose[:250], "share_header": channel.header[:1024],
            "creator_id": creator_id, "create_at": now, "update_at": now, "remote_id": remote_id}


async def share_in_tx(d: Domain, tx: Tx, channel: Channel, creator_id: str, *, readonly: bool) -> SharedChannel:
    """Share ``channel`` (home side) unless it already is; idempotent."""
    existing = await repo.select_shared_channel(tx.conn, channel.id, for_update=True)
    if existing is not None:
        return SharedChannel(**existing)
    if channel.type not in ("O", "P"):
        raise AppError("api.command_share.channel_type.error",
                       "Only public and private channels can be shared.", 400)
    if channel.delete_at:
        raise AppError("api.command_share.channel_archived.error", "An archived channel cannot be shared.", 400)
    row = share_row(d, channel, creator_id, home=True, readonly=readonly)
    await repo.insert_shared_channel(tx.conn, row)
    await repo.set_channel_shared(tx.conn, channel.id, True, d.now())
    await emit_channel_updated(tx, channel.id)
    tx.emit(Event(EVENT_SHARES_CHANGED, {"channel_id": channel.id}))
    return SharedChannel(**row)


async def do_share_channel(d: Domain, actor: Actor, channel_id: str, *, readonly: bool = False) -> SharedChannel:
    authorize(d, actor)
    async with transaction(d) as tx:
        channel = await get_channel_row(tx.conn, channel_id)
        return await share_in_tx(d, tx, channel, actor.user_id, readonly=readonly)


async def do_invite_remote(d: Domain, actor: Actor, channel_id: str, remote_id: str, *, readonly: bool = False,
                           confirmed: bool = False, workspace: str = "") -> tuple[SharedChannelRemote, bool]:
    """Share the channel if needed and add (or restore) the remote. Returns (row, created_or_restored).
    With ``workspace`` (the connection's name) the channel says it is now shared with it.

    Refused when the channel is homed elsewhere (no re-sharing). The caller delivers the invite and
    then calls ``confirm.do_confirm_invite``.
    """
    async with transaction(d) as tx:
        channel = await get_channel_row(tx.conn, channel_id)
        share = await share_in_tx(d, tx, channel, actor.user_id, readonly=readonly)
        if not share.home:
            raise not_home_error()
        if share.remote_id == remote_id:
            raise not_home_error()
        existing = await repo.select_remote(tx.conn, channel.id, remote_id)
        if existing is not None and existing["delete_at"] == 0:
            return SharedChannelRemote(**existing), False
        now, cursor = d.now(), await repo.max_seq(tx.conn)
        values: dict[str, Any] = {"delete_at": 0, "update_at": now, "is_invite_accepted": True,
                                  "is_invite_confirmed": confirmed, "creator_id": actor.user_id,
                                  "outbox_cursor": cursor, "last_post_update_at": now, "last_post_create_at": now,
                                  "last_post_update_id": "", "last_post_create_id": "",
                                  "unshare_notice": UNSHARE_NOTICE_NONE, "confirmed_by_sync": False,
                                  "to_home": False}
        if existing is not None:
            await repo.update_remote(tx.conn, existing["id"], values)
            row = {**existing, **values}
        else:
            row = {"id": new_id(), "channel_id": channel.id, "create_at": now, "remote_id": remote_id,
                   "last_members_sync_at": 0, **values}
            await repo.insert_remote(tx.conn, row)
        if member_sync_enabled(d):  # the current members travel first (§8.2 initial member list)
            await _initial_members(tx, dataclasses.replace(channel, shared=True), now)
        if existing is not None:
            await replay_missed(tx, channel, existing, now)
        if workspace:
            await post_notice(d, tx, channel, actor.user_id, workspace, shared=True)
        emit_remote_updated(tx, channel.id, remote_id)
        return SharedChannelRemote(**row), True


async def _initial_members(tx: Tx, channel: Channel, now: int) -> None:
    """Every member, not only ours: a server invited after others must learn their people too (#33879), through
    the home. A synthetic member's row names its owner as origin, so it never goes back there; each keeps its
    membership clock (a home's invite is not a newer join, and must not beat a concurrent leave on its owner)."""
    owners = await user_sync_repo.select_member_owners(tx.conn, channel.id)
    clocks = await clocks_repo.select_member_clocks(tx.conn, channel.id, list(owners))
    for user_id, owner in owners.items():
        await record_member_change(tx, channel, user_id, owner, now=now, change_at=clocks.get(user_id) or now)


async def _unshare_in_tx(d: Domain, tx: Tx, channel_id: str, now: int, notice: int) -> list[str]:
    """Delete the share and every remote row (each to be told ``notice``); returns the remotes that were live."""
    live = []
    for row in await repo.select_remotes_for_channel(tx.conn, channel_id):
        await stop_receiving(tx.conn, row, now, notice)
        live.append(row["remote_id"])
    if await repo.delete_shared_channel(tx.conn, channel_id):
        await repo.set_channel_shared(tx.conn, channel_id, False, now)
        await emit_channel_updated(tx, channel_id)
    for remote_id in live:
        emit_remote_updated(tx, channel_id, remote_id)
    tx.emit(Event(EVENT_SHARES_CHANGED, {"channel_id": channel_id}))
    return live


async def do_uninvite_remote(d: Domain, channel_id: str, remote_id: str, *, notice: int = UNSHARE_NOTICE_NONE,
                             workspace: str = "", user_id: str = "") -> tuple[bool, bool]:
    """Soft-delete the remote row (peer to be told ``notice``), unshare if it was the last: (removed, unshared).
    With ``workspace`` (the connection's name) the channel says it is no longer shared with it."""
    async with transaction(d) as tx:
        row = await repo.select_remote(tx.conn, channel_id, remote_id)
        if row is None or row["delete_at"]:
            return False, False
        return True, await uninvite_in_tx(d, tx, row, notice=notice, workspace=workspace, user_id=user_id)


async def uninvite_in_tx(d: Domain, tx: Tx, row: dict[str, Any], *, notice: int, workspace: str = "",
                         user_id: str = "") -> bool:
    """:func:`do_uninvite_remote` for a live remote row read in the caller's transaction; True if it unshared."""
    channel_id, now = row["channel_id"], d.now()
    await stop_receiving(tx.conn, row, now, notice)
    if workspace:
        channel = await get_channel_row(tx.conn, channel_id)
        await post_notice(d, tx, channel, user_id or row["creator_id"], workspace, shared=False)
    emit_remote_updated(tx, channel_id, row["remote_id"])
    if await repo.select_remotes_for_channel(tx.conn, channel_id):
        return False
    await _unshare_in_tx(d, tx, channel_id, now, UNSHARE_NOTICE_NONE)
    return True


async def do_unshare_channel(d: Domain, channel_id: str, *, notice: int = UNSHARE_NOTICE_NONE) -> list[str]:
    """Stop sharing; returns the connection ids that were still invited (each to be told ``notice``)."""
    if not is_valid_id(channel_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing channel_id in request URL.", 400)
    async with transaction(d) as tx:
        if await repo.select_shared_channel(tx.conn, channel_id, for_update=True) is None:
            raise _not_shared_error(channel_id)
        return await _unshare_in_tx(d, tx, channel_id, d.now(), notice)


async def _unshare_orphans(tx: Tx, remote_id: str, now: int) -> None:
    """Connection deleted (its remote rows were soft-deleted just before): unshare channels left without one
    (Mattermost PR #35997)."""
    rows = await repo.select_remotes_for_remote(tx.conn, remote_id, include_deleted=True)
    gone = {r["channel_id"]: r["creator_id"] for r in rows if r["delete_at"] == now}
    copies: dict[str, str] = {}  # channel homed on the removed connection -> who to post the notice as
    for channel_id in await repo.select_orphan_shared_channels(tx.conn, list(gone)):
        share = await repo.select_shared_channel(tx.conn, channel_id)
        if share is not None and not share["home"]:
            copies[channel_id] = gone[channel_id] or share["creator_id"]
        await repo.delete_shared_channel(tx.conn, channel_id)
        await repo.set_channel_shared(tx.conn, channel_id, False, now)
        await emit_channel_updated(tx, channel_id)
    for channel_id in gone:
        emit_remote_updated(tx, channel_id, remote_id)
    if gone:
        # After commit the federation layer tells the peer and posts "no longer shared" in our copies.
        tx.emit(Event(EVENT_CONNECTION_UNSHARED, {"remote_id": remote_id, "channel_ids": sorted(gone),
                                                  "copies": copies}, origin=remote_id))


if _unshare_orphans not in DELETE_HOOKS:
    DELETE_HOOKS.append(_unshare_orphans)


async def _unshare_archived(d: Domain, tx: Tx, channel: Channel) -> None:
    """A shared channel archived here: the home deletes it everywhere (v10.10+), a remote copy leaves."""
    if not shares_enabled(d):
        return
    share = await repo.select_shared_channel(tx.conn, channel.id, for_update=True)
    if share is None:
        return
    notice = UNSHARE_NOTICE_DELETED if share["home"] else UNSHARE_NOTICE_UNSHARED
    live = await _unshare_in_tx(d, tx, channel.id, channel.delete_at, notice)
    tx.emit(Event(EVENT_ARCHIVED_UNSHARED, {"channel_id": channel.id, "remotes": live, "home": bool(share["home"]),
                                            "home_remote_id": share["remote_id"] or ""}))


if _unshare_archived not in ARCHIVE_HOOKS:
    ARCHIVE_HOOKS.append(_unshare_archived)
