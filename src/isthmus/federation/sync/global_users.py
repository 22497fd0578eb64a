"""Global user sync, sending side (``mattermost-protocol.md`` §8.3): every local person reaches a connected
workspace without having to take part in a shared channel first, so they can be found there for a DM.

Durable truth is ``remote_clusters.last_global_user_sync_at``: the ``update_at`` of the last user the peer
acknowledged. A batch is the next ``GlobalUserSyncBatchSize`` local users changed after it (oldest change first,
ties by id); the cursor moves only after the peer answered OK, so a crash or a failed send simply sends the
batch again (receivers upsert by id). A run of users sharing one ``update_at`` across a batch boundary (a bulk
import) is sent whole before the cursor passes that instant, else a single-valued cursor would skip some.

The step runs inside the connection's sender pass (``service.sync_once``), i.e. under its single-flight lock:
never two requests to one peer at a time. What makes a step due is in memory (``due``) and cheap to rebuild:
the connection coming online, the server starting (resume after a crash), a local profile change, an admin's
request (REST / ``isthmus connection sync-users``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import new_id
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import User
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.synced.users import global_sync_enabled
from isthmus.federation.connections import Connections
from isthmus.federation.sync import files as sync_files
from isthmus.federation.sync.messages import TOPIC_GLOBAL_USERS, SyncMsg, SyncResponse
from isthmus.federation.sync.metrics import SyncMetrics
from isthmus.federation.sync.send import sanitized_user
from isthmus.federation.wire import Msg
from isthmus.store.repo import remotes as remotes_repo
from isthmus.store.repo import user_sync as repo

PIPELINE_BATCHES = 16  # messages per sender pass, as for a channel's backlog
DEFAULT_BATCH = 25  # Mattermost's fallback when GlobalUserSyncBatchSize is outside 1..200
OFF_TEXT = ("Global user sync is turned off on this server. A system admin can turn it on with the feature flag "
            "EnableSyncAllUsersForRemoteCluster (or ConnectedWorkspacesSettings.SyncUsersOnConnectionOpen).")
__all__ = ["OFF_TEXT", "GlobalUserSync", "global_sync_enabled", "next_batch"]


def batch_size(d: Domain) -> int:
    size = int(d.config.ConnectedWorkspacesSettings.GlobalUserSyncBatchSize)
    return size if 1 <= size <= 200 else DEFAULT_BATCH


@dataclass
class UserBatch:
    users: list[User]
    cursor: int  # where the connection's cursor goes once every user of the batch was acknowledged
    more: bool


async def next_batch(d: Domain, cursor: int, size: int) -> UserBatch:
    async with d.db.read() as conn:
        rows = await repo.select_due_users(conn, cursor, size + 1)
        more = len(rows) > size
        if more and rows[size]["update_at"] == rows[size - 1]["update_at"]:
            at = rows[size - 1]["update_at"]
            before = [r for r in rows[:size] if r["update_at"] < at]
            # The users before the tie go first; a tie that fills the batch goes whole (in several messages).
            rows = before if before else await repo.select_due_users_at(conn, cursor, at)
        else:
            rows = rows[:size]
    users = [User(**r) for r in rows]
    return UserBatch(users, max((u.update_at for u in users), default=cursor), more)


class GlobalUserSync:
    def __init__(self, d: Domain, conns: Connections, metrics: SyncMetrics) -> None:
        self.d = d
        self.conns = conns
        self.metrics = metrics
        # Connections to look at on their next pass -> times marked. A step clears the mark only if nobody marked it
        # again meanwhile: a user created while a batch was in flight (after its read) must not be left behind.
        self.due: dict[str, int] = {}

    def mark(self, remote_id: str) -> None:
        self.due[remote_id] = self.due.get(remote_id, 0) + 1

    async def step(self, rc: RemoteCluster) -> bool:
        """Send the next batches to ``rc`` (under its single-flight lock); True if more is due right now.

        Up to PIPELINE_BATCHES messages per pass (invites and channels get their turn in between), and while the
        peer applies batch N the next one is already read (from N's end, as if acknowledged): one request in
        flight still, but both servers work at once. A failure drops the read-ahead; the cursor is where the
        last acknowledged batch left it."""
        if rc.remote_id not in self.due or not global_sync_enabled(self.d):
            return False
        marked = self.due[rc.remote_id]
        size = batch_size(self.d)
        since = rc.last_global_user_sync_at
        batch = await next_batch(self.d, since, size)
        for _ in range(PIPELINE_BATCHES):
            if not batch.users:
                break
            ahead = asyncio.create_task(next_batch(self.d, batch.cursor, size)) if batch.more else None
            try:
                for start in range(0, len(batch.users), size):
                    await self._send(rc, batch.users[start:start + size], since)
                async with transaction(self.d) as tx:  # only after every message of the batch was acknowledged
                    await remotes_repo.update_remote(tx.conn, rc.remote_id,
                                                     {"last_global_user_sync_at": batch.cursor})
            except BaseException:
                if ahead is not None:
                    ahead.cancel()
                raise
            since = batch.cursor
            if ahead is None:
                break
            batch = await ahead
        else:
            return True  # the pass's share is used up: the queue comes back at once
        if batch.more:
            return True
        if self.due.get(rc.remote_id) == marked:
            del self.due[rc.remote_id]
            return False
        return True  # marked again while this step ran: look once more

    async def _send(self, rc: RemoteCluster, users: list[User], since: int) -> None:
        """One message of users, then the pictures of those the peer took whose uploaded picture changed after
        ``since`` (the cursor the batch started from: every picture on the first run). A picture upload bumps
        ``update_at``, so a changed picture always comes with its user; a failed push fails the batch, which is
        sent again (both are upserts over there)."""
        sm = SyncMsg(id=new_id(), channel_id="", users={u.id: sanitized_user(u) for u in users})
        msg = Msg.new(TOPIC_GLOBAL_USERS, sm.to_obj(), self.d.now())
        reply = await self.conns.client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)
        if not reply.ok:
            raise AppError("api.remote_cluster.global_user_sync.app_error",
                           f"{rc.display_name or rc.name} refused the user sync: {reply.err[:300]}", 502)
        response = SyncResponse.from_obj(reply.payload)
        self.metrics.sends.labels(rc.remote_id).inc()
        self.metrics.items_sent.labels(rc.remote_id, "user").inc(len(users) - len(response.user_errors))
        taken = set(response.users_syncd)
        for user in users:
            if user.last_picture_update > since and user.id in taken:
                await sync_files.push_profile_image(self.d, self.conns.client, rc, user.id)
                self.metrics.items_sent.labels(rc.remote_id, "picture").inc()

    async def progress(self, rc: RemoteCluster) -> dict[str, Any]:
        """What the REST call and the CLI show: users still to send and the cursor."""
        async with self.d.db.read() as conn:
            pending = await repo.count_due_users(conn, rc.last_global_user_sync_at)
        return {"remote_id": rc.remote_id, "enabled": global_sync_enabled(self.d), "pending": pending,
                "running": rc.remote_id in self.due, "last_global_user_sync_at": rc.last_global_user_sync_at,
                "batch_size": batch_size(self.d)}
