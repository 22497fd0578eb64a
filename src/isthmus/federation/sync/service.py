"""The shared-channel service of one server: wires the sender, the receiver and the share lifecycle.

Built by the composition root next to :class:`Connections`. Topic handlers are registered once and
refuse work while ``EnableSharedChannels`` is off; the sender runs only while it is on (config changes
are followed at runtime).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.context import Domain
from isthmus.domain.models import Post
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.shapes import dumps, post_json
from isthmus.domain.sharing import refusals, shares
from isthmus.domain.sharing.resume import expand_replay
from isthmus.federation.connections import Connections
from isthmus.federation.outbound import Outbound, RemoteQueue, SyncTimings
from isthmus.federation.pinger import EVENT_ONLINE
from isthmus.federation.sync import files as sync_files
from isthmus.federation.sync import limits as sync_limits
from isthmus.federation.sync.global_users import GlobalUserSync, global_sync_enabled
from isthmus.federation.sync.messages import (
    NOT_SHARED_TEXT,
    TOPIC_GLOBAL_USERS,
    TOPIC_HELLO,
    TOPIC_INVITE,
    TOPIC_LIMITS,
    TOPIC_MEMBERSHIP,
    TOPIC_RESEND,
    TOPIC_SNAPSHOT,
    TOPIC_SYNC,
    TOPIC_UNSHARE,
    TOPIC_UPLOAD,
    SyncResponse,
)
from isthmus.federation.sync.metrics import SyncMetrics
from isthmus.federation.sync.recv import Receiver
from isthmus.federation.sync.send import Batch, collect, commit, pending_channels
from isthmus.federation.sync.share import ShareService
from isthmus.federation.sync.typing_relay import TOPIC_TYPING, TypingRelay
from isthmus.federation.transport import TransportError
from isthmus.federation.wire import Msg, go_json
from isthmus.store.repo import remotes as remotes_repo
from isthmus.store.repo.remotes import RemoteFilter

log = logging.getLogger(__name__)

OFFLINE_NOTICE = ("One or more messages could not be delivered to remote site {remote} because it is offline. "
                  "The message(s) will be delivered when the site is online.")
MAX_NOTIFIED = 10_000
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Messages one pass sends for one channel before the queue looks at its other work (invites, other channels).
PIPELINE_BATCHES = 16
# Local profile changes that make a global user sync due (a synthetic user's come with an origin and are skipped).
USER_EVENTS = ("new_user", "user_updated")


class ChannelNotShared(Exception):
    pass


class SyncRefused(Exception):
    pass


class SharedChannels:
    def __init__(self, d: Domain, conns: Connections, timings: SyncTimings | None = None) -> None:
        self.d = d
        self.conns = conns
        self.metrics = SyncMetrics()
        self.timings = timings or SyncTimings.from_env()
        self.outbound = Outbound(d, conns, self.metrics, self.timings)
        self.outbound.sync_once = self.sync_once
        conns.inbound_observers.append(self.metrics.observe_inbound)
        self.share = ShareService(d, conns, self.outbound)
        self.receiver = Receiver(d, self.outbound, self.share, self.metrics)
        self.global_users = GlobalUserSync(d, conns, self.metrics)
        self._notified: set[tuple[str, str]] = set()
        conns.register_topic(TOPIC_SYNC, self.receiver.on_sync)
        # Legacy (10.10–11.x) membership batches and global user sync carry a SyncMsg too.
        conns.register_topic(TOPIC_MEMBERSHIP, self.receiver.on_sync)
        conns.register_topic(TOPIC_GLOBAL_USERS, self.receiver.on_sync)
        conns.register_topic(TOPIC_INVITE, self.receiver.on_invite)
        conns.register_topic(TOPIC_UNSHARE, self.receiver.on_unshare)
        conns.register_topic(TOPIC_SNAPSHOT, self.receiver.on_snapshot)
        conns.register_topic(TOPIC_RESEND, self.receiver.on_resend)
        conns.register_topic(TOPIC_UPLOAD, self._on_upload)
        conns.register_topic(TOPIC_HELLO, self.receiver.on_hello)
        conns.register_topic(TOPIC_LIMITS, self._on_limits)
        self.typing = TypingRelay(d, conns, self.outbound)
        conns.register_topic(TOPIC_TYPING, self._on_typing)
        # Peers told our current limits since our start; emptied when they change (config), so each learns anew.
        self._limits_told: set[str] = set()
        self._limits = refusals.local_limits(d)
        self._listening = False
        self._stopped = True
        self._task: asyncio.Task[None] | None = None

    def configure(self, timings: SyncTimings) -> None:
        """Change timings (tests); call before :meth:`start`."""
        self.timings = timings
        self.outbound.timings = timings

    async def _hello(self, rc: RemoteCluster) -> None:
        """Tell ``rc`` we are up (see ``Outbound``). A refusal (e.g. shared channels off there) changes nothing."""
        msg = Msg.new(TOPIC_HELLO, {}, self.d.now())
        reply = await self.conns.client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)
        if not reply.ok:
            log.debug("hello to %s refused: %s", rc.remote_id, reply.err[:200])

    async def _on_limits(self, msg: Msg, rc: RemoteCluster) -> Any:
        self.receiver._accept(rc)
        return await sync_limits.on_limits(self.d, rc, msg.payload)

    async def _tell_limits(self, rc: RemoteCluster) -> None:
        """Before the pass sends anything: the peer learns our limits and we learn its (once per start/change)."""
        try:
            if await sync_limits.exchange(self.d, self.conns.client, rc):
                self._limits_told.add(rc.remote_id)
        except TransportError as err:  # the pass's own requests will meet the same fate and back off
            log.debug("limits to %s not delivered: %s", rc.remote_id, err)

    async def _on_typing(self, msg: Msg, rc: RemoteCluster) -> None:
        self.receiver._accept(rc)
        await self.typing.on_typing(msg, rc)

    async def _on_upload(self, msg: Msg, rc: RemoteCluster) -> Any:
        self.receiver._accept(rc)
        return await sync_files.on_upload_session(self.d, rc, msg.payload)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopped = False
        if not self._listening:
            self.d.config_store.on_change(self._on_config_change)
            self.d.bus.subscribe(self._on_event)
            self._listening = True
        if shares.shares_enabled(self.d) and not self.outbound.running:
            await self.outbound.start()
            await self._users_due_everywhere()

    async def _users_due_everywhere(self) -> None:
        """After a start (a crash included): every confirmed connection looks at its user sync cursor once, so an
        interrupted run resumes; a connection with nothing new costs one query."""
        if not global_sync_enabled(self.d):
            return
        async with self.d.db.read() as conn:
            rows = await remotes_repo.select_remotes(conn, RemoteFilter(only_confirmed=True, exclude_plugins=True))
        for row in rows:
            self.sync_users_soon(row["remote_id"])

    def sync_users_soon(self, remote_id: str) -> None:
        """Global user sync for ``remote_id`` on its sender's next pass (the one-request-in-flight queue)."""
        self.global_users.mark(remote_id)
        self.outbound.poke(remote_id)

    async def stop(self) -> None:
        self._stopped = True
        if self.outbound.running:
            await self.outbound.stop()

    def _on_config_change(self, _config: Any) -> None:
        if self._stopped:
            return
        limits = refusals.local_limits(self.d)
        if limits != self._limits:  # tell every peer again, on its queue's next pass
            self._limits = limits
            self._limits_told.clear()
            for q in list(self.outbound.queues.values()):
                q.poke()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if shares.shares_enabled(self.d) and not self.outbound.running:
            self._task = loop.create_task(self.start())
        elif self.outbound.running and global_sync_enabled(self.d):  # maybe just turned on
            self.outbound.spawn(self._users_due_everywhere())
        elif not shares.shares_enabled(self.d) and self.outbound.running:
            self._task = loop.create_task(self.outbound.stop())

    async def _on_event(self, event: Event) -> None:
        if self._stopped or not shares.shares_enabled(self.d):
            return
        if event.kind == EVENT_ONLINE and event.origin and global_sync_enabled(self.d):
            self.sync_users_soon(event.origin)
        elif event.kind in USER_EVENTS and not event.origin and global_sync_enabled(self.d):
            # A local person joined or changed: peers that had everyone get them now, not at the next reconnect.
            for remote_id in list(self.outbound.queues):
                self.sync_users_soon(remote_id)
        elif event.kind == shares.EVENT_ARCHIVED_UNSHARED:
            await self.share.on_archived_unshared(event)
        elif event.kind == shares.EVENT_CONNECTION_UNSHARED:
            await self.share.on_connection_removed(event)
        elif event.kind == "typing":
            await self.typing.on_event(event)

    # --- the engine: one pass for one remote (called under its single-flight lock) ------------------

    async def sync_once(self, q: RemoteQueue) -> bool:
        """One pass for one connection, under its single-flight lock; True if more is pending right now."""
        max_posts = q.batch_limit or self.outbound.max_posts()
        # Everything the pass needs before it sends comes from ONE read transaction: the connection, pending
        # invites, the channels with unsent rows and the first batch. A pass runs per post when posts trickle
        # in, and each separate read cost ~1 ms there (bench/sync's timing breakdown of the latency phase).
        first: Batch | None = None
        async with self.d.db.read() as conn:
            row = await remotes_repo.select_remote(conn, q.remote_id) if is_valid_id(q.remote_id) else None
            rc = RemoteCluster(**row) if row else None
            if rc is None or not rc.is_confirmed or rc.is_plugin:
                return False
            invites = await self.share.pending_invites(conn, rc)
            notices = await self.share.pending_notices(conn, rc)
            pending = await pending_channels(conn, rc.remote_id)  # queue depth: computed at scrape time
            if pending and not invites:
                first = await collect(self.d, rc, pending[0], max_posts, conn=conn)
        if rc.remote_id not in self._limits_told:
            await self._tell_limits(rc)
        if invites:
            await self.share.send_invites(rc, invites)
            async with self.d.db.read() as conn:  # confirmed invites may have made channels sendable
                pending = await pending_channels(conn, rc.remote_id)
        if notices:
            await self.share.send_notices(rc, notices)
        more = await self._send_pending(rc, pending, first, max_posts)
        more = await self.global_users.step(rc) or more
        if q.hello_pending:
            await self._hello(rc)  # a transport error keeps it pending: the queue backs off and retries
            q.hello_pending = False
        return more

    async def _send_pending(self, rc: RemoteCluster, pending: list[dict[str, Any]], first: Batch | None,
                            max_posts: int) -> bool:
        more = False
        for i, scr in enumerate(pending):
            batch = first if i == 0 and first is not None else await collect(self.d, rc, scr, max_posts)
            more = await self._send_channel(rc, scr, batch, max_posts) or more
        return more

    async def _fitting(self, rc: RemoteCluster, scr: dict[str, Any], batch: Batch, max_posts: int) -> Batch:
        """Keep each message well under the peer's frame limit (8 MiB here, less elsewhere): halve the batch
        until it fits, down to a single post."""
        limit = max_posts
        while limit > 1 and len(go_json(batch.msg.to_obj())) > MAX_MESSAGE_BYTES:
            limit //= 2
            batch = await collect(self.d, rc, scr, limit)
        return batch

    async def _send_channel(self, rc: RemoteCluster, scr: dict[str, Any], batch: Batch, max_posts: int) -> bool:
        """Deliver a channel's backlog, up to PIPELINE_BATCHES messages. Still one request in flight; but
        while the peer applies batch N this server already reads batch N+1 (from N's end, as if it were
        acknowledged), so in a catch-up the two servers work at the same time instead of taking turns.
        A refused or failed batch discards the read-ahead: only acknowledged batches move the cursor. The
        read-ahead may repeat a user or file that batch N sends for the first time; receivers upsert them."""
        for _ in range(PIPELINE_BATCHES):
            batch = await self._fitting(rc, {**scr, "outbox_cursor": batch.start_seq}, batch, max_posts)
            ahead: asyncio.Task[Batch] | None = None
            if batch.more and batch.end_seq > batch.start_seq:
                ahead = asyncio.create_task(collect(self.d, rc, {**scr, "outbox_cursor": batch.end_seq}, max_posts))
            response: SyncResponse | None = None
            try:
                if batch.has_payload:
                    try:
                        response = await self._deliver(rc, batch)
                    except ChannelNotShared as err:
                        await self.share.on_not_shared(rc, batch.channel_id, str(err))
                        return False
                    except Exception:
                        await self._offline_notice(rc, batch)
                        raise
                await commit(self.d, rc, batch, response)
                for refusal in batch.refusals:
                    self.metrics.items_not_delivered.labels(rc.remote_id, refusal.kind).inc()
            except BaseException:
                if ahead is not None:
                    ahead.cancel()
                raise
            if batch.replay_seq:  # stopped before a replay marker: queue its next chunk, then send that
                if ahead is not None:
                    ahead.cancel()
                await expand_replay(self.d, batch.channel_id, batch.replay_seq)
                return True
            if ahead is None:
                return batch.more
            batch = await ahead
        return True

    async def _push_files(self, rc: RemoteCluster, batch: Batch) -> None:
        """Push the batch's files; one the peer refuses (known limits, or its answer) is recorded in
        ``batch.refusals`` and the post goes without it, so it never holds back the items after it."""
        workspace = rc.display_name or rc.name
        limits = (await refusals.peer_limits(self.d, [rc.remote_id])).get(rc.remote_id)
        for info, uploader in batch.files:
            reason, detail = (limits.refuses(info.size) if limits else None), ""
            if reason is None:  # not known to be refused: try (a peer without announced limits decides)
                try:
                    await sync_files.push_file(self.d, self.conns.client, rc, info, uploader)
                    self.metrics.items_sent.labels(rc.remote_id, "file").inc()
                    continue
                except sync_files.FileRefused as err:
                    reason, detail = err.reason, err.detail
            words = refusals.file_words(reason, name=info.name, size=info.size, workspace=workspace, sent=True,
                                        limit=limits.max_file_size if limits else 0, detail=detail)
            batch.refusals.append(refusals.Refusal("file", info.id, batch.channel_id, reason, words))

    def _answer_refusals(self, rc: RemoteCluster, batch: Batch, response: SyncResponse) -> None:
        """Items the peer listed in the answer's ``*_errors``: recorded with the cursor move (issue 13)."""
        workspace = rc.display_name or rc.name
        for kind, ids in (("post", response.post_errors), ("reaction", response.reaction_errors),
                          ("user", response.user_errors), ("status", response.status_errors)):
            reasons = response.reasons.get(kind, {})
            for item in dict.fromkeys(ids):
                batch.refusals.append(refusals.item_refusal(kind, item, batch.channel_id, workspace,
                                                            reasons.get(item[:64], "")))
        for text in response.membership_errors:  # "user id: reason" (ours; Mattermost gives none)
            user_id, _, why = text.partition(": ")
            batch.refusals.append(refusals.item_refusal("member", user_id, batch.channel_id, workspace, why))

    async def _deliver(self, rc: RemoteCluster, batch: Batch) -> SyncResponse:
        batch.refusals = []  # a batch sent again starts over
        if batch.files:
            await self._push_files(rc, batch)
        msg = Msg.new(TOPIC_SYNC, batch.msg.to_obj(), self.d.now())
        reply = await self.conns.client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)
        if not reply.ok:
            if NOT_SHARED_TEXT in reply.err:
                raise ChannelNotShared(reply.err)
            raise SyncRefused(f"peer answered FAIL: {reply.err[:300]}")
        response = SyncResponse.from_obj(reply.payload)
        for user_id in batch.pictures:  # after the users exist over there; a failure retries the batch
            if user_id in response.users_syncd:
                await sync_files.push_profile_image(self.d, self.conns.client, rc, user_id)
                self.metrics.items_sent.labels(rc.remote_id, "picture").inc()
        self.metrics.sends.labels(rc.remote_id).inc()
        for kind, count in (("post", len(batch.msg.posts)), ("reaction", len(batch.msg.reactions)),
                            ("user", len(batch.msg.users)), ("status", len(batch.msg.statuses))):
            if count:
                self.metrics.items_sent.labels(rc.remote_id, kind).inc(count)
        self._answer_refusals(rc, batch, response)
        if response.post_errors or response.reaction_errors or response.user_errors or response.status_errors \
                or response.acknowledgement_errors:
            log.info("sync to %s: peer refused %d posts, %d reactions, %d users, %d statuses, %d acknowledgements",
                     rc.remote_id, len(response.post_errors), len(response.reaction_errors),
                     len(response.user_errors), len(response.status_errors), len(response.acknowledgement_errors))
        return response

    async def _offline_notice(self, rc: RemoteCluster, batch: Batch) -> None:
        """§6.8: authors of fresh posts learn that the remote is offline (once per post and remote)."""
        if self.conns.is_online(rc):
            return
        now = self.d.now()
        for p in batch.posts:
            key = (p.id, rc.remote_id)
            if p.remote_id or p.delete_at or now - p.create_at > self.timings.offline_notice_ms or \
                    key in self._notified:
                continue
            if len(self._notified) >= MAX_NOTIFIED:
                self._notified.clear()
            self._notified.add(key)
            notice = Post(id=new_id(), create_at=p.create_at + 1, update_at=p.create_at + 1, edit_at=0, delete_at=0,
                          is_pinned=False, user_id=p.user_id, channel_id=p.channel_id, root_id=p.root_id,
                          original_id="", message=OFFLINE_NOTICE.format(remote=rc.display_name),
                          type="system_ephemeral", props={}, hashtags="", file_ids=[], pending_post_id="",
                          has_reactions=False, reply_count=0, last_reply_at=0, participants=[], remote_id=None)
            await self.d.bus.publish([Event("ephemeral_message", {"post": dumps(post_json(notice))},
                                            user_id=p.user_id)])
