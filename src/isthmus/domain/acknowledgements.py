"""Post acknowledgements: a user acknowledges a message (REST ``/users/{user_id}/posts/{post_id}/ack``), or a
peer tells us one of its users did (``acknowledgements`` of a sync message).

Ownership as for reactions (#27326): only the acknowledging user's own server adds or removes it; the home
relays it to its other remotes (outbox rows ``ack`` named ``post:user``, origin = the sender). A removal keeps
the row with ``acknowledged_at`` 0 so it can be synced. Websocket: ``post_acknowledgement_added`` /
``post_acknowledgement_removed`` with ``data.acknowledgement`` (JSON text), as Mattermost sends them.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel
from isthmus.domain.changes import ack_entity, record_change
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, Channel, PostAcknowledgement
from isthmus.domain.posts import bad_post_id, post_not_found
from isthmus.domain.shapes import ack_json, dumps
from isthmus.domain.sharing.ownership import author_from
from isthmus.store.repo import acknowledgements as repo
from isthmus.store.repo import posts as posts_repo

UNDO_WINDOW_MS = 5 * 60 * 1000  # Mattermost lets a user take an acknowledgement back for 5 minutes
ADDED, REMOVED, UNCHANGED = "added", "removed", "unchanged"


def _emit(tx: Tx, kind: str, ack: PostAcknowledgement, channel: Channel, origin: str | None) -> None:
    tx.emit(Event(kind, {"acknowledgement": dumps(ack_json(ack))}, channel_id=channel.id, team_id=channel.team_id,
                  origin=origin))


async def _post_and_channel(d: Domain, tx: Tx, actor: Actor, user_id: str, post_id: str) -> tuple[dict[str, Any],
                                                                                                   Channel]:
    if not is_valid_id(user_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing user_id in request URL.", 400)
    if not is_valid_id(post_id):
        raise bad_post_id()
    if user_id != actor.user_id:
        raise AppError("api.context.permissions.app_error",
                       "You can only acknowledge a message for yourself.", 403)
    row = await posts_repo.select_post(tx.conn, post_id, for_update=True)
    if row is None:
        raise post_not_found(post_id)
    channel = await access_channel(d, tx.conn, actor, row["channel_id"])
    if row["delete_at"]:
        raise post_not_found(post_id)
    if channel.delete_at:
        raise invalid("api.acknowledgement.save.archived_channel.app_error",
                      "You cannot acknowledge a message in an archived channel.")
    return row, channel


async def do_acknowledge(d: Domain, actor: Actor, user_id: str, post_id: str) -> PostAcknowledgement:
    async with transaction(d) as tx:
        _, channel = await _post_and_channel(d, tx, actor, user_id, post_id)
        existing = await repo.select_ack(tx.conn, post_id, user_id)
        if existing is not None and existing["acknowledged_at"]:
            return PostAcknowledgement(**existing)  # already acknowledged: nothing changes, nothing to announce
        ack = PostAcknowledgement(post_id=post_id, user_id=user_id, acknowledged_at=d.now(), channel_id=channel.id,
                                  remote_id=None)
        values = {"acknowledged_at": ack.acknowledged_at, "channel_id": channel.id, "remote_id": None}
        if existing is None:
            await repo.insert_ack(tx.conn, {"post_id": post_id, "user_id": user_id, **values})
        else:
            await repo.update_ack(tx.conn, post_id, user_id, values)
        _emit(tx, "post_acknowledgement_added", ack, channel, None)
        await record_change(tx, channel, "ack", ack_entity(post_id, user_id), None, actor=actor, now=d.now())
    return ack


async def do_unacknowledge(d: Domain, actor: Actor, user_id: str, post_id: str) -> None:
    """Take an acknowledgement back (within 5 minutes, as in Mattermost). Not acknowledged: a no-op."""
    async with transaction(d) as tx:
        _, channel = await _post_and_channel(d, tx, actor, user_id, post_id)
        existing = await repo.select_ack(tx.conn, post_id, user_id)
        if existing is None or not existing["acknowledged_at"]:
            return
        if existing["acknowledged_at"] < d.now() - UNDO_WINDOW_MS:
            raise AppError("api.acknowledgement.delete.deadline.app_error",
                           "An acknowledgement can only be taken back within 5 minutes of giving it.", 403)
        await repo.update_ack(tx.conn, post_id, user_id, {"acknowledged_at": 0})
        _emit(tx, "post_acknowledgement_removed", PostAcknowledgement(**{**existing, "acknowledged_at": 0}),
              channel, None)
        await record_change(tx, channel, "ack", ack_entity(post_id, user_id), None, actor=actor, now=d.now())


async def upsert_remote_ack(d: Domain, tx: Tx, origin: str, channel: Channel, a: dict[str, Any]) -> str:
    """One acknowledgement from a peer (``acknowledged_at`` 0: removed). The user must be one the sender owns (or,
    from the channel's home, one it vouches for: ``ownership.author_from``) and
    the post in the synced channel; refusals raise before anything is written. Replays change nothing."""
    post_id, at = a.get("post_id"), a.get("acknowledged_at")
    if not is_valid_id(post_id) or not isinstance(at, int) or isinstance(at, bool) or at < 0:
        raise AppError("api.remote_cluster.invalid_acknowledgement", "Invalid acknowledgement.", 400)
    assert isinstance(post_id, str)
    user = await author_from(tx, a.get("user_id"), origin, channel.id)  # the home relays others' (a mesh)
    post = await posts_repo.select_post(tx.conn, post_id, for_update=True)
    if post is None or post["channel_id"] != channel.id or post["delete_at"]:
        raise AppError("api.remote_cluster.acknowledgement_post", "Acknowledged post is not in the synced channel.",
                       400)
    existing = await repo.select_ack(tx.conn, post_id, user.id)
    was_live = existing is not None and bool(existing["acknowledged_at"])
    if (existing is None and not at) or (existing is not None and existing["acknowledged_at"] == at):
        return UNCHANGED
    values = {"acknowledged_at": at, "channel_id": channel.id, "remote_id": origin}
    if existing is None:
        await repo.insert_ack(tx.conn, {"post_id": post_id, "user_id": user.id, **values})
    else:
        await repo.update_ack(tx.conn, post_id, user.id, values)
    if was_live == bool(at):
        return UNCHANGED  # only the time moved: nothing to show or relay
    ack = PostAcknowledgement(post_id=post_id, user_id=user.id, channel_id=channel.id, remote_id=origin,
                              acknowledged_at=at)
    _emit(tx, "post_acknowledgement_added" if at else "post_acknowledgement_removed", ack, channel, origin)
    await record_change(tx, channel, "ack", ack_entity(post_id, user.id), origin, now=d.now())
    return ADDED if at else REMOVED
