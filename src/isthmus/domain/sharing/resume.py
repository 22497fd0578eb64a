"""What a remote misses while it does not receive a shared channel, and how it catches up.

* **Replay on re-invite.** While a remote is uninvited (or the channel unshared) its cursor stands still
  and changes either go to the outbox for the other remotes, get pruned by housekeeping once those
  acknowledged, or are not recorded at all (an unshared channel has no outbox). So the cursor cannot
  be resumed; instead, when the remote stops receiving we note ``unsent_since`` (every change before it
  was acknowledged), and the re-invite records a durable ``replay`` marker in the invite's transaction,
  which the sender expands into a ``post`` row (and a ``reaction`` row for each reaction changed since) for
  every post changed since, a bounded chunk per transaction. Receivers upsert by id, so what the remote
  already has is a no-op there: no duplicates.
* **Durable unshare notice.** ``unshare_notice`` on the soft-deleted remote row says that the peer must
  still be told (``UNSHARE_NOTICE_DELETED``: the home deleted the channel). The connection's sender
  delivers it when the peer is reachable and clears it, so a peer that was down still learns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.domain.changes import REPLAY_DONE_KIND, REPLAY_KIND, ack_entity, lock_share, reaction_entity, record_change
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Channel
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import outbox as outbox_repo
from isthmus.store.repo import resume as replay_repo
from isthmus.store.repo import shared as repo

UNSHARE_NOTICE_NONE, UNSHARE_NOTICE_UNSHARED, UNSHARE_NOTICE_DELETED = 0, 1, 2
REPLAY_CHUNK = 200  # posts a replay queues per transaction


async def unsent_since(conn: AsyncConnection, row: dict[str, Any], now: int) -> int:
    """For a remote row about to stop receiving: the time of its oldest unacknowledged change, else now."""
    channel_id, remote_id, cursor = row["channel_id"], row["remote_id"], int(row["outbox_cursor"])
    oldest = await repo.oldest_unacknowledged(conn, channel_id, remote_id, cursor)
    # A replay marker still owes every post changed since its own ``since``, which its row's time (the re-invite)
    # does not show: uninvited again before the marker went out, the next re-invite would start after that gap.
    for text in await repo.unacknowledged_entities(conn, channel_id, remote_id, cursor, REPLAY_KIND):
        marker = ReplayMarker.decode(text)
        if marker is not None:
            oldest = marker.since if oldest is None else min(oldest, marker.since)
    return min(oldest, now) if oldest is not None else now


async def stop_receiving(conn: AsyncConnection, row: dict[str, Any], now: int, notice: int) -> None:
    """Soft-delete one live remote row, remembering where it stopped and whether it is still to be told."""
    await repo.update_remote(conn, row["id"], {
        "delete_at": now, "update_at": now, "unsent_since": await unsent_since(conn, row, now),
        "unshare_notice": notice})


async def replay_missed(tx: Tx, channel: Channel, row: dict[str, Any], now: int) -> int:
    """Re-invite of a remote that stopped receiving: queue every post changed since (see module doc), and
    those the outbox still names past its old cursor (a post relayed from another server keeps that server's
    ``update_at``, which may be older). Rows from before this module have no ``unsent_since``: replay since
    the first invite. Known gap: a post relayed late while the remote was out, whose outbox row was
    pruned meanwhile, is found only if its origin's clock says it changed after ``unsent_since``.

    The invite's transaction writes ONE durable ``replay`` marker, not a row per post (a channel with a long
    history made that one write transaction, and the event loop, as long as the history): the sender expands
    it REPLAY_CHUNK posts at a time (:func:`expand_replay`). Returns 1 (the marker)."""
    since = int(row.get("unsent_since") or 0) or int(row["create_at"])
    shared = dataclasses.replace(channel, shared=True)
    marker = ReplayMarker(since=since, after_seq=int(row["outbox_cursor"]), create_at=-1, post_id="", until=now)
    # For the re-invited remote only: the others received these changes as they happened (sent to all, a
    # post came back to the server that wrote it).
    await record_change(tx, shared, REPLAY_KIND, marker.encode(), None, now=now, target=row["remote_id"])
    return 1


async def expand_replay(d: Domain, channel_id: str, marker_seq: int) -> bool:
    """Turn the next REPLAY_CHUNK posts of the replay marker at ``marker_seq`` into ``post`` (and ``reaction``)
    outbox rows and move the marker after them, in one transaction; True if the marker is still there after.

    The senders of the channel stop before a marker (they never move a cursor past it) and call this, so the
    rows it adds (seqs after the marker) are sent next and a crash resumes from the marker's last position.
    Under the channel's share lock, so two senders expanding at once do it once."""
    async with transaction(d) as tx:
        row = await access_repo.select_channel(tx.conn, channel_id)
        channel = dataclasses.replace(Channel(**row), shared=True) if row is not None else None
        share = await lock_share(tx, channel) if channel is not None else None
        found = await outbox_repo.select_row(tx.conn, marker_seq)
        if found is None or found["kind"] != REPLAY_KIND:
            return False  # expanded (or moved) by another sender meanwhile
        await outbox_repo.set_row_kind(tx.conn, marker_seq, REPLAY_DONE_KIND)  # not deleted: see REPLAY_DONE_KIND
        marker = ReplayMarker.decode(str(found["entity_id"]))
        if share is None or channel is None or marker is None:
            return False  # unshared since, or not ours to read: nothing to replay to
        after = (marker.create_at, marker.post_id) if marker.post_id else None
        chunk = await replay_repo.select_posts_changed_since(tx.conn, channel_id, marker.since, marker.after_seq,
                                                      after=after, limit=REPLAY_CHUNK, until=marker.until)
        post_ids = [post_id for post_id, _ in chunk]
        now, target = d.now(), found.get("target_remote_id")
        # A copy replaying to its home (a restored share): what came from the home, the home has; sent back it
        # would be an echo. (The home replaying to a remote keeps that remote's posts: their deletion here may
        # be what the remote missed.)
        from_home = target if target and not share["home"] and share["remote_id"] == target else None
        origins = await replay_repo.select_post_origins(tx.conn, post_ids) if from_home else {}
        for post_id in post_ids:
            if from_home is None or origins.get(post_id) != from_home:
                await record_change(tx, channel, "post", post_id, None, now=now, target=target)
        # Each reaction changed since, by name: one the remote already has must not be sent again (a
        # Mattermost receiver deletes a reaction it is sent twice, §1.9).
        changed = await replay_repo.select_reactions_changed_since(tx.conn, post_ids, marker.since, not_from=from_home)
        queued = await replay_repo.select_reactions_queued(tx.conn, channel_id, marker.after_seq, marker.until,
                                                           post_ids, not_from=from_home)
        for post_id, user_id, emoji in dict.fromkeys(changed + queued):
            await record_change(tx, channel, "reaction", reaction_entity(post_id, user_id, emoji), None, now=now,
                                target=target)
        # Acknowledgements too (the model-based test found one given while the remote was out, never sent): those
        # of these posts, and with the first chunk those given in the gap on older posts (an acknowledgement does
        # not change its post, so the posts above do not include them).
        given = await replay_repo.select_acks_of_posts(tx.conn, post_ids, not_from=from_home)
        if not marker.post_id:
            given += [a for a in await replay_repo.select_acks_given_between(
                tx.conn, channel_id, marker.since, marker.until or now, not_from=from_home) if a not in given]
        for post_id, user_id in given:
            await record_change(tx, channel, "ack", ack_entity(post_id, user_id), None, now=now, target=target)
        if len(chunk) < REPLAY_CHUNK:
            return False
        last_id, last_create_at = chunk[-1]
        moved = dataclasses.replace(marker, create_at=last_create_at, post_id=last_id)
        await record_change(tx, channel, REPLAY_KIND, moved.encode(), None, now=now, target=target)
        return True


@dataclasses.dataclass(frozen=True)
class ReplayMarker:
    """Where a replay stands, in an outbox row's ``entity_id`` (64 characters): base-36 numbers, the post id."""

    since: int
    after_seq: int
    create_at: int  # the (create_at, post_id) of the last post queued so far; -1 and "" before the first
    post_id: str
    # The re-invite's time: what changed after it travels in the outbox rows written since, with their origin
    # (a post the re-invited server wrote after it came back to it in the replay: an echo). 0: no bound.
    until: int = 0

    def encode(self) -> str:
        parts = [_b36(self.since), _b36(self.after_seq), _b36(self.create_at + 1), self.post_id]
        return ".".join(parts + ([_b36(self.until)] if self.until else []))

    @staticmethod
    def decode(text: str) -> ReplayMarker | None:
        parts = text.split(".")
        try:
            since, after_seq, create_at = (int(p, 36) for p in parts[:3])
        except ValueError:
            return None
        if len(parts) == 4:  # a marker written before ``until``
            return ReplayMarker(since, after_seq, create_at - 1, parts[3])
        try:
            until = int(parts[4], 36) if len(parts) == 5 else -1
        except ValueError:
            return None
        return ReplayMarker(since, after_seq, create_at - 1, parts[3], until) if until >= 0 else None


def _b36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out


async def pending_notices(conn: AsyncConnection, remote_id: str) -> list[dict[str, Any]]:
    return await repo.select_unshare_notices(conn, remote_id)


async def do_clear_notice(d: Domain, scr_id: str, notice: int) -> None:
    """The peer answered the notice: done (unless a re-invite or a newer notice replaced it meanwhile)."""
    async with transaction(d) as tx:
        await repo.clear_unshare_notice(tx.conn, scr_id, notice)
