"""Receiver of the shared-channel topics (``/api/v4/remotecluster/msg``, §6.3): sync, invite, unshare, snapshot.

Every inbound item is checked before it is applied (#27326):

* the channel must be shared with the sender (a live remote row for it); otherwise the whole message
  fails with "channel is no longer shared", which tells the sender to stop (§5.5);
* a user may only be created by, or updated from, the connection that owns it (a home relaying a user we
  know from another connection changes nothing);
* who may change what: ``domain.sharing.ownership`` (new content by users the sender owns, or relayed by the home;
  edits only from the author's server; deletes also from the home; pins from anyone);
* a read-only share refuses all content from remotes on its home (Mattermost only hides the box);
* a status must be of a user the sender owns (``domain.synced.statuses``; refusals in ``status_errors``).

Per-item problems go to ``user_errors`` / ``post_errors`` / ``reaction_errors``; the message as a whole
still answers OK so one bad item never blocks the rest. Everything is applied through the domain with
``origin`` = the sender, so local websockets see the same events and nothing is echoed back.
"""

from __future__ import annotations

import logging
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import get_channel_row, get_team_row
from isthmus.domain.acknowledgements import upsert_remote_ack
from isthmus.domain.changes import record_member_change
from isthmus.domain.context import Domain, Tx, retrying, transaction
from isthmus.domain.models import Channel
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.sharing import accept as share_accept
from isthmus.domain.sharing import confirm, shares
from isthmus.domain.sharing.ownership import member_subject, relayed_by_home, removed_by_home
from isthmus.domain.sharing.repair import do_resend_posts
from isthmus.domain.snapshot import channel_snapshot_page, page_cursor
from isthmus.domain.synced.bulk import upsert_posts
from isthmus.domain.synced.posts import ItemRefused, refused, upsert_reaction
from isthmus.domain.synced.statuses import apply_remote_statuses
from isthmus.domain.synced.users import (
    Peer,
    UserSyncError,
    ensure_channel_member,
    flush_users,
    member_sync_enabled,
    prefetch_users,
    remove_channel_member,
    upsert_remote_user,
)
from isthmus.federation.outbound import Outbound
from isthmus.federation.sync.messages import (
    DMS_DISABLED_TEXT,
    NOT_ENABLED_TEXT,
    TOPIC_MEMBERSHIP,
    ChannelInvite,
    SyncMsg,
    SyncResponse,
    bad_payload,
    not_shared_error,
    parse_channel_invite,
    parse_sync_msg,
)
from isthmus.federation.sync.metrics import SyncMetrics
from isthmus.federation.sync.share import ShareService
from isthmus.federation.sync.text import apply_mention_transforms, permalinks_in
from isthmus.federation.wire import Msg
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import clocks as clocks_repo
from isthmus.store.repo import shared as shares_repo
from isthmus.store.repo import users as users_repo

log = logging.getLogger(__name__)


def _dms_disabled(invite: ChannelInvite) -> AppError:
    """A DM/GM invite while shared DMs are off here: the FAIL text says why and what to turn on, so the inviting
    user's "Error sending channel invite" notice on the sender is actionable. (Mattermost's own receiver does
    not check the flag; the seed says the flag turns remote DMs off.)"""
    kind = "direct" if invite.type == "D" else "group"
    return AppError("api.shared_channel.dms_disabled.app_error",
                    f"cannot create {kind} channel `{invite.channel_id}`: {DMS_DISABLED_TEXT}", 501)


def _disabled() -> AppError:
    # FAIL (not an unknown-topic OK) so the sender keeps its cursor and retries once we are enabled.
    return AppError("api.shared_channel.service_not_enabled.app_error", f"{NOT_ENABLED_TEXT} here.", 501)


class Receiver:
    def __init__(self, d: Domain, outbound: Outbound, share: ShareService, metrics: SyncMetrics) -> None:
        self.d = d
        self.outbound = outbound
        self.share = share
        self.metrics = metrics

    def _accept(self, rc: RemoteCluster) -> None:
        now = self.d.now() / 1000
        if not shares.shares_enabled(self.d):
            # Recorded so this side's console can say so too, not only the sender's.
            self.metrics.refused_disabled_at.labels(rc.remote_id).set(now)
            self.outbound.refused_while_off.add(rc.remote_id)
            raise _disabled()
        self.metrics.last_received_at.labels(rc.remote_id).set(now)
        self.outbound.contact(rc.remote_id)  # it talked to us: it is reachable, drop any backoff

    # --- isthmus_sync_hello: the peer (re)started; _accept drops our backoff toward it ------------------

    async def on_hello(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        return None

    # --- sharedchannel_invite ------------------------------------------------------------------------

    async def on_invite(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        invite = parse_channel_invite(msg.payload)
        if invite.direct:
            if not self.d.config.FeatureFlags.EnableSharedChannelsDMs:
                raise _dms_disabled(invite)
            channel = await share_accept.do_accept_direct_invite(
                self.d, peer=Peer(rc.remote_id, rc.name), creator_id=rc.creator_id, channel_id=invite.channel_id,
                type_=invite.type, invite_creator=invite.creator_id, participant_ids=invite.direct_participant_ids,
                participants=invite.direct_participants)
            log.info("%s message %s shared with us by %s", "direct" if invite.type == "D" else "group", channel.id,
                     rc.remote_id)
            return None
        channel = await share_accept.do_accept_channel_invite(self.d, remote_id=rc.remote_id,
                                                              creator_id=rc.creator_id,
                                                              default_team_id=rc.default_team_id, invite=invite.payload,
                                                              workspace=rc.display_name)
        log.info("channel %s (%s) shared with us by %s", channel.name, channel.id, rc.remote_id)
        return None

    # --- sharedchannel_unshare -----------------------------------------------------------------------

    async def on_unshare(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        channel_id = payload.get("channel_id")
        if not is_valid_id(channel_id):
            raise bad_payload("channel_id")
        assert isinstance(channel_id, str)
        await self.share.on_unshare(rc, channel_id, channel_deleted=payload.get("channel_deleted") is True)
        return None

    # --- isthmus_channel_snapshot (verify) -----------------------------------------------------------

    async def on_snapshot(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        channel_id = payload.get("channel_id")
        if not is_valid_id(channel_id):
            raise bad_payload("channel_id")
        assert isinstance(channel_id, str)
        row = await shares.get_channel_remote(self.d, channel_id, rc.remote_id)
        if row is None or row.delete_at:
            raise not_shared_error(channel_id)
        since = payload.get("since")
        # One bounded page per request (any peer may ask): the asker follows ``next`` for the rest.
        return await channel_snapshot_page(self.d, channel_id, since=since if isinstance(since, int) else 0,
                                           after=page_cursor(payload.get("after")))

    async def on_resend(self, msg: Msg, rc: RemoteCluster) -> Any:
        """``verify --repair`` on the peer found these posts different: queue our own state of them for it."""
        self._accept(rc)
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        channel_id, post_ids = payload.get("channel_id"), payload.get("post_ids")
        if not is_valid_id(channel_id):
            raise bad_payload("channel_id")
        if not isinstance(post_ids, list) or len(post_ids) > 10_000 or not all(is_valid_id(p) for p in post_ids):
            raise bad_payload("post_ids")
        assert isinstance(channel_id, str)
        row = await shares.get_channel_remote(self.d, channel_id, rc.remote_id)
        if row is None or row.delete_at:
            raise not_shared_error(channel_id)
        return {"queued": await do_resend_posts(self.d, channel_id, post_ids, rc.remote_id)}

    # --- sharedchannel_sync --------------------------------------------------------------------------

    async def on_sync(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        sm = parse_sync_msg(msg.payload)
        if not sm.channel_id:  # global user sync (§8.3), on its own topic or on sharedchannel_sync
            return await retrying(lambda: self._apply_global_users(rc, sm))
        # Relayed statuses lock other channels' shares after this channel's: on PostgreSQL that order can
        # cross a local status change, and the database aborts one side. Applying is idempotent and the
        # aborted attempt left nothing, so run it again rather than answer the peer with an error.
        answer, confirmed = await retrying(lambda: self._apply_sync(rc, sm, msg.topic))
        if confirmed:
            self.outbound.poke(rc.remote_id)  # the channel is now sendable to it
        return answer

    async def _apply_global_users(self, rc: RemoteCluster, sm: SyncMsg) -> Any:
        """Global user sync (§8.3, §6.3 step 2): users only, upserted without any team or channel membership,
        answered with ``users_syncd`` (a Mattermost sender moves its cursor on any OK answer, so dropping them
        would lose them for good). Only users the sender owns: its own local users (no ``remote_id``), never
        one of ours or a third server's; a profile older than the one we have is acknowledged and ignored."""
        if sm.posts or sm.reactions or sm.statuses or sm.membership_changes:
            raise bad_payload("a sync message without a channel carries users only")
        response = SyncResponse()
        peer = Peer(rc.remote_id, rc.name)
        async with transaction(self.d) as tx:
            await prefetch_users(tx, peer, sm.users, defer_inserts=True)  # users only: nothing reads them before
            for user_id, incoming in sm.users.items():
                try:
                    if incoming.get("id") != user_id or incoming.get("remote_id"):
                        raise UserSyncError("not a user of the sender")
                    user = await upsert_remote_user(self.d, tx, peer, incoming)
                    response.users_syncd.append(user_id)
                    response.users_last_update_at = max(response.users_last_update_at, user.remote_update_at)
                    self.metrics.items_received.labels(peer.remote_id, "user").inc()
                except (UserSyncError, AppError) as err:
                    log.info("remote %s: user %s refused: %s", peer.remote_id, user_id[:26], err)
                    response.user_errors.append(user_id[:26])
                    self.metrics.items_refused.labels(peer.remote_id, "user").inc()
            await flush_users(tx)
        return response.to_obj()

    async def _apply_sync(self, rc: RemoteCluster, sm: SyncMsg, topic: str) -> tuple[Any, bool]:
        """Apply one message; returns (answer, whether it confirmed a pending invite)."""
        response = SyncResponse()
        peer = Peer(rc.remote_id, rc.name)
        confirmed = False
        # The whole message is applied in ONE transaction (one commit instead of one per item). Every refusal
        # is raised before its item writes anything, so a refused item is skipped without a rollback; any
        # other error rolls the whole message back and the sender retries it. The sharing checks read inside
        # it too: two read transactions less per message (~30% of this handler's time in bench/sync's profile).
        async with transaction(self.d) as tx:
            share = await shares_repo.select_shared_channel(tx.conn, sm.channel_id)
            row = await shares_repo.select_remote(tx.conn, sm.channel_id, rc.remote_id)
            if share is None or row is None or row["delete_at"] or not (row["is_invite_confirmed"] or share["home"]):
                raise not_shared_error(sm.channel_id, deleted=await _deleted_for(tx, row))
            if not row["is_invite_confirmed"]:
                # We invited it and its OK is still on the way (or was lost): it accepted, or it could not
                # sync this channel. Refusing would make it tear down its copy and lose what it wrote since.
                await confirm.confirm_invite_in_tx(tx, row, self.d.now(), by_sync=True)
                confirmed = True
            refuse_content = bool(share["home"] and share["readonly"])
            channel = await get_channel_row(tx.conn, sm.channel_id)
            await self._users(tx, channel, peer, sm, response)
            if sm.membership_changes and member_sync_enabled(self.d):
                await self._memberships(tx, channel, rc, sm, response, legacy=topic == TOPIC_MEMBERSHIP)
            if sm.posts:  # after the users: mentions of users created by this very message resolve too
                rewrite = await self._message_rewriter(tx, channel, rc, sm)
                await self._posts(tx, channel, rc, sm, response, refuse_content, rewrite)
            await self._reactions(tx, channel, rc, sm, response, refuse_content)
            if sm.acknowledgements:
                await self._acknowledgements(tx, channel, rc, sm, response)
            if sm.statuses:  # after the users: a status of a user created by this very message applies
                response.status_errors = await apply_remote_statuses(self.d, tx, rc.remote_id, sm.statuses)
        return response.to_obj(), confirmed

    async def _users(self, tx: Tx, channel: Channel, peer: Peer, sm: SyncMsg, response: SyncResponse) -> None:
        for user_id, incoming in sm.users.items():
            if incoming.get("id") != user_id:
                response.user_errors.append(user_id)
                continue
            try:
                # In a mesh the home relays users we know directly from their own server: keep them as they are
                relayed = await relayed_by_home(tx, incoming, peer.remote_id, channel.id)
                user = relayed or await upsert_remote_user(self.d, tx, peer, incoming)
                # Mattermost joins every synced user to the channel; with membership sync on, membership is
                # exactly what membership_changes say (a removed member must not come back with a profile),
                # except for a user the home relays that no membership change here ever named: a home with
                # membership sync off sends none, and the home vouches only for members (author_from).
                # Never into a DM/GM: its members are its participants (Mattermost: "non-DM" only).
                if not channel.delete_at and not user.delete_at and channel.type not in ("D", "G") \
                        and (not member_sync_enabled(self.d) or (relayed is not None and not await
                             clocks_repo.select_member_clocks(tx.conn, channel.id, [user.id]))) \
                        and not await removed_by_home(tx, channel.id, user.id):
                    await ensure_channel_member(self.d, tx, channel, user.id, peer.remote_id)
                response.users_syncd.append(user_id)
                self.metrics.items_received.labels(peer.remote_id, "user").inc()
            except (UserSyncError, AppError) as err:
                log.info("remote %s: user %s refused: %s", peer.remote_id, user_id, err)
                response.user_errors.append(user_id)
                response.refuse("user", user_id, refused(err))
                self.metrics.items_refused.labels(peer.remote_id, "user").inc()

    async def _memberships(self, tx: Tx, channel: Channel, rc: RemoteCluster, sm: SyncMsg,
                           response: SyncResponse, *, legacy: bool) -> None:
        """§8.2: each change must be for this channel and a user the sender owns (from the home: any user, see
        ``ownership.member_subject``); applied idempotently, last writer wins by ``change_time`` (a change older
        than the one applied here is ignored, not an error). ``legacy`` (topic ``sharedchannel_membership``): a
        Mattermost sender counts a change as delivered only when its user is listed in ``users_syncd``."""
        user_ids = [c.get("user_id") for c in sm.membership_changes if is_valid_id(c.get("user_id"))]
        clocks = await clocks_repo.select_member_clocks(tx.conn, channel.id, [str(u) for u in user_ids])
        for change in sm.membership_changes:
            user_id = change.get("user_id")
            try:
                if change.get("channel_id") != channel.id:
                    raise ItemRefused("membership change for another channel")
                user = await member_subject(tx, user_id, rc.remote_id, channel.id, change.get("is_add") is True)
                at = _clock(change.get("change_time"))
                if not (at and at < clocks.get(user.id, 0)):
                    if change.get("is_add") is True:
                        changed = await ensure_channel_member(self.d, tx, channel, user.id, rc.remote_id)
                    else:
                        changed = await remove_channel_member(tx, channel, user.id, rc.remote_id)
                    if changed:
                        await record_member_change(tx, channel, user.id, rc.remote_id, now=self.d.now(),
                                                   change_at=at)
                    if at:
                        await clocks_repo.upsert_member_clock(tx.conn, channel.id, user.id, at)
                        clocks[user.id] = at
                if legacy and user.id not in response.users_syncd:
                    response.users_syncd.append(user.id)
                self.metrics.items_received.labels(rc.remote_id, "member").inc()
            except (ItemRefused, AppError) as err:
                response.membership_errors.append(f"{str(user_id)[:26]}: {refused(err)}"[:200])
                self.metrics.items_refused.labels(rc.remote_id, "member").inc()

    async def _message_rewriter(self, tx: Tx, channel: Channel, rc: RemoteCluster, sm: SyncMsg) -> Any:
        ids = list(sm.mention_transforms.values())
        known = {r["id"]: (r["username"], r["remote_id"] is not None)
                 for r in await users_repo.select_users_by_ids(tx.conn, ids)}
        # The team name only matters for shared permalinks; most messages have none (saves a read per message).
        has_links = any("/plshared/" in str(p.get("message") or "") for p in sm.posts)
        team_name = (await get_team_row(tx.conn, channel.team_id)).name if channel.team_id and has_links else ""
        site_url = str(self.d.config.ServiceSettings.SiteURL or "")

        def rewrite(message: str) -> str:
            if sm.mention_transforms:
                message = apply_mention_transforms(message, sm.mention_transforms, known.get, rc.name)
            return permalinks_in(message, site_url, team_name)

        return rewrite

    async def _posts(self, tx: Tx, channel: Channel, rc: RemoteCluster, sm: SyncMsg, response: SyncResponse,
                     refuse: bool, rewrite: Any) -> None:
        # New plain posts are applied in bulk, the rest one by one, with the same result (domain.synced_bulk).
        outcomes: list[Any]
        if refuse:
            outcomes = [ItemRefused("read-only channel: remotes may not post")] * len(sm.posts)
        else:
            items = [(p, rewrite(p["message"] if isinstance(p.get("message"), str) else "")) for p in sm.posts]
            outcomes = await upsert_posts(self.d, tx, rc.remote_id, channel, items)
        for p, outcome in zip(sm.posts, outcomes, strict=True):
            post_id = str(p.get("id")) if isinstance(p.get("id"), str) else ""
            if isinstance(outcome, Exception):
                log.info("remote %s: post %s refused: %s", rc.remote_id, post_id[:26], outcome)
                response.post_errors.append(post_id[:26])
                response.refuse("post", post_id[:26], refused(outcome))
                self.metrics.items_refused.labels(rc.remote_id, "post").inc()
                continue
            self.metrics.items_received.labels(rc.remote_id, "post").inc()
            update_at = p.get("update_at")
            if isinstance(update_at, int) and not isinstance(update_at, bool):
                response.posts_last_update_at = max(response.posts_last_update_at, update_at)
            log.debug("remote %s: post %s %s", rc.remote_id, post_id, outcome)

    async def _reactions(self, tx: Tx, channel: Channel, rc: RemoteCluster, sm: SyncMsg, response: SyncResponse,
                         refuse: bool) -> None:
        for r in sm.reactions:
            post_id = str(r.get("post_id")) if isinstance(r.get("post_id"), str) else ""
            try:
                if refuse:
                    raise ItemRefused("read-only channel: remotes may not react")
                await upsert_reaction(self.d, tx, rc.remote_id, channel, r)
                self.metrics.items_received.labels(rc.remote_id, "reaction").inc()
            except (ItemRefused, AppError) as err:
                log.info("remote %s: reaction on %s refused: %s", rc.remote_id, post_id[:26], err)
                response.reaction_errors.append(post_id[:26])
                response.refuse("reaction", post_id[:26], refused(err))
                self.metrics.items_refused.labels(rc.remote_id, "reaction").inc()


    async def _acknowledgements(self, tx: Tx, channel: Channel, rc: RemoteCluster, sm: SyncMsg,
                                response: SyncResponse) -> None:
        """Each acknowledgement of a user the sender owns, on a post of this channel; refusals are listed in
        ``acknowledgement_errors`` (an empty list tells the sender they were all applied)."""
        for a in sm.acknowledgements:
            post_id = str(a.get("post_id")) if isinstance(a.get("post_id"), str) else ""
            try:
                await upsert_remote_ack(self.d, tx, rc.remote_id, channel, a)
                at = a.get("acknowledged_at")
                if isinstance(at, int):
                    response.acknowledgements_last_update_at = max(response.acknowledgements_last_update_at, at)
                self.metrics.items_received.labels(rc.remote_id, "acknowledgement").inc()
            except (ItemRefused, AppError) as err:
                log.info("remote %s: acknowledgement on %s refused: %s", rc.remote_id, post_id[:26], err)
                response.acknowledgement_errors.append(post_id[:26])
                self.metrics.items_refused.labels(rc.remote_id, "acknowledgement").inc()


def _clock(value: object) -> int:
    """A membership ``change_time`` (0 when missing or malformed: applied without comparison)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 53 else 0


async def _deleted_for(tx: Tx, row: dict[str, Any] | None) -> bool:
    """The channel was shared with the sender and is deleted here (its FAIL says so: issue "sync engine")."""
    if row is None or not row["delete_at"]:
        return False
    channel = await access_repo.select_channel(tx.conn, row["channel_id"])
    return channel is not None and bool(channel["delete_at"])
