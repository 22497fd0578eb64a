"""Persistent notifications: the people an urgent post names are reminded of it until they answer
(Mattermost's ``persistent_notifications``, a part of message priority).

An urgent root post with ``metadata.priority.persistent_notifications`` reminds the users it @-mentions (in a
direct or group message: the other members) every ``ServiceSettings.PersistentNotificationIntervalMinutes``, at
most ``PersistentNotificationMaxCount`` times, with a websocket ``persistent_notification_triggered`` event sent to
that user only. A user's reminders stop once he acknowledges the post, reacts to it or replies in its thread, or
when the post is deleted, the channel archived or he leaves it. A post naming more than
``PersistentNotificationMaxRecipients`` people, or nobody in a channel, is refused (as Mattermost does).

Choices where Mattermost differs or is silent:

* Each user answers for himself: Mattermost stops everyone's reminders when any one mentioned user answers; here
  the others are still reminded (the post asked each of them).
* Shared channels: every server reminds its own users only. The server that created the post checks the recipient
  limits; a post received from a peer is never refused for them, and the receiver schedules reminders for the local
  users it names, from the time the post was written. Answers travel as acknowledgements, reactions and replies do,
  so a user's answer on his own server is what stops his reminders.
* The job is lazy about answers: a row is checked against the acknowledgements, reactions and replies when it is
  due, so no write path other than creating a post has to know about reminders.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import invalid
from isthmus.core.events import Event
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Channel, Post
from isthmus.domain.post_priority import attach_acknowledgements
from isthmus.domain.shapes import dumps, post_json
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import persistent_notifications as repo
from isthmus.store.repo import posts as posts_repo

EVENT = "persistent_notification_triggered"
BATCH = 500  # rows handled per transaction by the job
_DIRECT = ("D", "G")


def wants_reminders(priority: object) -> bool:
    return isinstance(priority, dict) and priority.get("priority") == "urgent" \
        and priority.get("persistent_notifications") is True


async def schedule(d: Domain, tx: Tx, channel: Channel, post: dict[str, Any], mentions: list[str], *,
                   check_limits: bool) -> None:
    """In the transaction that creates ``post``: a pending row for every local user it should remind.
    ``check_limits`` (a post written here) refuses it past the recipient limits before anything is kept."""
    if post["root_id"] or not wants_reminders(post.get("priority")):
        return
    if channel.type in _DIRECT:
        members = await channels_repo.select_channel_member_ids(tx.conn, channel.id)
        recipients = [u for u in members if u != post["user_id"]]
    else:
        recipients = list(mentions)
    if check_limits:
        limit = d.config.ServiceSettings.PersistentNotificationMaxRecipients
        if channel.type not in _DIRECT and not recipients:
            raise invalid("api.post.post_priority.min_recipients_persistent_notification_post.request_error",
                          "Persistent notifications remind the people a message @-mentions: mention at least one "
                          "member of the channel, or send the message without persistent notifications.")
        if len(recipients) > limit:
            raise invalid("api.post.post_priority.max_recipients_persistent_notification_post.request_error",
                          f"Persistent notifications can remind at most {limit} people, and this message mentions "
                          f"{len(recipients)}: mention fewer people, or send it without persistent notifications.")
    local = await repo.select_local_ids(tx.conn, recipients)
    at = post["create_at"]
    await repo.insert_pending(tx.conn, [{"post_id": post["id"], "user_id": u, "channel_id": channel.id,
                                         "create_at": at, "last_sent_at": at, "sent_count": 0} for u in local])


async def send_due(d: Domain, *, now: int | None = None) -> int:
    """The periodic job: remind every user whose reminder is due, drop the rows that are done. Returns how many
    reminders were sent. ``now`` lets a test play the clock forward."""
    now = d.now() if now is None else now
    settings = d.config.ServiceSettings
    sent_before = now - settings.PersistentNotificationIntervalMinutes * 60_000
    sent = 0
    async with d.db.read() as conn:  # the usual answer is "nothing due": no write transaction for it
        if not await repo.select_due(conn, sent_before, 1):
            return 0
    while True:
        async with transaction(d) as tx:
            due = await repo.select_due(tx.conn, sent_before, BATCH)
            sent += await _handle(tx, due, now, settings.PersistentNotificationMaxCount)
        if len(due) < BATCH:  # every row handled was either sent (now recent) or deleted: no row comes twice
            return sent


async def _handle(tx: Tx, due: list[dict[str, Any]], now: int, max_count: int) -> int:
    if not due:
        return 0
    conn = tx.conn
    post_ids = list(dict.fromkeys(r["post_id"] for r in due))
    posts = {p["id"]: Post(**p) for p in await posts_repo.select_posts_by_ids(conn, post_ids, include_deleted=True)}
    channels: dict[str, Channel] = {}
    for cid in dict.fromkeys(r["channel_id"] for r in due):
        row = await access_repo.select_channel(conn, cid)
        if row is not None:
            channels[cid] = Channel(**row)
    answered = await repo.select_answered(conn, post_ids)
    members = await repo.select_members(conn, list(channels), list({r["user_id"] for r in due}))
    done: list[repo.Key] = []
    remind: list[dict[str, Any]] = []
    for r in due:
        key, post, channel = (r["post_id"], r["user_id"]), posts.get(r["post_id"]), channels.get(r["channel_id"])
        if post is None or post.delete_at or not wants_reminders(post.priority) or channel is None \
                or channel.delete_at or key in answered or (channel.id, r["user_id"]) not in members \
                or r["sent_count"] >= max_count:
            done.append(key)
        else:
            remind.append(r)
    last = [(r["post_id"], r["user_id"]) for r in remind if r["sent_count"] + 1 >= max_count]
    await repo.delete_keys(conn, done + last)
    await repo.mark_sent(conn, [(r["post_id"], r["user_id"]) for r in remind if r["sent_count"] + 1 < max_count],
                         now)
    if remind:
        await _emit(tx, remind, posts, channels)
    return len(remind)


async def _emit(tx: Tx, remind: list[dict[str, Any]], posts: dict[str, Post], channels: dict[str, Channel]) -> None:
    """One event per reminded user (to that user only), shaped as Mattermost's: the post and where it is."""
    shown = [posts[pid] for pid in dict.fromkeys(r["post_id"] for r in remind)]
    await attach_acknowledgements(tx.conn, shown)
    names = await channels_repo.select_usernames(tx.conn, list({p.user_id for p in shown}))
    bodies = {p.id: dumps(post_json(p)) for p in shown}
    for r in remind:
        post, channel = posts[r["post_id"]], channels[r["channel_id"]]
        sender = f"@{names.get(post.user_id, '')}"
        data = {"post": bodies[post.id], "channel_type": channel.type, "channel_name": channel.name,
                "channel_display_name": sender if channel.type == "D" else channel.display_name,
                "sender_name": sender, "team_id": channel.team_id, "mentions": dumps([r["user_id"]])}
        tx.emit(Event(EVENT, data, user_id=r["user_id"]))
