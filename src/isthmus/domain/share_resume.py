"""What a remote misses while it does not receive a shared channel, and how it catches up.

* **Replay on re-invite.** While a remote is uninvited (or the channel unshared) its cursor stands still
  and changes either go to the outbox for the other remotes, get pruned by housekeeping once those
  acknowledged, or are not recorded at all (an unshared channel has no outbox). So the cursor cannot
  be resumed; instead, when the remote stops receiving we note ``unsent_since`` (every change before it
  was acknowledged), and the re-invite records a ``post`` row (and a ``reaction`` row for each reaction
  changed since) for every post changed since, in the invite's transaction. Receivers upsert by id, so what
  the remote already has is a no-op there: no duplicates.
* **Durable unshare notice.** ``unshare_notice`` on the soft-deleted remote row says that the peer must
  still be told (``UNSHARE_NOTICE_DELETED``: the home deleted the channel). The connection's sender
  delivers it when the peer is reachable and clears it, so a peer that was down still learns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.domain.changes import reaction_entity, record_change
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Channel
from isthmus.store.repo import shared as repo

UNSHARE_NOTICE_NONE, UNSHARE_NOTICE_UNSHARED, UNSHARE_NOTICE_DELETED = 0, 1, 2


async def unsent_since(conn: AsyncConnection, row: dict[str, Any], now: int) -> int:
    """For a remote row about to stop receiving: the time of its oldest unacknowledged change, else now."""
    oldest = await repo.oldest_unacknowledged(conn, row["channel_id"], row["remote_id"], int(row["outbox_cursor"]))
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
    pruned meanwhile, is found only if its origin's clock says it changed after ``unsent_since``."""
    since = int(row.get("unsent_since") or 0) or int(row["create_at"])
    shared = dataclasses.replace(channel, shared=True)
    post_ids = await repo.select_posts_changed_since(tx.conn, channel.id, since, int(row["outbox_cursor"]))
    for post_id in post_ids:
        await record_change(tx, shared, "post", post_id, None, now=now)
    # Each reaction changed since, by name: one the remote already has must not be sent again (a Mattermost
    # receiver deletes a reaction it is sent twice, §1.9).
    for post_id, user_id, emoji in await repo.select_reactions_changed_since(tx.conn, post_ids, since):
        await record_change(tx, shared, "reaction", reaction_entity(post_id, user_id, emoji), None, now=now)
    return len(post_ids)


async def pending_notices(conn: AsyncConnection, remote_id: str) -> list[dict[str, Any]]:
    return await repo.select_unshare_notices(conn, remote_id)


async def do_clear_notice(d: Domain, scr_id: str, notice: int) -> None:
    """The peer answered the notice: done (unless a re-invite or a newer notice replaced it meanwhile)."""
    async with transaction(d) as tx:
        await repo.clear_unshare_notice(tx.conn, scr_id, notice)
