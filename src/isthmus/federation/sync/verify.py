"""``isthmus verify --channel ID``: compare a shared channel's snapshot here with every connected peer's.

The peer answers topic ``isthmus_channel_snapshot`` with its normalized snapshot (domain/snapshot.py)
of the posts created since the invitation; a Mattermost peer does not know the topic and answers OK
with no payload, reported as "unsupported". The peer answers one bounded page per request (``next`` says where
the following one starts), so a huge channel never holds its event loop. Read-only unless ``repair``: then, for
each peer that differs, this side queues its own state of the differing posts for that peer
(``domain/sharing/repair.py``) and asks the peer (topic ``isthmus_channel_resend``) to queue its own; both
senders deliver them like any change.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor
from isthmus.domain.remotes import RemoteCluster, get_remote
from isthmus.domain.sharing import shares
from isthmus.domain.sharing.repair import do_resend_posts
from isthmus.domain.snapshot import (
    channel_snapshot,
    count_not_transferred,
    diff_snapshots,
    differing_post_ids,
    page_cursor,
)
from isthmus.domain.synced.users import member_sync_enabled
from isthmus.federation.sync.messages import TOPIC_RESEND, TOPIC_SNAPSHOT
from isthmus.federation.transport import RemoteClient, TransportError
from isthmus.federation.wire import Msg

MAX_SNAPSHOT_PAGES = 10_000  # a peer that never ends its pages is reported, not followed forever


async def verify_channel(d: Domain, client: RemoteClient, actor: Actor | None, channel_id: str, *,
                         repair: bool = False) -> dict[str, Any]:
    """``actor`` None means a trusted caller (the CLI on the server's own database)."""
    if actor is not None:
        shares.authorize(d, actor)
    share = await shares.get_share(d, channel_id)
    if share is None:
        raise AppError("api.command_share.channel_not_shared.error", "This channel is not shared.", 400)
    results: list[dict[str, Any]] = []
    for row in await shares.list_channel_remotes(d, channel_id):
        rc = await get_remote(d, row.remote_id, include_deleted=True)
        item: dict[str, Any] = {"remote_id": rc.remote_id, "name": rc.name, "display_name": rc.display_name}
        if not row.is_invite_confirmed:
            results.append({**item, "status": "pending", "differences": []})
            continue
        since = row.create_at
        local = await channel_snapshot(d, channel_id, since=since)
        try:
            remote, failure = await _peer_snapshot(d, client, rc, channel_id, since)
        except TransportError as err:
            results.append({**item, "status": "unreachable", "error": str(err), "differences": []})
            continue
        if remote is None:
            results.append({**item, **failure, "differences": []})
            continue
        differences = diff_snapshots(local, remote, members=member_sync_enabled(d))
        result = {**item, "status": "ok" if not differences else "differs", "posts": len(local["posts"]),
                  "differences": differences,
                  "files_not_transferred": count_not_transferred(local) + count_not_transferred(remote)}
        if repair and differences:
            result["repair"] = await _repair(d, client, rc, channel_id, differing_post_ids(local, remote))
        results.append(result)
    return {"channel_id": channel_id, "home": share.home, "remotes": results}


async def _peer_snapshot(d: Domain, client: RemoteClient, rc: RemoteCluster, channel_id: str, since: int
                         ) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The peer's whole snapshot, asked for one bounded page at a time (it follows ``next``); or None and why."""
    posts: list[Any] = []
    members: list[Any] = []
    after: dict[str, Any] | None = None
    for _ in range(MAX_SNAPSHOT_PAGES):
        payload: dict[str, Any] = {"channel_id": channel_id, "since": since}
        if after is not None:
            payload["after"] = after
        reply = await client.send_msg(rc.site_url, Msg.new(TOPIC_SNAPSHOT, payload, d.now()), remote_id=rc.remote_id,
                                      token=rc.remote_token)
        if not reply.ok:
            return None, {"status": "error", "error": reply.err[:300]}
        page = reply.payload
        if not isinstance(page, dict) or not isinstance(page.get("posts"), list):
            return None, {"status": "unsupported"}
        posts.extend(page["posts"])
        if after is None and isinstance(page.get("members"), list):
            members = page["members"]
        after = page_cursor(page.get("next"))
        if after is None:
            return {"channel_id": channel_id, "posts": posts, "members": members}, {}
    return None, {"status": "error", "error": f"{rc.display_name} sent more than {MAX_SNAPSHOT_PAGES} pages"}


async def _repair(d: Domain, client: RemoteClient, rc: RemoteCluster, channel_id: str,
                  post_ids: list[str]) -> dict[str, Any]:
    """Each side re-sends what it owns: queue ours here, ask the peer to queue its own."""
    out: dict[str, Any] = {"posts": len(post_ids), "resent_here": 0, "resent_there": 0}
    if not post_ids:  # only the member lists differ: membership is not re-sent (yet)
        return out
    out["resent_here"] = len(await do_resend_posts(d, channel_id, post_ids, rc.remote_id))
    try:
        msg = Msg.new(TOPIC_RESEND, {"channel_id": channel_id, "post_ids": post_ids}, d.now())
        reply = await client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)
    except TransportError as err:
        out["error"] = f"{rc.display_name} could not be asked to re-send its posts: {err}"
        return out
    if not reply.ok:
        out["error"] = f"{rc.display_name} refused to re-send its posts: {reply.err[:300]}"
    elif isinstance(reply.payload, dict) and isinstance(reply.payload.get("queued"), list):
        out["resent_there"] = len(reply.payload["queued"])
    return out
