"""Share lifecycle across servers: invite, uninvite, unshare, channel deletion (§5), home side and remote side.

* **Invite** (home only; a channel homed elsewhere cannot be shared onward): the remote row is written
  first, pending (``is_invite_confirmed = false``); the invite itself is delivered by the connection's
  single-flight sender, right away when the peer is reachable or whenever it comes back. Once the peer
  answered OK the row is confirmed and sync starts from the cursor taken at invite time.
* **Uninvite / unshare / connection removal / channel deletion**: unlike Mattermost, which tells the remote
  nothing, we send ``sharedchannel_unshare`` (``channel_deleted: true`` when the home deleted the channel).
  The notice is durable (``unshare_notice`` on the remote row, written with the uninvite itself) and goes
  out on the connection's single-flight sender like a pending invite, so a peer that was down learns when
  it is back. A Mattermost peer that does not know the topic answers OK and ignores it; it still learns
  lazily, because its next sync gets FAIL "channel is no longer shared" and posts "This channel is no
  longer shared.". For a deleted channel that FAIL text ends with "; channel was deleted" (a substring
  check, as Mattermost's, still matches), so our remote archives its copy even when its own sync reaches
  the home before the notice does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain.access import get_channel_row
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, Post, User
from isthmus.domain.remotes import RemoteCluster, get_remote
from isthmus.domain.shapes import dumps, post_json
from isthmus.domain.sharing import confirm, shares
from isthmus.domain.sharing.direct import original_remote_id
from isthmus.domain.sharing.notices import post_notice
from isthmus.domain.sharing.resume import (
    UNSHARE_NOTICE_DELETED,
    UNSHARE_NOTICE_UNSHARED,
    do_clear_notice,
    pending_notices,
)
from isthmus.domain.synced.posts import do_archive_channel_from_remote
from isthmus.federation.connections import Connections
from isthmus.federation.outbound import Outbound
from isthmus.federation.sender_leases import NotOurTurn
from isthmus.federation.sync.messages import (
    CHANNEL_DELETED_TEXT,
    NOT_ENABLED_TEXT,
    TOPIC_INVITE,
    TOPIC_UNSHARE,
    channel_invite_obj,
    unshare_obj,
)
from isthmus.federation.sync.send import sanitized_user
from isthmus.federation.transport import TransportError
from isthmus.federation.wire import Msg, Response
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import shared as repo
from isthmus.store.repo import users as users_repo

log = logging.getLogger(__name__)


def shares_off(rc: RemoteCluster) -> TransportError:
    """The peer refused because its shared channels are off: name it (not its id) and say who fixes it. This
    text is what the System Console shows as the connection's last sync error."""
    return TransportError(f"{rc.display_name or rc.name} has shared channels turned off: its admin turns on "
                          "System Console › Connected Workspaces › Enable shared channels", status=200)


@dataclass
class RemoteStatus:
    """One line of ``/share-channel status`` (SharedChannelRemoteStatus)."""

    channel_id: str
    remote_id: str
    display_name: str
    site_url: str
    last_ping_at: int
    readonly: bool
    is_invite_accepted: bool
    is_invite_confirmed: bool
    online: bool

    def to_obj(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "remote_id": self.remote_id, "display_name": self.display_name,
                "site_url": self.site_url, "last_ping_at": self.last_ping_at, "next_sync_at": 0,
                "readonly": self.readonly, "is_invite_accepted": self.is_invite_accepted,
                "is_invite_confirmed": self.is_invite_confirmed, "token": ""}


class ShareService:
    def __init__(self, d: Domain, conns: Connections, outbound: Outbound) -> None:
        self.d = d
        self.conns = conns
        self.outbound = outbound

    # --- admin operations (REST, slash command, CLI) -------------------------------------------------

    async def _confirmed_remote(self, remote_id: str) -> RemoteCluster:
        rc = await get_remote(self.d, remote_id)
        if not rc.is_confirmed:
            raise AppError("api.command_share.remote_not_confirmed.error",
                           "That secure connection has not been accepted yet.", 400)
        return rc

    async def invite(self, actor: Actor, channel_id: str, remote_id: str, *,
                     readonly: bool = False) -> tuple[shares.SharedChannelRemote, bool]:
        """Share if needed and invite; returns (row, created). Delivery happens on the connection's queue."""
        await shares.authorize_channel(self.d, actor, channel_id)
        rc = await self._confirmed_remote(remote_id)
        row, created = await shares.do_invite_remote(self.d, actor, channel_id, rc.remote_id, readonly=readonly,
                                                     workspace=rc.display_name)
        if created:
            self.outbound.poke(rc.remote_id)
        return row, created

    async def uninvite(self, actor: Actor, channel_id: str, remote_id: str) -> bool:
        await shares.authorize_channel(self.d, actor, channel_id)
        removed, _ = await shares.do_uninvite_remote(self.d, channel_id, remote_id, notice=UNSHARE_NOTICE_UNSHARED,
                                                     workspace=await self._name(remote_id), user_id=actor.user_id)
        if removed:
            self.outbound.poke(remote_id)  # the sender delivers the notice (now, or once the peer is back)
        return removed

    async def unshare(self, actor: Actor, channel_id: str) -> list[str]:
        await shares.authorize_channel(self.d, actor, channel_id)
        share = await shares.get_share(self.d, channel_id)
        remotes = await shares.do_unshare_channel(self.d, channel_id, notice=UNSHARE_NOTICE_UNSHARED)
        for remote_id in remotes:
            self.outbound.poke(remote_id)
        if share is not None and not share.home and share.remote_id and share.remote_id not in remotes:
            self._notify(share.remote_id, channel_id, deleted=False)  # no live row to keep the notice on
            remotes.append(share.remote_id)
        if remotes:
            names = [await self._name(remote_id) for remote_id in remotes]
            async with transaction(self.d) as tx:
                channel = await get_channel_row(tx.conn, channel_id)
                for name in names:
                    await post_notice(self.d, tx, channel, actor.user_id, name, shared=False)
        return remotes

    async def status(self, actor: Actor, channel_id: str) -> list[RemoteStatus]:
        await shares.authorize_channel(self.d, actor, channel_id)
        share = await shares.get_share(self.d, channel_id)
        if share is None:
            return []
        out: list[RemoteStatus] = []
        for row in await shares.list_channel_remotes(self.d, channel_id):
            try:
                rc = await get_remote(self.d, row.remote_id, include_deleted=True)
            except AppError:
                continue
            out.append(RemoteStatus(channel_id=channel_id, remote_id=rc.remote_id, display_name=rc.display_name,
                                    site_url=rc.shown_site_url, last_ping_at=rc.last_ping_at,
                                    readonly=share.readonly, is_invite_accepted=row.is_invite_accepted,
                                    is_invite_confirmed=row.is_invite_confirmed,
                                    online=self.conns.is_online(rc)))
        return out

    # --- delivery (runs under the connection's single-flight lock) -----------------------------------

    @staticmethod
    async def pending_invites(conn: AsyncConnection, rc: RemoteCluster) -> list[dict[str, Any]]:
        """Invites still pending for ``rc`` (read by the sender's pass together with its other questions)."""
        return await repo.select_remotes_for_remote(conn, rc.remote_id, only_unconfirmed=True, home=True)

    async def send_invites(self, rc: RemoteCluster, rows: list[dict[str, Any]]) -> None:
        """Send those invites. A transport error propagates (the queue backs off)."""
        for row in rows:
            await self._send_invite(rc, row["channel_id"], row["creator_id"])

    @staticmethod
    async def pending_notices(conn: AsyncConnection, rc: RemoteCluster) -> list[dict[str, Any]]:
        """Unshare notices still to deliver to ``rc`` (read in the sender's pass transaction)."""
        return await pending_notices(conn, rc.remote_id)

    async def send_notices(self, rc: RemoteCluster, rows: list[dict[str, Any]]) -> None:
        """Deliver them; a transport error propagates (the queue backs off and the notices stay pending)."""
        for row in rows:
            notice = int(row["unshare_notice"])
            response = await self._send(rc, TOPIC_UNSHARE, unshare_obj(
                row["channel_id"], rc.remote_id, channel_deleted=notice == UNSHARE_NOTICE_DELETED))
            if not response.ok and NOT_ENABLED_TEXT in response.err:
                raise shares_off(rc)
            if not response.ok:  # e.g. it no longer has the channel: retrying cannot help
                log.info("%s answered the unshare notice for %s: %s", rc.remote_id, row["channel_id"],
                         response.err[:300])
            await do_clear_notice(self.d, row["id"], notice)

    async def _send_invite(self, rc: RemoteCluster, channel_id: str, creator_id: str) -> None:
        share = await shares.get_share(self.d, channel_id)
        async with self.d.db.read() as conn:
            channel = await get_channel_row(conn, channel_id)
            ids = await channels_repo.select_channel_member_ids(conn, channel_id) if channel.type in ("D", "G") else []
            users = [User(**u) for u in await users_repo.select_users_by_ids(conn, ids)] if ids else []
        if share is None:
            return
        payload = channel_invite_obj(channel_id=channel_id, read_only=share.readonly, name=channel.name,
                                     display_name=share.share_display_name, header=share.share_header,
                                     purpose=share.share_purpose, type_=channel.type, creator_id=creator_id,
                                     participant_ids=sorted(ids),
                                     participants=[sanitized_user(u) for u in users
                                                   if rc.remote_id not in (u.remote_id, original_remote_id(u))])
        response = await self._send(rc, TOPIC_INVITE, payload)
        if response.ok:
            await confirm.do_confirm_invite(self.d, channel_id, rc.remote_id)
            log.info("channel %s shared with %s (%s)", channel_id, rc.name, rc.remote_id)
            self.outbound.poke(rc.remote_id)
            return
        if NOT_ENABLED_TEXT in response.err:
            # Shared channels are switched off over there: keep the invite pending, the queue retries.
            raise shares_off(rc)
        # The peer refused (a name clash, a channel it already has …): retrying cannot help. Withdraw the
        # invite and tell whoever invited.
        log.warning("secure connection %s refused the invite to channel %s: %s", rc.remote_id, channel_id,
                    response.err[:300])
        await shares.do_uninvite_remote(self.d, channel_id, rc.remote_id)
        await self.ephemeral(creator_id, channel_id,
                             f"Error sending channel invite for {rc.display_name}: {response.err[:300]}")

    async def _send(self, rc: RemoteCluster, topic: str, payload: Any) -> Response:
        msg = Msg.new(topic, payload, self.d.now())
        return await self.conns.client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)

    def _notify(self, remote_id: str, channel_id: str, *, deleted: bool, include_deleted: bool = False) -> None:
        """Tell ``remote_id`` that the channel is no longer shared with it (best effort, in the background)."""
        async def send() -> None:
            try:
                rc = await get_remote(self.d, remote_id, include_deleted=include_deleted)
                if not rc.is_confirmed or rc.is_plugin:
                    return
                await self.outbound.exclusive(remote_id, lambda: self._send(
                    rc, TOPIC_UNSHARE, unshare_obj(channel_id, remote_id, channel_deleted=deleted)))
            except (AppError, TransportError, NotOurTurn) as err:
                log.info("could not tell %s that channel %s is no longer shared: %s", remote_id, channel_id, err)

        if self.outbound.running:
            self.outbound.spawn(send())

    async def _name(self, remote_id: str) -> str:
        """The connection's name as this server's admin gave it (for notices in words); a deleted one too."""
        try:
            return (await get_remote(self.d, remote_id, include_deleted=True)).display_name
        except AppError:
            return "another workspace"

    async def ephemeral(self, user_id: str, channel_id: str, message: str) -> None:
        if not user_id:
            return
        now = self.d.now()
        post = Post(id=new_id(), create_at=now, update_at=now, edit_at=0, delete_at=0, is_pinned=False,
                    user_id=user_id, channel_id=channel_id, root_id="", original_id="", message=message,
                    type="system_ephemeral", props={}, hashtags="", file_ids=[], pending_post_id="",
                    has_reactions=False, reply_count=0, last_reply_at=0, participants=[], remote_id=None)
        await self.d.bus.publish([Event("ephemeral_message", {"post": dumps(post_json(post))}, user_id=user_id)])

    # --- the remote is gone for this channel ---------------------------------------------------------

    async def stop_sharing_with(self, remote_id: str, channel_id: str) -> bool:
        """The peer no longer shares ``channel_id`` with us: drop our side and say so in the channel."""
        row = await shares.get_channel_remote(self.d, channel_id, remote_id)
        if row is None or row.delete_at:
            return False
        # The notice names the workspace: "This channel is no longer shared with Alpha."
        removed, _ = await shares.do_uninvite_remote(self.d, channel_id, remote_id,
                                                     workspace=await self._name(remote_id))
        if removed:
            log.info("channel %s is no longer shared with %s", channel_id, remote_id)
        return removed

    async def on_unshare(self, rc: RemoteCluster, channel_id: str, *, channel_deleted: bool) -> None:
        """``sharedchannel_unshare`` from ``rc`` (§5.5; ``channel_deleted`` is our extension)."""
        share = await shares.get_share(self.d, channel_id)
        if share is None:
            return
        if share.home:  # the remote left our channel
            await shares.do_uninvite_remote(self.d, channel_id, rc.remote_id, workspace=rc.display_name)
            return
        await self.home_stopped_sharing(rc, channel_id, channel_deleted=channel_deleted)

    async def on_not_shared(self, rc: RemoteCluster, channel_id: str, err: str) -> None:
        """``rc`` answered our sync FAIL "channel is no longer shared" (§5.5), maybe "; channel was deleted"."""
        share = await shares.get_share(self.d, channel_id)
        if share is not None and not share.home and share.remote_id == rc.remote_id:
            await self.home_stopped_sharing(rc, channel_id, channel_deleted=CHANNEL_DELETED_TEXT in err)
        else:  # not the channel's home (a remote of ours that left): it cannot delete our channel
            outcome = await confirm.do_peer_lacks_channel(self.d, channel_id, rc.remote_id,
                                                          workspace=await self._name(rc.remote_id))
            if outcome == "removed":
                log.info("channel %s is no longer shared with %s", channel_id, rc.remote_id)
            elif outcome == "reinvite":  # only its sync had confirmed the invite: send the invite itself
                log.info("%s no longer has channel %s: inviting it again", rc.remote_id, channel_id)
                self.outbound.poke(rc.remote_id)

    async def home_stopped_sharing(self, rc: RemoteCluster, channel_id: str, *, channel_deleted: bool) -> None:
        share = await shares.get_share(self.d, channel_id)
        if share is None or share.home or share.remote_id != rc.remote_id:
            return  # only the home may unshare (or delete) its channel
        if channel_deleted:
            # Archive first: after a crash between the two, the share is still there, so the notice's redelivery
            # finishes both. The other order lost the archive for good (the redelivered notice found no share and
            # was ignored; the model-based test's deep run found it with a restart).
            await do_archive_channel_from_remote(self.d, channel_id, rc.remote_id)
        await self.stop_sharing_with(rc.remote_id, channel_id)

    async def on_connection_removed(self, event: Event) -> None:
        """We deleted a connection: tell the peer about every channel it shared with us (it still trusts our
        token until it deletes its side), and say "no longer shared" in our copies of its channels."""
        remote_id = event.data.get("remote_id")
        channel_ids = event.data.get("channel_ids")
        copies = event.data.get("copies")
        if not isinstance(remote_id, str) or not isinstance(channel_ids, list) or not isinstance(copies, dict):
            return
        name = await self._name(remote_id)
        for channel_id, creator_id in copies.items():
            async with transaction(self.d) as tx:
                channel = await get_channel_row(tx.conn, channel_id)
                await post_notice(self.d, tx, channel, creator_id, name, shared=False)
        for channel_id in channel_ids:
            self._notify(remote_id, channel_id, deleted=False, include_deleted=True)

    async def on_archived_unshared(self, event: Event) -> None:
        """A shared channel archived here was unshared in the archive's own transaction, its notices written
        (``domain.sharing.shares``): wake the senders; a remote copy also tells its home, best effort as before."""
        channel_id, remotes = event.data.get("channel_id"), event.data.get("remotes")
        if not isinstance(channel_id, str) or not isinstance(remotes, list):
            return
        for remote_id in remotes:
            self.outbound.poke(remote_id)  # the notice is durable: delivered when the peer is reachable
        home_remote_id = event.data.get("home_remote_id")
        if not event.data.get("home") and home_remote_id and home_remote_id not in remotes:
            self._notify(home_remote_id, channel_id, deleted=False)
