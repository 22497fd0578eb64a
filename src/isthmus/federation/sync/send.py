"""Collect what a remote has not acknowledged yet and build one sync message from it (sender side of §6.2).

Input is the durable outbox: rows ``(seq, channel, kind, entity, origin)`` with ``seq`` beyond the
(channel, remote) cursor. Output is a *state snapshot* of the changed entities, in dependency order:
the users who appear (authors and reactors, profiles only when changed since last sent), the posts
(thread roots before their replies, with ``metadata.files``), and the current state of each reaction
and acknowledgement that changed (``delete_at`` / ``acknowledged_at`` 0 included; only those: a Mattermost
receiver deletes a reaction it is sent again). Isthmus receivers upsert by global id, so a retried batch is
harmless and several changes to one post collapse into one item (a Mattermost peer still toggles a reaction
whose batch is retried after a lost answer: at-least-once delivery cannot rule that out).

Loop freedom: rows whose origin is the target remote are skipped (never echoed), and so are users,
files and statuses that the target itself owns, and reactions whose last change came from the target
(``reactions.remote_id``: a home admin's removal of the target's user's reaction does go to it).
Batches stop at ``MaxPostsPerSync`` distinct posts; ``end_seq`` says how far the cursor moves once the
peer acknowledged this batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.ids import new_id
from isthmus.domain.changes import REPLAY_KIND, record_change
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.files import infos_for_posts
from isthmus.domain.models import Channel, FileInfo, Post, PostAcknowledgement, Reaction, User
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.shapes import ack_json, file_info_json, post_json, reaction_json, string_map
from isthmus.domain.sharing import plugin_components
from isthmus.domain.sharing.refusals import KEEP, Refusal, refusal_rows, without_marker
from isthmus.domain.statuses import Status, status_json
from isthmus.domain.synced.posts import CHANGES_KEY, PIN_AT_KEY
from isthmus.domain.synced.statuses import STATUS_CLOCK_KEY
from isthmus.domain.synced.users import HIDDEN_EMAIL_DOMAIN, PROP_REMOTE_EMAIL, member_sync_enabled
from isthmus.federation.sync.messages import SyncMsg, SyncResponse
from isthmus.federation.sync.text import mention_names, permalink_ids, permalinks_out
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import acknowledgements as acks_repo
from isthmus.store.repo import clocks as clocks_repo
from isthmus.store.repo import posts as posts_repo
from isthmus.store.repo import refusals as refusals_repo
from isthmus.store.repo import shared as repo
from isthmus.store.repo import statuses as statuses_repo
from isthmus.store.repo import users as users_repo
from isthmus.store.schema.shared import shared_channel_remotes as scr_t
from isthmus.store.schema.shared import sync_outbox as out_t

ROW_WINDOW_MIN = 200  # outbox rows read per batch at least (rows of one post coalesce)


async def pending_channels(conn: AsyncConnection, remote_id: str) -> list[dict[str, Any]]:
    """The live, confirmed (channel, ``remote_id``) rows with outbox rows past their cursor, oldest first.

    One index seek per shared channel (the next ``seq`` past the cursor), whatever the backlog. An aggregate
    counting every pending row, run before each batch of 50, made a backlog of N posts cost O(N²) (0.46 s per
    batch with 86k pending, measured by bench/sync)."""
    next_seq = (select(out_t.c.seq)
                .where(and_(out_t.c.channel_id == scr_t.c.channel_id, out_t.c.seq > scr_t.c.outbox_cursor))
                .order_by(out_t.c.seq).limit(1).scalar_subquery())
    q = select(scr_t, next_seq.label("next_seq")).where(and_(
        scr_t.c.remote_id == remote_id, scr_t.c.delete_at == 0, scr_t.c.is_invite_confirmed.is_(True)))
    rows = [dict(r._mapping) for r in (await conn.execute(q)).all()]
    return sorted((r for r in rows if r["next_seq"] is not None), key=lambda r: int(r["next_seq"]))


@dataclass
class Batch:
    scr_id: str
    channel_id: str
    start_seq: int
    end_seq: int
    more: bool
    msg: SyncMsg
    files: list[tuple[FileInfo, str]] = field(default_factory=list)  # (file, uploader) to push first
    users: dict[str, int] = field(default_factory=dict)  # user id -> update_at to record once synced
    pictures: list[str] = field(default_factory=list)  # users whose uploaded picture changed since last sent
    posts: list[Post] = field(default_factory=list)
    rows: int = 0
    oldest_row_at: int = 0
    changes: dict[str, set[str]] = field(default_factory=dict)  # post id -> {"content", "pin"}
    synced_before: set[str] = field(default_factory=set)  # users of msg.users that rc had been sent already
    replay_seq: int = 0  # the batch stopped before this replay marker: expand it, then go on
    refusals: list[Refusal] = field(default_factory=list)  # what the peer did not take, recorded with the cursor

    @property
    def has_payload(self) -> bool:
        return not self.msg.empty


def sanitized_user(user: User, rc: RemoteCluster | None = None) -> dict[str, Any]:
    """``sanitizeUserForSync``: no secrets, no roles, no notification settings (§6.2); then the profile fields
    ``rc``'s policy keeps back (Mattermost sends email in clear to every peer; we only when the admin opts in).
    A user relayed from another server gets the same treatment: the policy is about what this peer sees; and it
    never carries more than its own server let us know: its address is the one in ``RemoteEmail`` (empty when that
    server keeps it back, so the receiver forgets what it had), not our placeholder, and a kept-back address is
    left out of ``props`` too (a Mattermost peer would store them as they come)."""
    out: dict[str, Any] = {
        "id": user.id, "create_at": user.create_at, "update_at": user.update_at, "delete_at": user.delete_at,
        "username": user.username, "password": new_id(), "auth_data": "", "auth_service": "",
        "email": user.email, "nickname": user.nickname, "first_name": user.first_name,
        "last_name": user.last_name, "position": user.position, "roles": "system_user",
        # Go decodes both as map[string]string: a row written before REST refused other values must not
        # make a Mattermost peer refuse the whole message.
        "props": string_map(user.props),
        "notify_props": {}, "last_password_update": 0, "last_picture_update": 0, "failed_attempts": 0,
        "locale": user.locale, "timezone": string_map(user.timezone), "mfa_active": False, "mfa_secret": "",
        "is_bot": user.is_bot}
    hidden = f"{user.id}@{HIDDEN_EMAIL_DOMAIN}"
    if user.remote_id:
        out["remote_id"] = user.remote_id
        known = out["props"].get(PROP_REMOTE_EMAIL, "")
        out["email"] = known if "@" in known else hidden
    if rc is not None:
        if not rc.share_email:
            out["email"] = hidden
            out["props"].pop(PROP_REMOTE_EMAIL, None)
        if not rc.share_full_name:
            out["first_name"] = out["last_name"] = ""
        if not rc.share_nickname:
            out["nickname"] = ""
        if not rc.share_position:
            out["position"] = ""
    return out


async def _posts(conn: AsyncConnection, ids: list[str]) -> dict[str, Post]:
    rows = await posts_repo.select_posts_by_ids(conn, ids, include_deleted=True)
    return {r["id"]: Post(**r) for r in rows}


async def collect(d: Domain, rc: RemoteCluster, scr: dict[str, Any], max_posts: int,
                  conn: AsyncConnection | None = None) -> Batch:
    """One batch for (scr.channel_id → rc), read in a single read transaction (``conn``'s, when given: the
    sender reads its first batch in the transaction that found it)."""
    if conn is not None:
        return await _collect(conn, d, rc, scr, max_posts)
    async with d.db.read() as own:
        return await _collect(own, d, rc, scr, max_posts)


async def _collect(conn: AsyncConnection, d: Domain, rc: RemoteCluster, scr: dict[str, Any],
                   max_posts: int) -> Batch:
    channel_id, start = scr["channel_id"], int(scr["outbox_cursor"])
    window = max(ROW_WINDOW_MIN, max_posts * 4)
    rows = await repo.select_changes(conn, channel_id, start, window)
    batch = Batch(scr_id=scr["id"], channel_id=channel_id, start_seq=start, end_seq=start,
                  more=len(rows) == window, msg=SyncMsg.new(channel_id))
    post_ids: list[str] = []
    reaction_posts: list[str] = []  # bare post id rows (older rows, re-invites): every reaction of the post
    items: list[str] = []  # "post:user:emoji" reaction rows and "post:user" ack rows: just that item
    user_ids: list[str] = []
    member_ids: list[str] = []
    member_times: dict[str, int] = {}  # user id -> time of its newest membership row (clock fallback)
    status_ids: list[str] = []
    touched: set[str] = set()  # posts this batch is about (MaxPostsPerSync counts them)
    member_sync = member_sync_enabled(d)
    member_batch = max(1, int(d.config.ConnectedWorkspacesSettings.MemberSyncBatchSize))  # changes per message
    for row in rows:
        kind, entity = row["kind"], row["entity_id"]
        if row.get("target_remote_id") not in (None, rc.remote_id):
            continue  # for another remote only (its replay or re-send): not ours to send, nor to wait for
        if kind == REPLAY_KIND:  # a replay not expanded yet: nothing past it is sent (nor acknowledged) before it
            batch.replay_seq, batch.more = int(row["seq"]), True
            break
        if row["origin_remote_id"] != rc.remote_id:  # never echo a change back to where it came from
            target = post_ids if kind in ("post", "pin") else \
                (items if ":" in entity else reaction_posts) if kind in ("reaction", "ack") \
                else user_ids if kind == "user" else member_ids if kind == "member" and member_sync \
                else status_ids if kind == "status" else None
            if target is not None and entity not in target:
                post_key = entity[:26] if kind in ("post", "pin", "reaction", "ack") else ""
                if (post_key and post_key not in touched and len(touched) >= max_posts) or \
                        (target is member_ids and len(member_ids) >= member_batch):
                    batch.more = True
                    break
                if post_key:
                    touched.add(post_key)
                target.append(entity)
            if kind in ("post", "pin"):
                batch.changes.setdefault(entity, set()).add("content" if kind == "post" else "pin")
            elif kind == "member":
                member_times[entity] = int(row["create_at"])
            batch.oldest_row_at = batch.oldest_row_at or int(row["create_at"])
        batch.end_seq = int(row["seq"])
        batch.rows += 1
    if not (post_ids or reaction_posts or items or user_ids or member_ids or status_ids):
        return batch
    added = await _memberships(conn, rc, batch, member_ids, member_times)
    await _fill(conn, d, rc, batch, post_ids, reaction_posts, items, user_ids + added)
    await _statuses(conn, d, rc, batch, status_ids)
    return batch


async def _fill(conn: AsyncConnection, d: Domain, rc: RemoteCluster, batch: Batch, post_ids: list[str],
                reaction_posts: list[str], items: list[str], user_ids: list[str]) -> None:
    if not (post_ids or reaction_posts or items):
        await _users(conn, rc, batch, list(dict.fromkeys(user_ids)))
        return
    posts = await _posts(conn, post_ids)
    # Thread roots travel before their replies, so the receiver can keep its thread summary exact.
    roots = [p.root_id for p in posts.values() if p.root_id and p.root_id not in posts]
    for root in (await _posts(conn, list(dict.fromkeys(roots)))).values():
        # The target already has roots it wrote itself: sending one back as context would be an echo.
        if root.channel_id == batch.channel_id and root.remote_id != rc.remote_id:
            posts[root.id] = root
    ordered = sorted((p for p in posts.values() if p.channel_id == batch.channel_id),
                     key=lambda p: (p.create_at, p.id))
    batch.posts = ordered
    files = await infos_for_posts(conn, [p.id for p in ordered if not p.delete_at and p.file_ids])
    synced_files = await repo.select_attachment_syncs(conn, rc.remote_id,
                                                      [f.id for fs in files.values() for f in fs])
    linked = {pid for p in ordered for pid in permalink_ids(p.message)}
    same_channel = {pid for pid, lp in (await _posts(conn, list(linked))).items()
                    if lp.channel_id == batch.channel_id} if linked else set()
    authors: list[str] = []
    for p in ordered:
        infos = files.get(p.id, [])
        for f in infos:
            if f.remote_id != rc.remote_id and synced_files.get(f.id, -1) < f.update_at:
                batch.files.append((f, p.user_id))
        body = post_json(p, files=[file_info_json(f) for f in infos])
        body["message"] = permalinks_out(p.message, same_channel)
        body["props"] = without_marker(body["props"])  # our note of files that did not reach us stays here
        body["props"] = plugin_components.for_shared(d.config, body["props"])  # written before it was shared
        body["metadata"].pop("reactions", None)
        # Acknowledgements travel in the message's own list, each once per change. Not in the post's metadata:
        # a Mattermost receiver REPLACES its acknowledgements of the post with that list, which would drop one
        # of its own users' that crossed this message.
        body["metadata"].pop("acknowledgements", None)
        # Mattermost decodes participants as []*User and fills them only for thread views, never in sync: our
        # list of ids would make it refuse the whole message (issue 14 point 1).
        body["participants"] = None
        # Our extension (ignored by Mattermost): which parts changed, so an update never reverts a concurrent
        # change of the other part. Thread roots sent only as context carry an empty list.
        body[CHANGES_KEY] = sorted(batch.changes.get(p.id, ()))
        body[PIN_AT_KEY] = p.pin_at  # the pin clock: concurrent pins/unpins converge on the latest
        batch.msg.posts.append(body)
        authors.append(p.user_id)
    await _acknowledgements(conn, rc, batch, [i for i in items if i.count(":") == 1], authors)
    # Only the reactions named by this batch's rows (a Mattermost receiver toggles a reaction sent again).
    wanted = set(items)
    item_posts = list(dict.fromkeys(i[:26] for i in items if i.count(":") == 2))
    reactions = await repo.select_reactions_for_posts(conn, list(dict.fromkeys(reaction_posts + item_posts)))
    for r in reactions:
        named = f"{r['post_id']}:{r['user_id']}:{r['emoji_name']}" in wanted or r["post_id"] in reaction_posts
        if named and r["remote_id"] != rc.remote_id and r["channel_id"] in ("", batch.channel_id):
            batch.msg.reactions.append(reaction_json(Reaction(**r)))
            authors.append(r["user_id"])
    await _users(conn, rc, batch, list(dict.fromkeys(authors + user_ids)))
    await _mentions(conn, batch)


async def _acknowledgements(conn: AsyncConnection, rc: RemoteCluster, batch: Batch, keys: list[str],
                            authors: list[str]) -> None:
    """The acknowledgements named by ``post:user`` rows, current state (``acknowledged_at`` 0: removed); never
    those the target owns."""
    if not keys:
        return
    wanted = set(keys)
    for a in await acks_repo.select_acks(conn, list(dict.fromkeys(k[:26] for k in keys)), live_only=False):
        if f"{a['post_id']}:{a['user_id']}" in wanted and a["remote_id"] != rc.remote_id \
                and a["channel_id"] == batch.channel_id:
            batch.msg.acknowledgements.append(ack_json(PostAcknowledgement(**a)))
            authors.append(a["user_id"])


async def _memberships(conn: AsyncConnection, rc: RemoteCluster, batch: Batch, user_ids: list[str],
                       row_times: dict[str, int]) -> list[str]:
    """``membership_changes`` for the users whose membership changed: the CURRENT state (add or remove).
    Users the target owns go too when the change is ours (rows from the target are never read here): on its
    home a channel's members are the home's decision. Returns the added users the target does not own
    (profiles to send).

    ``change_time`` is the time of that join/leave (its clock, §1.9; the home relays the owner's), not the send
    time; ``remote_id`` is this connection's id, which names us, the server the change comes from, on the
    receiving side too (connection ids are the same on both sides), so a Mattermost peer never sends it back."""
    if not user_ids:
        return []
    owned = {r["id"] for r in await users_repo.select_users_by_ids(conn, user_ids) if r["remote_id"] == rc.remote_id}
    members = set(await repo.select_member_ids_in(conn, batch.channel_id, user_ids))
    home = bool(owned) and bool((await repo.select_shared_channel(conn, batch.channel_id) or {}).get("home"))
    clocks = await clocks_repo.select_member_clocks(conn, batch.channel_id, user_ids)
    added: list[str] = []
    for user_id in user_ids:
        if user_id in owned and not home:
            continue  # not the home: the target's users are its own business
        is_add = user_id in members
        change_time = clocks.get(user_id) or row_times.get(user_id, 0)
        batch.msg.membership_changes.append({"channel_id": batch.channel_id, "user_id": user_id, "is_add": is_add,
                                             "remote_id": rc.remote_id, "change_time": change_time})
        if is_add and user_id not in owned:
            added.append(user_id)
    return added


async def _users(conn: AsyncConnection, rc: RemoteCluster, batch: Batch, ids: list[str]) -> None:
    if not ids:
        return
    synced = await repo.select_synced_users(conn, batch.channel_id, rc.remote_id, ids)
    for row in await users_repo.select_users_by_ids(conn, ids):
        user = User(**row)
        if user.remote_id == rc.remote_id:
            continue  # the target owns this user: never send it back
        last = synced.get(user.id, -1)
        if last >= 0:
            batch.synced_before.add(user.id)
        if last < user.update_at:
            batch.msg.users[user.id] = sanitized_user(user, rc)
            batch.users[user.id] = user.update_at
            if user.last_picture_update > max(last, 0):
                batch.pictures.append(user.id)


async def _statuses(conn: AsyncConnection, d: Domain, rc: RemoteCluster, batch: Batch, changed: list[str]) -> None:
    """The CURRENT status of each user whose status changed (several changes collapse into one item), plus that
    of users sent to ``rc`` for the first time, so it does not wait for their next change. Only users ``rc``
    already knows (or gets in this message) and does not own, members of the channel (the message names it)."""
    if d.config.ConnectedWorkspacesSettings.DisableSharedChannelsStatusSync:
        return
    first_time = [u for u in batch.msg.users if u not in batch.synced_before]
    ids = list(dict.fromkeys(changed + first_time))
    if not ids:
        return
    known = set(await repo.select_synced_users(conn, batch.channel_id, rc.remote_id, ids)) | set(batch.msg.users)
    members = set(await repo.select_member_ids_in(conn, batch.channel_id, ids))
    owners = {r["id"]: r["remote_id"] for r in await users_repo.select_users_by_ids(conn, ids)}
    rows = {r["user_id"]: r for r in await statuses_repo.select_statuses(conn, ids)}
    for user_id in ids:
        row = rows.get(user_id)
        if row is None or user_id not in known or user_id not in members or user_id not in owners \
                or owners[user_id] == rc.remote_id:
            continue
        # Our clock rides along (last writer wins on the receiver); Mattermost's decoder ignores the key.
        batch.msg.statuses.append({**status_json(Status(**row)), STATUS_CLOCK_KEY: int(row["status_at"])})


async def _mentions(conn: AsyncConnection, batch: Batch) -> None:
    names: list[str] = []
    for p in batch.posts:
        if not p.delete_at:
            names.extend(n for n in mention_names(p.message) if n not in names)
    if not names:
        return
    for row in await users_repo.select_users_by_usernames(conn, names[:200]):
        batch.msg.mention_transforms[row["username"]] = row["id"]


async def commit(d: Domain, rc: RemoteCluster, batch: Batch, response: SyncResponse | None) -> None:
    """The peer acknowledged ``batch`` (or there was nothing to send): move the cursor, remember synced users,
    record what it refused."""
    values: dict[str, Any] = {"update_at": d.now()}
    live = [p for p in batch.posts]
    if live:
        newest_create = max(live, key=lambda p: (p.create_at, p.id))
        newest_update = max(live, key=lambda p: (p.update_at, p.id))
        values.update(last_post_create_at=newest_create.create_at, last_post_create_id=newest_create.id,
                      last_post_update_at=newest_update.update_at, last_post_update_id=newest_update.id)
    synced = set(response.users_syncd) if response is not None else set()
    if response is not None:  # its copy took our sync: an invite only its own sync confirmed is sure now
        values["confirmed_by_sync"] = False
    async with transaction(d) as tx:
        await _follow_up_stale_users(tx, batch, synced)
        if batch.end_seq > batch.start_seq:
            await repo.advance_cursor(tx.conn, batch.scr_id, batch.end_seq, values)
        # Refused items are recorded in the transaction that moves the cursor past them: never lost, never
        # recorded for a batch that is sent again.
        await refusals_repo.record_refusals(tx.conn, refusal_rows(rc.remote_id, batch.refusals, d.now()), KEEP)
        now = d.now()
        for user_id, update_at in batch.users.items():
            if user_id not in synced:
                continue
            if await repo.update_synced_user(tx.conn, user_id, batch.channel_id, rc.remote_id, update_at) == 0:
                await repo.insert_synced_user(tx.conn, {
                    "id": new_id(), "user_id": user_id, "channel_id": batch.channel_id, "remote_id": rc.remote_id,
                    "create_at": now, "last_sync_at": update_at})


async def _follow_up_stale_users(tx: Tx, batch: Batch, synced: set[str]) -> None:
    """A profile that changed while this batch was on its way (a deactivation right after a first post) found
    no ``shared_channel_users`` row to queue itself on (``record_user_changed``), and the batch carried the
    older profile: queue the user again so the newer one follows. First in the transaction, so the share row
    is locked before the remote row, as every other writer does."""
    sent = {u: at for u, at in batch.users.items() if u in synced}
    if not sent:
        return
    stale = [r["id"] for r in await users_repo.select_users_by_ids(tx.conn, sorted(sent))
             if int(r["update_at"]) > sent[r["id"]]]
    row = await access_repo.select_channel(tx.conn, batch.channel_id) if stale else None
    if row is None:
        return
    for user_id in stale:
        await record_change(tx, Channel(**row), "user", user_id, None)
