"""Permanent channel deletion: ``DELETE /channels/{id}?permanent=true``.

Mattermost allows it only while ``ServiceSettings.EnableAPIChannelDeletion`` is on (off by
default) and otherwise refuses with ``api.user.delete_channel.not_enabled.app_error``. Mattermost
answers that refusal with 401, which makes clients drop a perfectly valid session; we answer 403.

The purge removes the channel row, its members, posts, reactions and file rows in one transaction,
then the files' bytes. Two deliberate refusals: the team's town-square (a team needs it) and shared
channels (peers still sync them: unshare first, which tells them).
"""

from __future__ import annotations

import contextlib

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.domain import files
from isthmus.domain.access import access_channel, channel_permissions
from isthmus.domain.channels import TOWN_SQUARE
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, Channel
from isthmus.store.repo import channels as repo


def not_enabled(channel_id: str) -> AppError:
    return AppError("api.user.delete_channel.not_enabled.app_error",
                    "Permanent channel deletion feature is not enabled. Please contact your System Administrator.",
                    403, f"channelId={channel_id}")


async def do_purge_channel(d: Domain, actor: Actor, channel_id: str) -> Channel:
    """Same checks as archiving (type, delete_*_channel), then the setting, then the purge."""
    async with transaction(d) as tx:
        channel = await access_channel(d, tx.conn, actor, channel_id)
        if channel.type in ("D", "G"):
            raise invalid("api.channel.delete_channel.type.invalid", "Cannot delete direct or group message channels.")
        needed = "delete_public_channel" if channel.type == "O" else "delete_private_channel"
        if needed not in await channel_permissions(d, tx.conn, actor, channel):
            raise forbidden(needed)
        if not d.config.ServiceSettings.EnableAPIChannelDeletion:
            raise not_enabled(channel.id)
        if channel.name == TOWN_SQUARE:
            raise invalid("api.channel.delete_channel.cannot.app_error",
                          "Unable to delete the default channel town-square.")
        if channel.shared:
            raise invalid("api.channel.delete_channel.shared.app_error",
                          "Unable to permanently delete a shared channel. Unshare it first.")
        member_ids = [] if channel.type == "O" else await repo.select_channel_member_ids(tx.conn, channel.id)
        keys = await repo.purge_channel(tx.conn, channel.id)
        now = d.now()
        data = {"channel_id": channel.id, "delete_at": now}
        if channel.type == "O":  # public: the whole team saw it in its browse list
            tx.emit(Event("channel_deleted", data, team_id=channel.team_id))
        else:  # private: only its former members may learn it is gone (the member rows are gone too)
            for user_id in member_ids:
                tx.emit(Event("channel_deleted", data, user_id=user_id))
    store = files.blobs(d)
    for key in keys:
        with contextlib.suppress(OSError, ValueError):  # bytes left behind are harmless; rows are gone
            await store.delete(key)
    channel.delete_at = now
    return channel
