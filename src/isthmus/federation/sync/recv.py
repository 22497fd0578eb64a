"""Receiver of the shared-channel topics (``/api/v4/remotecluster/msg``, §6.3): sync, invite, unshare, snapshot.

Every inbound item is checked before it is applied (#27326):

* the channel must be shared with the sender (a live remote row for it); otherwise the whole message
  fails with "channel is no longer shared", which tells the sender to stop (§5.5);
* a user may only be created by, or updated from, the connection that owns it;
* a new post or a reaction must be authored by a user the sender owns (its own users, or users the home
  relays); edits and deletes must target a post of this channel;
* a read-only share refuses all content from remotes on its home (Mattermost only hides the box);
* a status must be of a user the sender owns (``domain.remote_statuses``; refusals in ``status_errors``).

Per-item problems go to ``user_errors`` / ``post_errors`` / ``reaction_errors``; the message as a whole
still answers OK so one bad item never blocks the rest. Everything is applied through the domain with
``origin`` = the sender, so local websockets see the same events and nothing is echoed back.
"""

from __future__ import annotations

import logging
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.domain import share_accept, shares
from isthmus.domain.access import get_channel_row, get_team_row
from isthmus.domain.changes import record_change
from isthmus.domain.context import Domain, Tx, retrying, transaction
from isthmus.domain.models import Channel
from isthmus.domain.remote_statuses import apply_remote_statuses
from isthmus.domain.remote_users import (
    Peer,
    UserSyncError,
    ensure_channel_member,
    member_sync_enabled,
    owned_user,
    remove_channel_member,
    upsert_remote_user,
)
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.share_repair import do_resend_posts
from isthmus.domain.snapshot import channel_snapshot
from isthmus.domain.synced import ItemRefused, refused, upsert_reaction
from isthmus.domain.synced_bulk import upsert_posts
from isthmus.federation.outbound import Outbound
from isthmus.federation.sync.messages import (
    NOT_ENABLED_TEXT,
    SyncMsg,
    SyncResponse,
    bad_payload,
    not_shared_error,
    parse_sync_msg,
)
from isthmus.federation.sync.metrics import SyncMetrics
from isthmus.federation.sync.share import ShareService
from isthmus.federation.sync.text import apply_mention_transforms, permalinks_in
from isthmus.federation.wire import Msg
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import shared as shares_repo
from isthmus.store.repo import users as users_repo

log = logging.getLogger(__name__)


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
        if not shares.shares_enabled(self.d):
            raise _disabled()
        self.outbound.contact(rc.remote_id)  # it talked to us: it is reachable, drop any backoff

    # --- isthmus_sync_hello: the peer (re)started; _accept drops our backoff toward it ------------------

    async def on_hello(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        return None

    # --- sharedchannel_invite ------------------------------------------------------------------------

    async def on_invite(self, msg: Msg, rc: RemoteCluster) -> Any:
        self._accept(rc)
        if not isinstance(msg.payload, dict):
            raise bad_payload("invite")
        channel = await share_accept.do_accept_channel_invite(self.d, remote_id=rc.remote_id,
                                                              creator_id=rc.creator_id,
                                                              default_team_id=rc.default_team_id, invite=msg.payload)
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
        return await channel_snapshot(self.d, channel_id, since=since if isinstance(since, int) else 0)

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
        if not sm.channel_id:
            return SyncResponse().to_obj()  # global user sync is not enabled here: accept and ignore
        # Relayed statuses lock other channels' shares after this channel's: on PostgreSQL that order can
        # cross a local status change, and the database aborts one side. Applying is idempotent and the
        # aborted attempt left nothing, so run it again rather than answer the peer with an error.
        return await retrying(lambda: self._apply_sync(rc, sm))

    async def _apply_sync(self, rc: RemoteCluster, sm: SyncMsg) -> Any:
        response = SyncResponse()
        peer = Peer(rc.remote_id, rc.name)
        # The whole message is applied in ONE transaction (one commit instead of one per item). Every refusal
        # is raised before its item writes anything, so a refused item is skipped without a rollback; any
        # other error rolls the whole message back and the sender retries it. The sharing checks read inside
        # it too: two read transactions less per message (~30% of this handler's time in bench/sync's profile).
        async with transaction(self.d) as tx:
            share = await shares_repo.select_shared_channel(tx.conn, sm.channel_id)
            row = await shares_repo.select_remote(tx.conn, sm.channel_id, rc.remote_id)
            if share is None or row is None or row["delete_at"] or not row["is_invite_confirmed"]:
                raise not_shared_error(sm.channel_id, deleted=await _deleted_for(tx, row))
            refuse_content = bool(share["home"] and share["readonly"])
            channel = await get_channel_row(tx.conn, sm.channel_id)
            await self._users(tx, channel, peer, sm, response)
            if sm.membership_changes and member_sync_enabled(self.d):
                await self._memberships(tx, channel, rc, sm, response)
            if sm.posts:  # after the users: mentions of users created by this very message resolve too
                rewrite = await self._message_rewriter(tx, channel, rc, sm)
                await self._posts(tx, channel, rc, sm, response, refuse_content, rewrite)
            await self._reactions(tx, channel, rc, sm, response, refuse_content)
            if sm.statuses:  # after the users: a status of a user created by this very message applies
                response.status_errors = await apply_remote_statuses(self.d, tx, rc.remote_id, sm.statuses)
        return response.to_obj()

    async def _users(self, tx: Tx, channel: Channel, peer: Peer, sm: SyncMsg, response: SyncResponse) -> None:
        for user_id, incoming in sm.users.items():
            if incoming.get("id") != user_id:
                response.user_errors.append(user_id)
                continue
            try:
                user = await upsert_remote_user(self.d, tx, peer, incoming)
                # Mattermost joins every synced user to the channel; with membership sync on, membership is
                # exactly what membership_changes say (a removed member must not come back with a profile).
                if not channel.delete_at and not user.delete_at and not member_sync_enabled(self.d):
                    await ensure_channel_member(self.d, tx, channel, user.id, peer.remote_id)
                response.users_syncd.append(user_id)
                self.metrics.items_received.labels(peer.remote_id, "user").inc()
            except (UserSyncError, AppError) as err:
                log.info("remote %s: user %s refused: %s", peer.remote_id, user_id, err)
                response.user_errors.append(user_id)
                self.metrics.items_refused.labels(peer.remote_id, "user").inc()

    async def _memberships(self, tx: Tx, channel: Channel, rc: RemoteCluster, sm: SyncMsg,
                           response: SyncResponse) -> None:
        """§8.2: each change must be for this channel and a user the sender owns; applied idempotently."""
        for change in sm.membership_changes:
            user_id = change.get("user_id")
            try:
                if change.get("channel_id") != channel.id:
                    raise ItemRefused("membership change for another channel")
                user = await owned_user(tx, user_id, rc.remote_id)
                if change.get("is_add") is True:
                    if await ensure_channel_member(self.d, tx, channel, user.id, rc.remote_id):
                        await record_change(tx, channel, "member", user.id, rc.remote_id, now=self.d.now())
                elif await remove_channel_member(tx, channel, user.id, rc.remote_id):
                    await record_change(tx, channel, "member", user.id, rc.remote_id, now=self.d.now())
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
                self.metrics.items_refused.labels(rc.remote_id, "reaction").inc()


async def _deleted_for(tx: Tx, row: dict[str, Any] | None) -> bool:
    """The channel was shared with the sender and is deleted here (its FAIL says so: issue "sync engine")."""
    if row is None or not row["delete_at"]:
        return False
    channel = await access_repo.select_channel(tx.conn, row["channel_id"])
    return channel is not None and bool(channel["delete_at"])
