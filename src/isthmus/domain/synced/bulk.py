"""A sync message's posts applied together: new plain posts in bulk, everything else through ``synced``.

A catch-up is a stream of ``sharedchannel_sync`` messages of up to 50 new posts each. Applied one by one,
every post costs ~10 statements (existence check, insert, channel counters, thread summary, mentions,
outbox row) and the receiver spent ~1.35 ms CPU per post. Here a message costs one locked
``SELECT … WHERE id IN (…)`` for its posts and their thread roots, then per run of new posts one
executemany INSERT of the posts, one channel-counter UPDATE, one UPDATE per touched stored thread root,
one mention lookup and UPDATE, and one multi-row INSERT of the outbox rows.

Equivalence with applying the items one by one through :func:`synced.upsert_post` (the tests compare):

* Items are taken in message order. A new post without files and not already deleted joins the current
  run; anything else (edits, deletes, replays, tombstones, files, an id seen earlier in the message)
  first flushes the run, then goes through ``synced.apply_post``, so events and outbox rows keep the
  message's order and that path reads what the earlier items wrote.
* Refusals (author not owned by the sender, root in another channel, the checks of ``check_post``) are
  raised before the item joins the run, i.e. before anything of it is written.
* Thread roots are read from the rows this message already loaded or wrote. A reply to a root created in
  the same run folds into the root's row before it is inserted; the root's ``posted`` event keeps the row
  as it was created, as the per-post path sends it. After a per-post item that wrote something, the cached
  rows are dropped and read again when needed (a delete changes its root, a root's delete its replies).
* Same rows, same ``posted`` events (``origin`` = sender), same mention counts, same outbox rows with that
  origin, under the same ``shared_channels`` row lock (``changes.record_changes``). The search index
  follows the posts by itself (SQLite triggers fire per row of the executemany; PostgreSQL's index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.domain import persistent_notifications
from isthmus.domain.changes import record_changes
from isthmus.domain.context import Domain, Tx
from isthmus.domain.models import Channel, Post, User
from isthmus.domain.post_fields import mentioned_usernames
from isthmus.domain.shapes import dumps, post_json
from isthmus.domain.sharing.ownership import author_from
from isthmus.domain.synced.posts import (
    CREATED,
    UNCHANGED,
    ItemRefused,
    _file_ids,
    _int,
    apply_post,
    check_post,
    new_post_row,
    posted_event,
)
from isthmus.domain.synced.users import load_owned_users
from isthmus.store.repo import posts as repo

Outcome = str | ItemRefused | AppError


@dataclass(slots=True)
class _New:
    row: dict[str, Any]
    author: User
    post: str  # the post's JSON as created, for ``posted`` (later replies of this message change the row)


class _Run:
    """The message's state: rows it read or wrote, and the new posts not written yet."""

    def __init__(self, d: Domain, tx: Tx, origin: str, channel: Channel) -> None:
        self.d, self.tx, self.origin, self.channel = d, tx, origin, channel
        self.rows: dict[str, dict[str, Any]] = {}  # id -> the row as it is (or will be once flushed)
        self.absent: set[str] = set()  # ids known not to be stored
        self.new: list[_New] = []
        self.new_ids: set[str] = set()
        self.roots: dict[str, dict[str, Any]] = {}  # stored roots whose thread summary the run changed

    async def load(self, ids: list[str], authors: list[tuple[str, Any]]) -> None:
        found = await repo.select_posts_locked(self.tx.conn, ids)
        self.rows = {r["id"]: r for r in found}
        self.absent = set(ids) - self.rows.keys()
        # One query for the authors instead of one per author (owned_user still checks each item)
        await load_owned_users(self.tx, [a for i, a in authors if i in self.absent], self.origin)

    async def row(self, post_id: str) -> dict[str, Any] | None:
        if post_id in self.rows:
            return self.rows[post_id]
        if post_id in self.absent:
            return None
        row = await repo.select_post(self.tx.conn, post_id, for_update=True)
        if row is None:
            self.absent.add(post_id)
        else:
            self.rows[post_id] = row
        return row

    async def bulkable(self, p: dict[str, Any]) -> bool:
        root_id = p.get("root_id") or ""
        if not (p["id"] in self.absent and not _file_ids(p.get("file_ids")) and not _int(p.get("delete_at"))
                and (root_id == "" or is_valid_id(root_id))):
            return False
        root = await self.row(root_id) if root_id else None
        return root is None or not root["delete_at"]  # a reply to a deleted root is stored deleted (synced._create)

    async def add(self, p: dict[str, Any], message: str) -> None:
        """Queue one new post; every refusal is raised before it is queued."""
        author = await author_from(self.tx, p.get("user_id"), self.origin, self.channel.id)
        root_id: str = p.get("root_id") or ""
        root = await self.row(root_id) if root_id else None
        if root is not None and root["channel_id"] != self.channel.id:
            raise ItemRefused("root post is in another channel")
        row = new_post_row(self.d, self.channel, self.origin, author.id, p, message, root_id)
        self.new.append(_New(row, author, dumps(post_json(Post(**row)))))
        self.new_ids.add(row["id"])
        self.absent.discard(row["id"])
        self.rows[row["id"]] = row
        if root is not None and not root["delete_at"]:
            _add_reply(root, author.id, row["create_at"])
            if root["id"] not in self.new_ids:
                self.roots[root["id"]] = root

    async def flush(self) -> None:
        if not self.new:
            return
        conn, channel, new = self.tx.conn, self.channel, self.new
        # The posts' rows first: a reply's fold into its root (same run) is already in the root's row.
        await repo.insert_posts(conn, [n.row for n in new])
        roots = [n.row for n in new if not n.row["root_id"]]
        await repo.update_channel_for_posts(
            conn, channel.id, count=len(new), last_at=max(n.row["create_at"] for n in new),
            roots=len(roots), last_root_at=max((r["create_at"] for r in roots), default=0))
        await repo.update_thread_summaries(conn, list(self.roots.values()))
        mentions = await self._mentions()
        for n in new:  # reminders of urgent posts for the local users they name (a no-op for other posts)
            await persistent_notifications.schedule(self.d, self.tx, channel, n.row, mentions.get(n.row["id"], []),
                                                    check_limits=False)
        for n in new:
            self.tx.emit(posted_event(channel, self.origin, n.author, n.post, mentions.get(n.row["id"], [])))
        await record_changes(self.tx, channel, "post", [n.row["id"] for n in new], self.origin, now=self.d.now())
        self.new, self.new_ids, self.roots = [], set(), {}

    async def _mentions(self) -> dict[str, list[str]]:
        """Mention ids per post (as ``synced._mention_ids`` finds them) and the members' counters, in one go."""
        names = {n.row["id"]: mentioned_usernames(n.row["message"]) for n in self.new if "@" in n.row["message"]}
        if not names:
            return {}
        wanted = list(dict.fromkeys(name for ns in names.values() for name in ns))
        found = dict((name, uid) for uid, name in
                     await repo.select_member_ids_by_usernames(self.tx.conn, self.channel.id, wanted))
        out: dict[str, list[str]] = {}
        counts: dict[str, list[int]] = {}  # user id -> [mentions, root mentions, last_update_at]
        for n in self.new:
            row = n.row
            ids = list(dict.fromkeys(found[name] for name in names.get(row["id"], ())
                                     if name in found and found[name] != row["user_id"]))
            if ids:
                out[row["id"]] = ids
            for uid in ids:
                c = counts.setdefault(uid, [0, 0, 0])
                c[0] += 1
                c[1] += not row["root_id"]
                c[2] = row["create_at"]  # the last post in message order sets it, as one by one
        await repo.add_mentions(self.tx.conn, self.channel.id, [(uid, c[0], c[1], c[2]) for uid, c in counts.items()])
        return out

    def wrote(self, post_id: str) -> None:
        """A per-post item changed the database: forget what may be stale."""
        self.absent.discard(post_id)
        self.rows.clear()


def _add_reply(root: dict[str, Any], user_id: str, create_at: int) -> None:
    # threads.add_reply_to_summary on the row in memory
    participants = list(root["participants"] or [])
    if user_id not in participants:
        participants.append(user_id)
    root.update(reply_count=root["reply_count"] + 1, last_reply_at=max(root["last_reply_at"], create_at),
                participants=participants, update_at=max(root["update_at"] + 1, create_at))


async def upsert_posts(d: Domain, tx: Tx, origin: str, channel: Channel,
                       items: Sequence[tuple[dict[str, Any], str]]) -> list[Outcome]:
    """Apply a sync message's posts (``(post, mention-transformed message)``) in the caller's transaction.

    One outcome per item, in order: ``synced.CREATED`` … or the refusal (nothing of that item was written).
    Any other error propagates and the caller's transaction rolls back, as with ``synced.upsert_post``.
    """
    refusals: list[ItemRefused | None] = []
    for p, message in items:
        try:
            check_post(channel, p, message)
            refusals.append(None)
        except ItemRefused as err:
            refusals.append(err)
    valid = [p for (p, _), refusal in zip(items, refusals, strict=True) if refusal is None]
    run = _Run(d, tx, origin, channel)
    await run.load(list(dict.fromkeys([p["id"] for p in valid] +
                                      [p["root_id"] for p in valid if is_valid_id(p.get("root_id"))])),
                   [(p["id"], p.get("user_id")) for p in valid])
    outcomes: list[Outcome] = []
    for (p, message), refusal in zip(items, refusals, strict=True):
        if refusal is not None:
            outcomes.append(refusal)
            continue
        if await run.bulkable(p):
            try:
                await run.add(p, message)
                outcomes.append(CREATED)
            except (ItemRefused, AppError) as err:
                outcomes.append(err)
            continue
        await run.flush()  # outside the try: its errors are not this item's refusal, they fail the message
        stored = await run.row(p["id"])
        try:
            outcome: Outcome = await apply_post(d, tx, origin, channel, stored, p, message)
        except (ItemRefused, AppError) as err:
            outcome = err
        if isinstance(outcome, str) and outcome != UNCHANGED:
            run.wrote(p["id"])
        outcomes.append(outcome)
    await run.flush()
    return outcomes
