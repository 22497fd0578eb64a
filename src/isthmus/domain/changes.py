"""The sync outbox: what changed in a shared channel, recorded in the SAME transaction as the change.

Every domain write to a shared channel (post created/edited/pinned/deleted, reaction added/removed,
member joined/left) calls :func:`record_change` just before its transaction ends. The row is the
durable truth the federation sender works from: if the transaction commits, the change will be sent
to every connected server sharing the channel (except ``origin``, where it came from); if it rolls
back, nothing is sent. A crash between commit and send loses nothing, because the sender's cursor
only moves after the peer acknowledged.

PostgreSQL allocates sequence numbers in one order and commits in another, so a reader could move
its cursor past a row that commits later. We take a row lock on the ``shared_channels`` row first:
appends to one channel are then serialised, and within a channel ``seq`` order is commit order
(cursors are per channel, so order across channels does not matter). SQLite has one writer anyway.
Callers make this the last statement of their transaction, so the lock is held only until COMMIT.

The same lookup enforces read-only shares on the receiving side: a local user (admins too, since the
home would refuse their content) cannot post or react in a read-only channel homed on another server.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from isthmus.core.clock import now_ms
from isthmus.core.errors import forbidden
from isthmus.core.events import Event
from isthmus.domain.context import Domain, Tx
from isthmus.domain.models import Actor, Channel
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import clocks as clocks_repo
from isthmus.store.repo import shared as repo

EVENT_OUTBOX_APPENDED = "sync_outbox_appended"
# "replay": not a change but a durable "queue the posts changed since ..." marker (domain/sharing/resume.py);
# senders stop before it and expand it, nothing is sent for it.
REPLAY_KIND = "replay"
# A replay marker once expanded: kept, not deleted, because on SQLite (a rowid key, no AUTOINCREMENT) deleting the
# newest row would hand its seq out again, and a remote invited meanwhile, whose cursor is that seq, would skip the
# new row for good. Senders send nothing for it and move past it; pruning removes it like any row.
REPLAY_DONE_KIND = "replay_done"
KINDS = frozenset({"post", "pin", "reaction", "ack", "user", "member", "file", "channel", "status", REPLAY_KIND,
                   REPLAY_DONE_KIND})
# Local writes a read-only share refuses on the non-home side (remote members may not post or react).
_READONLY_KINDS = frozenset({"post", "reaction"})


def reaction_entity(post_id: str, user_id: str, emoji_name: str) -> str:
    """The outbox entity of ONE reaction: only reactions that changed are sent, because a Mattermost peer
    deletes a reaction it is sent again (§1.9). A bare post id (older rows, re-invites) still means "all
    reactions of the post"."""
    return f"{post_id}:{user_id}:{emoji_name}"


def ack_entity(post_id: str, user_id: str) -> str:
    return f"{post_id}:{user_id}"


async def record_change(tx: Tx, channel: Channel, kind: str, entity_id: str, origin: str | None, *,
                        actor: Actor | None = None, now: int = 0, target: str | None = None) -> int:
    """Append one outbox row if ``channel`` is shared; returns its seq (0 when nothing was written).
    ``target``: for that remote only (a replay or re-send one remote needs; the others have it)."""
    if not channel.shared:
        if not await _shared_meanwhile(tx, channel.id):
            return 0
        channel = dataclasses.replace(channel, shared=True)
    assert kind in KINDS, kind
    share = await lock_share(tx, channel)
    if share is None:
        return 0
    # Everyone, admins included: the home refuses every remote post in a read-only channel, so a post
    # accepted here would exist on this server only.
    if share["readonly"] and not share["home"] and origin is None and kind in _READONLY_KINDS \
            and actor is not None:
        raise forbidden("create_post", "This channel is read-only: it is shared from another workspace.")
    seq = await repo.insert_change(tx.conn, {
        "channel_id": channel.id, "kind": kind, "entity_id": entity_id, "origin_remote_id": origin,
        "create_at": now or now_ms(), "target_remote_id": target})
    # Wakes the federation sender after commit (internal event: no websocket client sees it).
    tx.emit(Event(EVENT_OUTBOX_APPENDED, {"channel_id": channel.id, "seq": seq, "kind": kind}, origin=origin))
    return seq


async def _shared_meanwhile(tx: Tx, channel_id: str) -> bool:
    """PostgreSQL: the channel was shared (again) after this transaction read it unshared. The share's own
    transaction replays what was written while unshared up to its commit time (``sharing.resume``), and a write
    whose transaction read the flag before that commit and commits after it would fall between the two: no
    outbox row, and too late for the replay. Reading the flag under a share lock puts every write either before
    the share (the replay finds it) or after it (it records its row). SQLite has one writer at a time."""
    if tx.conn.dialect.name != "postgresql":
        return False
    return await repo.select_channel_shared_locked(tx.conn, channel_id)


async def record_changes(tx: Tx, channel: Channel, kind: str, entity_ids: list[str], origin: str, *,
                         now: int = 0) -> int:
    """:func:`record_change` for many entities of one channel, with ONE insert (a synced message's new posts).

    Only for changes that came from ``origin`` (a connection), so there is no read-only check to make. One
    wake-up event for all the rows: it only pokes the senders. Returns the highest seq (0: nothing written).
    """
    if not channel.shared or not entity_ids:
        return 0
    assert kind in KINDS, kind
    if await lock_share(tx, channel) is None:
        return 0
    at = now or now_ms()
    seqs = await repo.insert_changes(tx.conn, [
        {"channel_id": channel.id, "kind": kind, "entity_id": entity_id, "origin_remote_id": origin, "create_at": at,
         "target_remote_id": None} for entity_id in entity_ids])
    seq = max(seqs)
    tx.emit(Event(EVENT_OUTBOX_APPENDED, {"channel_id": channel.id, "seq": seq, "kind": kind}, origin=origin))
    return seq


async def record_member_change(tx: Tx, channel: Channel, user_id: str, origin: str | None, *, now: int,
                               change_at: int = 0) -> int:
    """:func:`record_change` for a membership change, with its clock: ``change_at`` (default ``now``) is the time
    of the join/leave itself, sent as ``change_time`` (§1.9) and compared by receivers (last writer wins)."""
    seq = await record_change(tx, channel, "member", user_id, origin, now=now)
    if seq:
        await clocks_repo.upsert_member_clock(tx.conn, channel.id, user_id, change_at or now)
    return seq


async def lock_share(tx: Tx, channel: Channel) -> dict[str, Any] | None:
    """The channel's ``shared_channels`` row, locked before the first seq of this transaction is taken.

    Also called FIRST by writers that would otherwise lock the ``channels`` row (or a post) before it:
    the sync receiver takes this lock at the start of a message, so every writer takes it before any
    other row of the channel and two writers of one channel can never wait on each other in a cycle."""
    key = f"shared_channel_locked:{channel.id}"
    share: dict[str, Any] | None = tx.cache.get(key)
    if share is None:  # lock once per transaction; later appends of the same transaction reuse it
        share = await repo.select_shared_channel(tx.conn, channel.id, for_update=True)
        if share is not None:
            tx.cache[key] = share
    return share


async def record_user_changed(tx: Tx, user_id: str, origin: str | None) -> int:
    """A user's profile changed: queue it for every shared channel it was ever sent to (a ``user`` row each).

    Called in the profile change's own transaction (patch, (de)activation, picture, a synced profile), so a
    crash after the commit cannot lose it: a deactivated user must not stay active on every peer. Channels in
    sorted order: one lock order across transactions (PostgreSQL row locks).
    """
    rows = await repo.select_user_channels(tx.conn, user_id)
    count = 0
    for channel_id in sorted({channel_id for channel_id, _ in rows}):
        row = await access_repo.select_channel(tx.conn, channel_id)
        if row is not None and row["shared"]:
            count += bool(await record_change(tx, Channel(**row), "user", user_id, origin))
    return count


def status_sync_enabled(d: Domain) -> bool:
    """Statuses travel only while shared channels run and ``DisableSharedChannelsStatusSync`` is off (§11)."""
    cw = d.config.ConnectedWorkspacesSettings
    return bool(cw.EnableSharedChannels and cw.EnableRemoteClusterService and not cw.DisableSharedChannelsStatusSync)


async def record_status_changed(d: Domain, tx: Tx, user_id: str, origin: str | None) -> int:
    """A user's status changed: ``status`` rows in as few shared channels as reach every connected workspace
    that was sent this user and shares a channel with it (Mattermost sends one message per channel; a status is
    the same in all of them). Returns the number of rows.

    Called in the status's own transaction, so a status changed while a peer is down is still sent when it is
    back (the row waits behind that peer's cursor). Only the owner's word travels: ``origin`` None means a
    local user (a local change of a synthetic user goes nowhere), otherwise the connection the status came
    from, which must own the user and is never a target (no echo); other remotes get it relayed.
    """
    if not status_sync_enabled(d):
        return 0
    remotes_by_channel: dict[str, set[str]] = {}
    for channel_id, remote_id in await repo.select_status_targets(tx.conn, user_id, origin):
        remotes_by_channel.setdefault(channel_id, set()).add(remote_id)
    uncovered = set().union(*remotes_by_channel.values()) if remotes_by_channel else set()
    chosen: list[str] = []
    while uncovered:
        # Greedy cover; prefer a channel this transaction already locked (fewer row locks, no new lock order).
        best = max(sorted(remotes_by_channel), key=lambda c: (len(remotes_by_channel[c] & uncovered),
                                                              f"shared_channel_locked:{c}" in tx.cache))
        chosen.append(best)
        uncovered -= remotes_by_channel[best]
    count = 0
    for channel_id in sorted(chosen):  # one lock order across transactions (PostgreSQL row locks)
        row = await access_repo.select_channel(tx.conn, channel_id)
        if row is not None and row["shared"]:
            count += bool(await record_change(tx, Channel(**row), "status", user_id, origin, now=d.now()))
    return count
