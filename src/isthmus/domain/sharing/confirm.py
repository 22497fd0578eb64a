"""Whether an invited remote has the channel: the invite's answer, and a sync that implies one.

The home's remote row is pending (``is_invite_confirmed = false``) from the invite until the peer answers it;
the sender sends the channel's changes only once it is confirmed.
"""

from __future__ import annotations

from typing import Any

from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.sharing.shares import emit_remote_updated
from isthmus.store.repo import shared as repo


async def do_confirm_invite(d: Domain, channel_id: str, remote_id: str) -> bool:
    """The peer accepted the channel invite: the sender may start syncing it."""
    async with transaction(d) as tx:
        row = await repo.select_remote(tx.conn, channel_id, remote_id)
        if row is None or row["delete_at"] or row["is_invite_confirmed"]:
            return False
        await confirm_invite_in_tx(tx, row, d.now())
    return True


async def confirm_invite_in_tx(tx: Tx, row: dict[str, Any], now: int) -> None:
    """Mark a pending invite (a live, unconfirmed remote row) accepted, in the caller's transaction."""
    await repo.update_remote(tx.conn, row["id"], {"is_invite_confirmed": True, "update_at": now})
    emit_remote_updated(tx, row["channel_id"], row["remote_id"])
