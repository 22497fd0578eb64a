"""Shared DMs and GMs (``mattermost-protocol.md`` §8.1, feature flag ``EnableSharedChannelsDMs``).

**Sending** (:func:`share_direct_channel`, a ``channels.DIRECT_HOOKS`` entry): when a user here opens a DM
or GM with remote users, the channel is homed here and shared, in the same transaction, with the server
each remote participant comes from (its ``OriginalRemoteId``, which must be a direct connection: a GM with
people of Beta and Gamma is shared with both, and Alpha relays between them like any shared channel). The
invite (``sharedchannel_invite`` with ``direct_participant_ids``) goes out on the connection's sender like
any pending invite. With the flag off, or with a participant whose server is not connected directly, the
REST call is refused in words. Opening the DM again re-invites a server that refused or was removed.

**Receiving**: a peer's user opened a direct or group message with users of this server, and we create our
copy of it with the SAME channel id, as Mattermost's ``createDirectChannel`` / ``createGroupChannel`` do.

Rules (Mattermost's): a DM has exactly two participants, one of ours and one the sender owns; a GM has 3..8,
at least one of ours and one synthetic user. Participants we do not know yet are created from the invite's
``direct_participants`` (owned by the sender). A DM or GM between the same people that already exists here
under another id is refused (two copies would never converge). Replies in a DM received this way go back
to its home like any post; read state (``last_viewed_at``) is never synced.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain.channels import (
    DIRECT_HOOKS,
    DISPLAY_NAME_MAX,
    GROUP_MAX_USERS,
    GROUP_MIN_USERS,
    direct_channel_name,
    group_channel_name,
    insert_member,
    new_channel_row,
)
from isthmus.domain.context import Domain, Tx
from isthmus.domain.models import Channel, User
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.shapes import dumps
from isthmus.domain.sharing import shares
from isthmus.domain.sharing.resume import UNSHARE_NOTICE_NONE, replay_missed
from isthmus.domain.synced.users import (
    PROP_ORIGINAL_REMOTE_ID,
    UNKNOWN_REMOTE,
    Peer,
    UserSyncError,
    upsert_remote_user,
)
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import remotes as remotes_repo
from isthmus.store.repo import shared as shared_repo
from isthmus.store.repo import users as users_repo

# The refusals below: 403s whose message says what to do (``/msg`` shows it instead of "no permission").
REFUSED_DISABLED = "api.channel.create_direct_channel.remote_disabled.app_error"
REFUSED_NOT_CONNECTED = "api.channel.create_direct_channel.remote_not_connected.app_error"
REFUSAL_IDS = (REFUSED_DISABLED, REFUSED_NOT_CONNECTED)
FLAG_HOW = ("a system admin can turn them on with the feature flag EnableSharedChannelsDMs "
            "(FeatureFlags.EnableSharedChannelsDMs in the configuration, or the environment variable "
            "MM_FEATUREFLAGS_ENABLESHAREDCHANNELSDMS=true)")


def dms_enabled(d: Domain) -> bool:
    return bool(d.config.FeatureFlags.EnableSharedChannelsDMs) and shares.shares_enabled(d)


def original_remote_id(user: User) -> str:
    """The server the user really belongs to: a user relayed to us by a channel's home names it in its props."""
    original = user.props.get(PROP_ORIGINAL_REMOTE_ID)
    if isinstance(original, str) and original and original != UNKNOWN_REMOTE:
        return original
    return user.remote_id or ""


async def direct_connection(conn: Any, user: User) -> RemoteCluster | None:
    """The confirmed, direct connection to ``user``'s own server, if there is one."""
    row = await remotes_repo.select_remote(conn, original_remote_id(user))
    rc = RemoteCluster(**row) if row else None
    return rc if rc is not None and rc.is_confirmed and not rc.is_plugin else None


def _workspace(rc: RemoteCluster | None) -> str:
    return (rc.display_name or rc.name) if rc is not None else "another workspace"


def _not_enabled(d: Domain, names: list[str], where: str) -> AppError:
    who = " and ".join(names)
    if not d.config.FeatureFlags.EnableSharedChannelsDMs:
        why = (f"{who} {'is' if len(names) == 1 else 'are'} on {where}, and direct and group messages with "
               f"people on other workspaces are turned off on this server: {FLAG_HOW}.")
    else:
        why = (f"{who} {'is' if len(names) == 1 else 'are'} on {where}, and shared channels are turned off on "
               "this server: a system admin can turn them on in System Console › Connected Workspaces.")
    return AppError(REFUSED_DISABLED, why, 403)


async def remote_targets(d: Domain, conn: Any, remote: list[User]) -> dict[str, RemoteCluster]:
    """The connections a DM/GM with these remote users is shared with, or the refusal in words (also what
    ``can_dm`` tells the web client, so its "Message" button can say why it is off)."""
    targets: dict[str, RemoteCluster] = {}
    for user in remote:
        rc = await direct_connection(conn, user)
        if not dms_enabled(d):
            relay = await remotes_repo.select_remote(conn, user.remote_id or "") if rc is None else None
            where = _workspace(rc or (RemoteCluster(**relay) if relay else None))
            raise _not_enabled(d, sorted(u.username for u in remote), where)
        if rc is None:
            raise AppError(REFUSED_NOT_CONNECTED,
                           f"{user.username} is on a workspace this server is not connected to directly, so a "
                           "message cannot reach them: a system admin can connect the two workspaces in "
                           "System Console › Connected Workspaces.", 403)
        targets[rc.remote_id] = rc
    return targets


async def share_direct_channel(d: Domain, tx: Tx, row: dict[str, Any], member_ids: list[str], actor_id: str,
                               created: bool) -> None:
    """``channels.DIRECT_HOOKS``: refuse, or share the DM/GM with the remote participants' servers."""
    users = [User(**u) for u in await users_repo.select_users_by_ids(tx.conn, member_ids)]
    remote = [u for u in users if u.remote_id]
    if not remote:
        return
    share = await shared_repo.select_shared_channel(tx.conn, row["id"], for_update=True)
    if share is not None and not share["home"]:
        return  # a DM another server opened with us: it is homed there, our replies already go to it
    targets = await remote_targets(d, tx.conn, remote)
    channel = Channel(**row)
    now = d.now()
    if share is None:
        await shared_repo.insert_shared_channel(tx.conn, shares.share_row(d, channel, actor_id, home=True,
                                                                         readonly=False))
        await shared_repo.set_channel_shared(tx.conn, channel.id, True, now)
        row["shared"] = True
        if not created:
            await shares.emit_channel_updated(tx, channel.id)
    for remote_id in sorted(targets):
        await _invite(d, tx, channel, remote_id, actor_id, now)


async def _invite(d: Domain, tx: Tx, channel: Channel, remote_id: str, actor_id: str, now: int) -> None:
    """A pending invite for ``remote_id`` (new, or a withdrawn one restored with what it missed)."""
    existing = await shared_repo.select_remote(tx.conn, channel.id, remote_id)
    if existing is not None and existing["delete_at"] == 0:
        return
    values: dict[str, Any] = {"delete_at": 0, "update_at": now, "is_invite_accepted": True,
                              "is_invite_confirmed": False, "creator_id": actor_id,
                              "outbox_cursor": await shared_repo.max_seq(tx.conn), "last_post_update_at": now,
                              "last_post_create_at": now, "last_post_update_id": "", "last_post_create_id": "",
                              "unshare_notice": UNSHARE_NOTICE_NONE, "confirmed_by_sync": False,
                              "to_home": False}
    if existing is not None:
        await shared_repo.update_remote(tx.conn, existing["id"], values)
        await replay_missed(tx, channel, existing, now)
    else:
        await shared_repo.insert_remote(tx.conn, {"id": new_id(), "channel_id": channel.id, "create_at": now,
                                                  "remote_id": remote_id, "last_members_sync_at": 0, **values})
    shares.emit_remote_updated(tx, channel.id, remote_id)


def _refused(kind: str, channel_id: str, why: str) -> AppError:
    return AppError("api.shared_channel.direct_invite.app_error", f"cannot create {kind} channel `{channel_id}`: {why}",
                    400)


async def _participant(d: Domain, tx: Tx, peer: Peer, user_id: str, incoming: dict[str, Any] | None,
                       kind: str, channel_id: str) -> User:
    row = await users_repo.select_user(tx.conn, user_id)
    if row is not None:
        return User(**row)
    if incoming is None:
        raise _refused(kind, channel_id, f"unknown user {user_id} and no profile for it in the invitation")
    try:
        return await upsert_remote_user(d, tx, peer, incoming)
    except UserSyncError as err:
        raise _refused(kind, channel_id, str(err)) from None


async def create_direct_copy(d: Domain, tx: Tx, peer: Peer, *, channel_id: str, type_: str, creator_id: str,
                             participant_ids: list[str], participants: dict[str, dict[str, Any]]) -> Channel:
    """Our copy of the peer's DM/GM (created, or found under the same id); the caller records the share."""
    kind = "direct" if type_ == "D" else "group"
    if type_ == "D" and len(participant_ids) != 2:
        raise _refused(kind, channel_id, f"a direct message has 2 participants, not {len(participant_ids)}")
    if type_ == "G" and not GROUP_MIN_USERS <= len(participant_ids) <= GROUP_MAX_USERS:
        raise _refused(kind, channel_id, f"a group message has 3 to 8 participants, not {len(participant_ids)}")
    users = [await _participant(d, tx, peer, uid, participants.get(uid), kind, channel_id) for uid in participant_ids]
    local = [u for u in users if u.remote_id is None]
    remote = [u for u in users if u.remote_id is not None]
    if type_ == "D" and (len(local) != 1 or len(remote) != 1 or remote[0].remote_id != peer.remote_id):
        raise _refused(kind, channel_id, "a shared direct message needs one user of this server and one of the "
                                         "sending server")
    if type_ == "G" and (not local or not remote):
        raise _refused(kind, channel_id, "a shared group message needs users of this server and remote users")
    if any(u.delete_at for u in local):
        raise _refused(kind, channel_id, "a participant of this server is deactivated")
    ids = [u.id for u in users]
    name = direct_channel_name(ids[0], ids[1]) if type_ == "D" else group_channel_name(ids)
    existing = await channels_repo.select_channel_by_name(tx.conn, "", name)
    if existing is not None:
        if existing["id"] != channel_id:
            raise _refused(kind, channel_id, "these people already have a conversation here under another id")
        return Channel(**existing)
    if await access_repo.select_channel(tx.conn, channel_id) is not None:
        raise AppError("api.command_share.channel_already_exists.error",
                       "A channel with this id already exists on this server.", 400, f"channel_id={channel_id}")
    display = "" if type_ == "D" else ", ".join(sorted(u.username for u in users))[:DISPLAY_NAME_MAX]
    creator = creator_id if creator_id in ids else remote[0].id
    row = new_channel_row(d, team_id="", type_=type_, name=name, display_name=display, creator_id=creator)
    row.update(id=channel_id, shared=True)
    await channels_repo.insert_channel(tx.conn, row)
    for uid in sorted(ids):
        await insert_member(d, tx.conn, channel_id, uid)
    if type_ == "D":
        for u in local:
            tx.emit(Event("direct_added", {"creator_id": creator, "teammate_id": remote[0].id}, user_id=u.id,
                          channel_id=channel_id, origin=peer.remote_id))
    else:
        tx.emit(Event("group_added", {"teammate_ids": dumps(sorted(ids))}, channel_id=channel_id,
                      origin=peer.remote_id))
    return Channel(**row)


if share_direct_channel not in DIRECT_HOOKS:
    DIRECT_HOOKS.append(share_direct_channel)
