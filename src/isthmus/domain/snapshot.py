"""A normalized, server-independent snapshot of a channel: the convergence oracle of shared channels.

Two servers that share a channel and have caught up produce equal snapshots. Everything that is
legitimately local is normalized away: usernames in mentions become ``@<user id>`` (``@bob:beta`` here,
``@bob`` there), ``update_at`` and local counters are left out, deleted posts are reduced to their id,
files are compared by content hash, and local system messages (``system_*`` posts) are skipped.
Used by the cluster tests and by ``isthmus verify --channel``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, select

from isthmus.domain.context import Domain
from isthmus.store.schema.channels import channel_members
from isthmus.store.schema.files import file_infos
from isthmus.store.schema.posts import posts, reactions
from isthmus.store.schema.users import users

_MENTION = re.compile(r"(?<![\w.@-])@([a-z0-9][a-z0-9._\-]*(?::[a-z0-9][a-z0-9._\-]*)?)", re.IGNORECASE)
_PERMALINK = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*?/[a-z0-9\-_]+/pl(?:shared)?/([a-z0-9]{26})")


async def channel_snapshot(d: Domain, channel_id: str, *, since: int = 0) -> dict[str, Any]:
    """Posts created at or after ``since`` (ms), their reactions and files, and the channel's members."""
    async with d.db.read() as conn:
        prows = [dict(r) for r in (await conn.execute(
            select(posts).where(and_(posts.c.channel_id == channel_id, posts.c.create_at >= since))
            .order_by(posts.c.create_at, posts.c.id))).mappings().all()]
        prows = [p for p in prows if not str(p["type"]).startswith("system_")]
        ids = [p["id"] for p in prows]
        rrows = (await conn.execute(select(reactions.c.post_id, reactions.c.user_id, reactions.c.emoji_name)
                                    .where(and_(reactions.c.post_id.in_(ids), reactions.c.delete_at == 0)))).all()
        frows = (await conn.execute(select(file_infos.c.post_id, file_infos.c.id, file_infos.c.content_hash,
                                           file_infos.c.name, file_infos.c.size)
                                    .where(and_(file_infos.c.post_id.in_(ids), file_infos.c.delete_at == 0)))).all()
        members = sorted(r[0] for r in (await conn.execute(
            select(channel_members.c.user_id).where(channel_members.c.channel_id == channel_id))).all())
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
    live_replies: dict[str, int] = defaultdict(int)
    for p in prows:
        if p["root_id"] and not p["delete_at"]:
            live_replies[p["root_id"]] += 1
    out_posts: list[dict[str, Any]] = []
    for p in prows:
        item: dict[str, Any] = {"id": p["id"], "create_at": p["create_at"], "user_id": p["user_id"],
                                "root_id": p["root_id"], "deleted": bool(p["delete_at"])}
        if not p["delete_at"]:
            item.update(message=_normalize(p["message"], by_name), edit_at=p["edit_at"],
                        is_pinned=bool(p["is_pinned"]), type=p["type"], reply_count=live_replies[p["id"]],
                        file_ids=sorted(p["file_ids"] or []), files=sorted(files[p["id"]]),
                        reactions=sorted(reacts[p["id"]]))
        out_posts.append(item)
    return {"channel_id": channel_id, "posts": out_posts, "members": members}


def _normalize(message: str, by_name: dict[str, str]) -> str:
    def mention(m: re.Match[str]) -> str:
        uid = by_name.get(m.group(1).lower())
        return f"@<{uid}>" if uid else m.group(0)

    text = _MENTION.sub(mention, message)
    return _PERMALINK.sub(lambda m: f"<permalink {m.group(1)}>", text)


def diff_snapshots(a: dict[str, Any], b: dict[str, Any], *, members: bool = True) -> list[str]:
    """Human-readable differences between two snapshots (empty when they agree)."""
    out: list[str] = []
    pa, pb = {p["id"]: p for p in a["posts"]}, {p["id"]: p for p in b["posts"]}
    for pid in sorted(pa.keys() - pb.keys()):
        out.append(f"post {pid} only on the first server")
    for pid in sorted(pb.keys() - pa.keys()):
        out.append(f"post {pid} only on the second server")
    for pid in sorted(pa.keys() & pb.keys()):
        if pa[pid] != pb[pid]:
            keys = sorted(k for k in pa[pid].keys() | pb[pid].keys() if pa[pid].get(k) != pb[pid].get(k))
            out.append(f"post {pid} differs in {', '.join(keys)}")
    ma, mb = set(a.get("members", [])), set(b.get("members", []))
    if members and ma != mb:
        out.append(f"members differ: {len(ma - mb)} only on the first, {len(mb - ma)} only on the second")
    return out


def differing_post_ids(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Ids of the posts that are missing from one snapshot or differ between the two (``verify --repair``)."""
    pa, pb = {p["id"]: p for p in a["posts"]}, {p["id"]: p for p in b["posts"]}
    return sorted(pid for pid in pa.keys() | pb.keys() if pa.get(pid) != pb.get(pid))
