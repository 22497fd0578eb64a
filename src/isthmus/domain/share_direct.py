"""Receiving a shared DM or GM (``mattermost-protocol.md`` §8.1, feature flag ``EnableSharedChannelsDMs``):
a peer's user opened a direct or group message with users of this server, and we create our copy of it
with the SAME channel id, as Mattermost's ``createDirectChannel`` / ``createGroupChannel`` do.

Rules (Mattermost's): a DM has exactly two participants, one of ours and one the sender owns; a GM has 3..8,
at least one of ours and one synthetic user. Participants we do not know yet are created from the invite's
``direct_participants`` (owned by the sender). A DM or GM between the same people that already exists here
under another id is refused (two copies would never converge). Sending DM invites (opening a DM with a
remote user here) is not built yet; replies in a DM received this way go back to the peer like any post.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.domain.channels import (
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
from isthmus.domain.remote_users import Peer, UserSyncError, upsert_remote_user
from isthmus.domain.shapes import dumps
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import users as users_repo


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
