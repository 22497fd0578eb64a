"""The receiving side of a channel invite (``mattermost-protocol.md`` §5.2 step 5): our copy of a channel
shared with us.

Kept apart from ``shares`` to keep both modules a readable size; like ``shares`` it builds on
``domain/channels.py`` (accepting creates a channel), and archiving a channel reaches ``shares`` only
through ``channels.ARCHIVE_HOOKS``, so the imports stay one-way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.changes import record_member_change
from isthmus.domain.channels import ADMIN_ROLES, check_channel_name, new_channel_row
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Channel
from isthmus.domain.sharing import shares
from isthmus.domain.sharing.direct import create_direct_copy
from isthmus.domain.sharing.notices import post_notice
from isthmus.domain.sharing.resume import replay_missed
from isthmus.domain.synced.users import Peer, ensure_channel_member, member_sync_enabled
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import clocks as clocks_repo
from isthmus.store.repo import shared as repo


def _invite_text(invite: dict[str, Any], key: str, limit: int) -> str:
    value = invite.get(key)
    return value[:limit] if isinstance(value, str) else ""


async def do_accept_channel_invite(d: Domain, *, remote_id: str, creator_id: str, default_team_id: str,
                                   invite: dict[str, Any], workspace: str = "") -> Channel:
    """Create (or restore) the local copy of a channel shared with us: same id and name, in the connection's
    default team, creator = the admin who accepted the connection (who joins it). Idempotent."""
    channel_id = invite.get("channel_id")
    if not is_valid_id(channel_id):
        raise AppError("api.command_share.invalid_invite.error", "Invalid channel id in the invitation.", 400)
    assert isinstance(channel_id, str)
    channel_type = invite.get("type") or "O"
    if channel_type not in ("O", "P"):
        raise AppError("api.command_share.channel_type.error", "Only public and private channels can be shared.", 400)
    name = check_channel_name(invite.get("name"))
    async with transaction(d) as tx:
        existing = await repo.select_remote(tx.conn, channel_id, remote_id)
        row = await access_repo.select_channel(tx.conn, channel_id)
        if existing is not None and existing["delete_at"] == 0 and row is not None:
            return Channel(**row)
        if row is None:
            if existing is not None:
                raise AppError("api.command_share.channel_gone.error", "The local copy of this channel is gone.", 400)
            team_id = default_team_id or await repo.select_first_team_id(tx.conn)
            if not team_id:
                raise AppError("api.command_share.no_team.error", "There is no team to put the shared channel in.",
                               400)
            if await channels_repo.select_channel_by_name(tx.conn, team_id, name) is not None:
                raise AppError("store.sql_channel.save_channel.exists.app_error",
                               f"A channel named {name} already exists in the destination team.", 400)
            row = new_channel_row(d, team_id=team_id, type_=channel_type, name=name,
                                  display_name=_invite_text(invite, "display_name", 64) or name,
                                  creator_id=creator_id, purpose=_invite_text(invite, "purpose", 250),
                                  header=_invite_text(invite, "header", 1024))
            row.update(id=channel_id, shared=True)
            await channels_repo.insert_channel(tx.conn, row)
            channel = Channel(**row)
            if creator_id:
                await ensure_channel_member(d, tx, channel, creator_id, remote_id)
                await channels_repo.update_channel_member(tx.conn, channel_id, creator_id, {
                    "roles": ADMIN_ROLES, "scheme_admin": True})
            tx.emit(Event("channel_created", {"channel_id": channel_id, "team_id": team_id}, team_id=team_id,
                          origin=remote_id))
        elif existing is None:
            raise AppError("api.command_share.channel_already_exists.error",
                           "A channel with this id already exists on this server.", 400, f"channel_id={channel_id}")
        copy = Channel(**row)
        if workspace:  # a new or restored share (an invite delivered again returned above)
            await post_notice(d, tx, copy, creator_id, workspace, shared=True)
        return await _record_share(d, tx, copy, remote_id, creator_id, existing,
                                   readonly=invite.get("read_only") is True, creator_joins=True)


async def _record_share(d: Domain, tx: Tx, channel: Channel, remote_id: str, creator_id: str,
                        existing: dict[str, Any] | None, *, readonly: bool, creator_joins: bool) -> Channel:
    """Our copy is shared with its home ``remote_id``: the share row, and a live remote row (new or restored)
    whose cursor starts at the end of the outbox."""
    channel_id = channel.id
    if await repo.select_shared_channel(tx.conn, channel_id, for_update=True) is None:
        share = shares.share_row(d, channel, creator_id, home=False, readonly=readonly, remote_id=remote_id)
        await repo.insert_shared_channel(tx.conn, share)
    await repo.set_channel_shared(tx.conn, channel_id, True, d.now())
    now, cursor = d.now(), await repo.max_seq(tx.conn)
    values: dict[str, Any] = {"delete_at": 0, "update_at": now, "is_invite_accepted": True,
                              "is_invite_confirmed": True, "creator_id": creator_id, "outbox_cursor": cursor,
                              "last_post_update_at": now, "last_post_create_at": now, "confirmed_by_sync": False,
                              "to_home": True}
    if existing is not None:
        await repo.update_remote(tx.conn, existing["id"], values)
    else:
        await repo.insert_remote(tx.conn, {"id": new_id(), "channel_id": channel_id, "create_at": now,
                                           "remote_id": remote_id, "last_post_update_id": "",
                                           "last_post_create_id": "", "last_members_sync_at": 0, **values})
    if creator_joins and creator_id and member_sync_enabled(d):
        await record_member_change(tx, dataclasses.replace(channel, shared=True), creator_id, None, now=now)
    if existing is not None:
        # A restored share (re-invite): what was written in our copy while it was not shared made no outbox row
        # then, so the home never heard of it (a post made just before the re-invite arrived: the model-based
        # test found one). The same replay a home makes for a re-invited remote, from where we stopped.
        await replay_missed(tx, dataclasses.replace(channel, shared=True), existing, now)
    if existing is not None and member_sync_enabled(d):
        await _local_members_again(tx, dataclasses.replace(channel, shared=True), creator_id, now)
    shares.emit_remote_updated(tx, channel_id, remote_id)
    return await shares.emit_channel_updated(tx, channel_id)


async def _local_members_again(tx: Tx, channel: Channel, creator_id: str, now: int) -> None:
    """A restored share (re-invite): our people who joined our copy while it was not shared made no outbox row
    then, so the home never heard of them (the model-based test found one). Each goes again with its own clock
    when it has one (a no-op for the home if it knew), else now."""
    members = [u for u in await repo.select_local_member_ids(tx.conn, channel.id) if u != creator_id]
    clocks = await clocks_repo.select_member_clocks(tx.conn, channel.id, members)
    for user_id in members:
        await record_member_change(tx, channel, user_id, None, now=now, change_at=clocks.get(user_id) or now)


async def do_accept_direct_invite(d: Domain, *, peer: Peer, creator_id: str, channel_id: str, type_: str,
                                  invite_creator: str, participant_ids: list[str],
                                  participants: dict[str, dict[str, Any]]) -> Channel:
    """A shared DM/GM (``share_direct``): our copy with the invited id, then the share as for any channel.
    Idempotent; a restored share reuses the copy we kept."""
    async with transaction(d) as tx:
        existing = await repo.select_remote(tx.conn, channel_id, peer.remote_id)
        row = await access_repo.select_channel(tx.conn, channel_id)
        if existing is not None and row is not None:
            if existing["delete_at"] == 0:
                return Channel(**row)
            channel = Channel(**row)
        else:
            channel = await create_direct_copy(d, tx, peer, channel_id=channel_id, type_=type_,
                                               creator_id=invite_creator, participant_ids=participant_ids,
                                               participants=participants)
        return await _record_share(d, tx, channel, peer.remote_id, creator_id, existing, readonly=False,
                                   creator_joins=False)

