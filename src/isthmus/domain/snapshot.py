"""A normalized, server-independent snapshot of a channel: the convergence oracle of shared channels.

Two servers that share a channel and have caught up produce equal snapshots. Everything that is
legitimately local is normalized away: usernames in mentions become ``@<user id>`` (``@bob:beta`` here,
``@bob`` there), ``update_at`` and local counters are left out, deleted posts are reduced to their id,
files are compared by content hash, and local system messages (``system_*`` posts) are skipped.
Used by the cluster tests and by ``isthmus verify --channel``; a peer asks for it one bounded page at a
time (:func:`channel_snapshot_page`), so a huge channel never holds the event loop for long.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, or_, select

from isthmus.domain.context import Domain
from isthmus.domain.sharing.refusals import MARKER_KEY as NOT_TRANSFERRED
from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.files import file_infos
from isthmus.store.schema.posts import post_acknowledgements, posts, reactions
from isthmus.store.schema.users import users

_MENTION = re.compile(r"(?<![\w.@-])@([a-z0-9][a-z0-9._\-]*(?::[a-z0-9][a-z0-9._\-]*)?)", re.IGNORECASE)
_PERMALINK = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*?/[a-z0-9\-_]+/pl(?:shared)?/([a-z0-9]{26})")


SNAPSHOT_PAGE = 500  # posts per page: what one peer request (or one read of a local snapshot) may cost


async def channel_snapshot(d: Domain, channel_id: str, *, since: int = 0) -> dict[str, Any]:
    """Posts created at or after ``since`` (ms), their reactions, files, priority and acknowledgements, and the
    channel's members: the
    pages of :func:`channel_snapshot_page` put together, yielding to the event loop between them."""
    page = await channel_snapshot_page(d, channel_id, since=since)
    out_posts, members = list(page["posts"]), page["members"]
    while page["next"] is not None:
        await asyncio.sleep(0)
        page = await channel_snapshot_page(d, channel_id, since=since, after=page["next"])
        out_posts.extend(page["posts"])
    return {"channel_id": channel_id, "posts": out_posts, "members": members}


def page_cursor(value: object) -> dict[str, Any] | None:
    """A ``next`` cursor as a peer sent it back, or None when it is not one (then: the first page)."""
    if isinstance(value, dict) and isinstance(value.get("create_at"), int) and isinstance(value.get("id"), str) \
            and not isinstance(value.get("create_at"), bool) and len(value["id"]) <= 26:
        return {"create_at": value["create_at"], "id": value["id"]}
    return None


async def channel_snapshot_page(d: Domain, channel_id: str, *, since: int = 0, after: dict[str, Any] | None = None,
                                limit: int = 0) -> dict[str, Any]:
    """At most ``limit`` (default SNAPSHOT_PAGE) posts of the snapshot, in (create_at, id) order after
    ``after``; ``next`` is the cursor of the following page, None on the last one. The members come with
    the first page only. Each page is a few indexed reads, whatever the size of the channel."""
    limit = limit or SNAPSHOT_PAGE
    not_system = ~posts.c.type.startswith("system_", autoescape=True)  # local system messages are skipped
    cond = and_(posts.c.channel_id == channel_id, posts.c.create_at >= since, not_system)
    if after is not None:
        cond = and_(cond, or_(posts.c.create_at > after["create_at"],
                              and_(posts.c.create_at == after["create_at"], posts.c.id > after["id"])))
    async with d.db.read() as conn:
        prows = [dict(r) for r in (await conn.execute(
            select(posts).where(cond).order_by(posts.c.create_at, posts.c.id).limit(limit + 1))).mappings().all()]
        more = len(prows) > limit
        prows = prows[:limit]
        ids = [p["id"] for p in prows]
        rrows = (await conn.execute(select(reactions.c.post_id, reactions.c.user_id, reactions.c.emoji_name)
                                    .where(and_(reactions.c.post_id.in_(ids), reactions.c.delete_at == 0)))).all()
        frows = (await conn.execute(select(file_infos.c.post_id, file_infos.c.id, file_infos.c.content_hash,
                                           file_infos.c.name, file_infos.c.size)
                                    .where(and_(file_infos.c.post_id.in_(ids), file_infos.c.delete_at == 0)))).all()
        arows = (await conn.execute(select(post_acknowledgements.c.post_id, post_acknowledgements.c.user_id,
                                           post_acknowledgements.c.acknowledged_at)
                                    .where(and_(post_acknowledgements.c.post_id.in_(ids),
                                                post_acknowledgements.c.acknowledged_at > 0)))).all()
        # Replies may sit on later pages: count them in the database (the same rule: live, not system, since).
        live_replies: dict[str, int] = {r[0]: int(r[1]) for r in (await conn.execute(
            select(posts.c.root_id, func.count()).where(and_(
                posts.c.root_id.in_([p["id"] for p in prows if not p["root_id"]]), posts.c.delete_at == 0,
                posts.c.create_at >= since, not_system))
            .group_by(posts.c.root_id))).all()}
        members = sorted(r[0] for r in (await conn.execute(
            select(channel_members.c.user_id).where(channel_members.c.channel_id == channel_id))).all()) \
            if after is None else []
        names: set[str] = set()
        for p in prows:
            names.update(m.group(1).lower() for m in _MENTION.finditer(p["message"]))
        by_name = {r[0]: r[1] for r in (await conn.execute(
            select(users.c.username, users.c.id).where(users.c.username.in_(sorted(names))))).all()} if names else {}
    reacts: dict[str, list[list[str]]] = defaultdict(list)
    for post_id, user_id, emoji in rrows:
        reacts[post_id].append([user_id, emoji])
    files: dict[str, list[list[Any]]] = defaultdict(list)
    for post_id, file_id, digest, name, size in frows:
        files[post_id].append([file_id, digest, name, int(size)])
    acks: dict[str, list[list[Any]]] = defaultdict(list)
    for post_id, user_id, at in arows:
        acks[post_id].append([user_id, int(at)])
    out_posts: list[dict[str, Any]] = []
    for p in prows:
        item: dict[str, Any] = {"id": p["id"], "create_at": p["create_at"], "user_id": p["user_id"],
                                "root_id": p["root_id"], "deleted": bool(p["delete_at"])}
        if not p["delete_at"]:
            item.update(message=_normalize(p["message"], by_name), edit_at=p["edit_at"],
                        is_pinned=bool(p["is_pinned"]), type=p["type"], reply_count=live_replies.get(p["id"], 0),
                        file_ids=sorted(p["file_ids"] or []), files=sorted(files[p["id"]]),
                        reactions=sorted(reacts[p["id"]]))
            # Only when present, so snapshots of servers without priority messages keep their old shape.
            if p["priority"]:
                item["priority"] = {k: p["priority"].get(k) for k in ("priority", "requested_ack",
                                                                      "persistent_notifications")}
            if acks[p["id"]]:
                item["acknowledgements"] = sorted(acks[p["id"]])
            refused = _not_transferred(p["props"])
            if refused:
                item["not_transferred"] = refused
        out_posts.append(item)
    last = prows[-1] if prows else None
    cursor = {"create_at": last["create_at"], "id": last["id"]} if more and last is not None else None
    return {"channel_id": channel_id, "posts": out_posts, "members": members, "next": cursor}


def _normalize(message: str, by_name: dict[str, str]) -> str:
    def mention(m: re.Match[str]) -> str:
        uid = by_name.get(m.group(1).lower())
        return f"@<{uid}>" if uid else m.group(0)

    text = _MENTION.sub(mention, message)
    return _PERMALINK.sub(lambda m: f"<permalink {m.group(1)}>", text)


def _not_transferred(props: Any) -> list[str]:
    """Ids of the files of a post that a server refused (``sharing.refusals`` marks the post it received)."""
    marks = props.get(NOT_TRANSFERRED) if isinstance(props, dict) else None
    if not isinstance(marks, list):
        return []
    return sorted({str(m["id"]) for m in marks if isinstance(m, dict) and m.get("id")})


def _without_refused(pa: dict[str, Any], pb: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two copies of a post without the files one of the servers refused (too large, attachments off):
    a refusal is the agreed outcome (recorded and shown to people), not a difference."""
    refused = set(pa.get("not_transferred", [])) | set(pb.get("not_transferred", []))

    def strip(p: dict[str, Any]) -> dict[str, Any]:
        q = {k: v for k, v in p.items() if k != "not_transferred"}
        if refused and "file_ids" in q:
            q["file_ids"] = [f for f in q["file_ids"] if f not in refused]
            q["files"] = [f for f in q["files"] if f[0] not in refused]
        return q
    return strip(pa), strip(pb)


def count_not_transferred(snapshot: dict[str, Any]) -> int:
    return sum(len(p.get("not_transferred", [])) for p in snapshot["posts"])


def diff_snapshots(a: dict[str, Any], b: dict[str, Any], *, members: bool = True) -> list[str]:
    """Human-readable differences between two snapshots (empty when they agree)."""
    out: list[str] = []
    pa, pb = _comparable(a), _comparable(b)
    for pid in sorted(pa.keys() - pb.keys()):
        out.append(f"post {pid} only on the first server")
    for pid in sorted(pb.keys() - pa.keys()):
        out.append(f"post {pid} only on the second server")
    for pid in sorted(pa.keys() & pb.keys()):
        pa[pid], pb[pid] = _without_refused(pa[pid], pb[pid])
        if pa[pid] != pb[pid]:
            keys = sorted(k for k in pa[pid].keys() | pb[pid].keys() if pa[pid].get(k) != pb[pid].get(k))
            out.append(f"post {pid} differs in {', '.join(keys)}")
    ma, mb = set(a.get("members", [])), set(b.get("members", []))
    if members and ma != mb:
        out.append(f"members differ: {len(ma - mb)} only on the first, {len(mb - ma)} only on the second")
    return out


def _comparable(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in snapshot["posts"]}


def differing_post_ids(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Ids of the posts that are missing from one snapshot or differ between the two (``verify --repair``)."""
    pa, pb = _comparable(a), _comparable(b)
    for pid in pa.keys() & pb.keys():
        pa[pid], pb[pid] = _without_refused(pa[pid], pb[pid])
    return sorted(pid for pid in pa.keys() | pb.keys() if pa.get(pid) != pb.get(pid))
