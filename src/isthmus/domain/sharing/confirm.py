"""Whether an invited remote has the channel: the invite's answer, a sync that implies one, and the peer's
"channel is no longer shared".

The home's remote row is pending (``is_invite_confirmed = false``) from the invite until the peer answers it;
the sender sends the channel's changes only once it is confirmed. A sync from the peer for a pending row also
confirms it (the peer's OK may have been lost), but less surely: that sync may come from the peer's copy of
an earlier invite, which our unshare notice, in flight while the admin invited again, is tearing down. So such
a row remembers it (``confirmed_by_sync``) and, if the peer then says it does not have the channel, goes back
to pending and the invite is sent again; dropping it there lost the re-invite and every post it owed (the
model-based test's run xp, on PostgreSQL).
"""

from __future__ import annotations

from typing import Any, Literal

from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.sharing.resume import UNSHARE_NOTICE_NONE
from isthmus.domain.sharing.shares import emit_remote_updated, uninvite_in_tx
from isthmus.store.repo import shared as repo


async def do_confirm_invite(d: Domain, channel_id: str, remote_id: str) -> bool:
    """The peer accepted the channel invite: the sender may start syncing it."""
    async with transaction(d) as tx:
        row = await repo.select_remote(tx.conn, channel_id, remote_id)
        if row is None or row["delete_at"]:
            return False
        if row["is_invite_confirmed"]:
            if row["confirmed_by_sync"]:  # its answer to this very invite: sure now
                await repo.update_remote(tx.conn, row["id"], {"confirmed_by_sync": False})
            return False
        await confirm_invite_in_tx(tx, row, d.now())
    return True


async def confirm_invite_in_tx(tx: Tx, row: dict[str, Any], now: int, *, by_sync: bool = False) -> None:
    """Mark a pending invite (a live, unconfirmed remote row) accepted, in the caller's transaction; ``by_sync``:
    because the peer synced the channel, not because it answered the invite."""
    await repo.update_remote(tx.conn, row["id"], {"is_invite_confirmed": True, "confirmed_by_sync": by_sync,
                                                  "update_at": now})
    emit_remote_updated(tx, row["channel_id"], row["remote_id"])


PeerLacksOutcome = Literal["removed", "reinvite", ""]


async def do_peer_lacks_channel(d: Domain, channel_id: str, remote_id: str, *,
                                workspace: str = "") -> PeerLacksOutcome:
    """The peer answered our sync "channel is no longer shared", and it is not our channel's home (so it left
    ours; any row left of a copy of ours is dropped the same way). Returns
    ``"removed"`` (its row soft-deleted, "no longer shared with <workspace>" posted), ``"reinvite"`` (an invite
    only its sync confirmed: pending again, for the sender to send) or ``""`` (nothing to do: no live row, or one
    invited again since that answer was given, whose own invite will share the channel there again). The flag
    ``confirmed_by_sync`` is cleared by the invite's own answer, or by the peer acknowledging one of our syncs
    (its copy is live then)."""
    async with transaction(d) as tx:
        row = await repo.select_remote(tx.conn, channel_id, remote_id)
        if row is None or row["delete_at"] or not row["is_invite_confirmed"]:
            return ""
        if row["confirmed_by_sync"]:
            await repo.update_remote(tx.conn, row["id"], {"is_invite_confirmed": False, "confirmed_by_sync": False,
                                                          "update_at": d.now()})
            emit_remote_updated(tx, channel_id, remote_id)
            return "reinvite"
        await uninvite_in_tx(d, tx, row, notice=UNSHARE_NOTICE_NONE, workspace=workspace)
        return "removed"
