"""Items a connected workspace does not accept, and the limits workspaces announce to each other.

Policy (issue 13): a peer refusing one item never blocks the items after it. The rest of the batch applies
and the cursor moves; every refused item (a file the peer would not take, an item it listed in a sync
answer's ``*_errors``) is recorded per connection, with what, why and when, and shown to admins (REST,
metrics, System Console).

Files: each side announces its limits (``isthmus_limits``: max file size, attachments on/off, max post
size). A sender skips a file it already knows the peer refuses (recording the refusal without the
upload) and warns the person posting it; the post goes without the file. The receiver marks such a post
(``MARKER_KEY`` in its props, local to that server, never synced) so its channel shows which file did not
arrive and why. Mattermost clients ignore unknown props.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from isthmus.core.ids import new_id
from isthmus.domain.access import access_channel
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, FileInfo
from isthmus.domain.post_fields import MESSAGE_MAX_RUNES
from isthmus.domain.remotes import get_remote
from isthmus.domain.sharing import shares
from isthmus.store.repo import refusals as repo

# Props key on a received post whose files did not all arrive: [{id, name, size, reason, limit, message}].
MARKER_KEY = "isthmus_files_not_transferred"
TOO_LARGE, ATTACHMENTS_OFF, REFUSED, NOT_RECEIVED = "too_large", "attachments_off", "refused", "not_received"
RECENT = 5  # refusals shown with a connection (REST, System Console)
KEEP = 10_000  # refusals kept per connection, the newest (the count shown is of these)
KIND_WORDS = {"file": "file", "post": "message", "reaction": "reaction", "user": "user profile",
              "status": "status", "member": "channel membership change"}


@dataclass(frozen=True)
class Limits:
    max_file_size: int
    enable_file_attachments: bool
    max_post_size: int

    def to_obj(self) -> dict[str, Any]:
        return {"max_file_size": self.max_file_size, "enable_file_attachments": self.enable_file_attachments,
                "max_post_size": self.max_post_size}

    @staticmethod
    def from_obj(obj: object) -> Limits | None:
        """A peer's announcement; None when it is not one (a Mattermost peer answers null)."""
        if not isinstance(obj, dict):
            return None
        size, on, post = obj.get("max_file_size"), obj.get("enable_file_attachments"), obj.get("max_post_size")
        if not (isinstance(size, int) and not isinstance(size, bool) and 0 < size < 2**62 and isinstance(on, bool)):
            return None
        post_ok = isinstance(post, int) and not isinstance(post, bool) and 0 < post < 2**31
        return Limits(size, on, post if post_ok and isinstance(post, int) else MESSAGE_MAX_RUNES)

    def refuses(self, size: int) -> str | None:
        if not self.enable_file_attachments:
            return ATTACHMENTS_OFF
        if size > self.max_file_size:
            return TOO_LARGE
        return None


def local_limits(d: Domain) -> Limits:
    fs = d.config.FileSettings
    return Limits(int(fs.MaxFileSize), bool(fs.EnableFileAttachments), MESSAGE_MAX_RUNES)


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            text = f"{n / scale:.0f}" if n >= 10 * scale else f"{n / scale:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{n} bytes"


def file_words(reason: str, *, name: str, size: int, workspace: str, limit: int, detail: str = "",
               sent: bool = False) -> str:
    """Why a file does not reach ``workspace``, in words (names, not ids): a warning before it is sent, or
    (``sent``) the record of what happened."""
    what = f"{name} ({human_size(size)}) " + (f"was not delivered to {workspace}" if sent else
                                              f"will not reach {workspace}")
    if reason == TOO_LARGE:
        return f"{what}: it accepts files up to {human_size(limit)}" if limit else \
            f"{what}: it does not accept files this large" + (f" ({detail})" if detail else "")
    if reason == ATTACHMENTS_OFF:
        return f"{what}: it does not accept file attachments"
    return f"{what}: it refused the file" + (f" ({detail})" if detail else "")


@dataclass
class Refusal:
    kind: str
    item_id: str
    channel_id: str
    reason: str
    message: str


def item_refusal(kind: str, item_id: str, channel_id: str, workspace: str, detail: str = "") -> Refusal:
    """An item the peer listed in a sync answer's ``*_errors`` (Mattermost gives ids, no reasons)."""
    why = f": {detail}" if detail else " (it gave no reason)"
    return Refusal(kind, item_id[:64], channel_id, REFUSED,
                   f"{workspace} did not accept a {KIND_WORDS.get(kind, kind)}{why}"[:512])


def refusal_rows(remote_id: str, refusals: list[Refusal], now: int) -> list[dict[str, Any]]:
    return [{"id": new_id(), "remote_id": remote_id, "channel_id": r.channel_id, "kind": r.kind,
             "item_id": r.item_id, "reason": r.reason, "message": r.message[:512], "create_at": now}
            for r in refusals]


async def refusal_summary(d: Domain, remote_id: str) -> dict[str, Any]:
    """Our extra fields on ``GET /remotecluster/{id}``: how many items never reached it, and the latest."""
    async with d.db.read() as conn:
        counts = await repo.count_refusals(conn, remote_id)
        recent = await repo.recent_refusals(conn, remote_id, RECENT)
        limits = await repo.select_limits(conn, [remote_id])
    row = limits.get(remote_id)
    return {
        "isthmus_not_delivered": {
            "count": sum(counts.values()), "by_kind": counts,
            "recent": [{k: r[k] for k in ("kind", "item_id", "channel_id", "reason", "message", "create_at")}
                       for r in recent]},
        "isthmus_limits": _limits_json(row) if row else None}


async def not_delivered_counts(d: Domain, remote_ids: list[str]) -> dict[str, int]:
    """For the connection list (one query for all): how many items never reached each."""
    async with d.db.read() as conn:
        return await repo.count_by_remote(conn, remote_ids)


def _limits_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"max_file_size": int(row["max_file_size"]), "enable_file_attachments": bool(row["enable_file_attachments"]),
            "max_post_size": int(row["max_post_size"]), "update_at": int(row["update_at"])}


async def store_peer_limits(d: Domain, remote_id: str, limits: Limits) -> None:
    async with transaction(d) as tx:
        await repo.upsert_limits(tx.conn, {"remote_id": remote_id, **limits.to_obj(), "update_at": d.now()})


async def peer_limits(d: Domain, remote_ids: list[str]) -> dict[str, Limits]:
    async with d.db.read() as conn:
        rows = await repo.select_limits(conn, remote_ids)
    return {rid: Limits(int(r["max_file_size"]), bool(r["enable_file_attachments"]), int(r["max_post_size"]))
            for rid, r in rows.items()}


async def channel_limits(d: Domain, actor: Actor, channel_id: str) -> list[dict[str, Any]]:
    """``GET /sharedchannels/{channel_id}/limits``: the workspaces this channel reaches directly, with the
    limits each announced (null when unknown, e.g. a Mattermost peer). Needs read access to the channel."""
    shares.require_shares(d)
    async with d.db.read() as conn:
        await access_channel(d, conn, actor, channel_id)
    rows = [r for r in await shares.list_channel_remotes(d, channel_id) if not r.delete_at]
    known = await peer_limits(d, [r.remote_id for r in rows])
    out: list[dict[str, Any]] = []
    for r in rows:
        rc = await get_remote(d, r.remote_id, include_deleted=True)
        if rc.delete_at:
            continue
        lim = known.get(r.remote_id)
        out.append({"remote_id": rc.remote_id, "name": rc.name, "display_name": rc.display_name or rc.name,
                    "limits": lim.to_obj() if lim else None})
    return out


async def file_warnings(d: Domain, channel_id: str, infos: list[FileInfo]) -> list[dict[str, Any]]:
    """For a post with ``infos`` in ``channel_id``: one warning per (file, workspace) that will not take it."""
    if not infos or not shares.shares_enabled(d):
        return []
    rows = [r for r in await shares.list_channel_remotes(d, channel_id) if not r.delete_at]
    if not rows:
        return []
    known = await peer_limits(d, [r.remote_id for r in rows])
    out: list[dict[str, Any]] = []
    for r in rows:
        lim = known.get(r.remote_id)
        if lim is None:
            continue
        rc = await get_remote(d, r.remote_id, include_deleted=True)
        workspace = rc.display_name or rc.name
        for f in infos:
            reason = lim.refuses(f.size)
            if reason:
                out.append({"file_id": f.id, "name": f.name, "size": f.size, "remote_id": rc.remote_id,
                            "workspace": workspace, "reason": reason, "limit": lim.max_file_size,
                            "message": file_words(reason, name=f.name, size=f.size, workspace=workspace,
                                                  limit=lim.max_file_size)})
    return out


def received_marker(d: Domain, post: dict[str, Any], missing: list[str]) -> list[dict[str, Any]]:
    """The receiver's note for files of ``post`` that did not arrive: why, as far as this server knows
    (its own limits; otherwise a server on the way did not pass it on)."""
    described = {f.get("id"): f for f in ((post.get("metadata") or {}).get("files") or []) if isinstance(f, dict)} \
        if isinstance(post.get("metadata"), dict) else {}
    own = local_limits(d)
    out: list[dict[str, Any]] = []
    for file_id in missing:
        f = described.get(file_id, {})
        raw_name, raw_size = f.get("name"), f.get("size")
        name = raw_name if isinstance(raw_name, str) else ""
        size = raw_size if isinstance(raw_size, int) and not isinstance(raw_size, bool) and raw_size > 0 else 0
        reason = (own.refuses(size) if size else None) or (ATTACHMENTS_OFF if not own.enable_file_attachments
                                                          else NOT_RECEIVED)
        what = f"A file ({name[:100]}, {human_size(size)})" if name else "A file"
        why = {TOO_LARGE: f"this workspace accepts files up to {human_size(own.max_file_size)}",
               ATTACHMENTS_OFF: "this workspace does not accept file attachments",
               NOT_RECEIVED: "a workspace on the way did not accept it"}[reason]
        out.append({"id": file_id, "name": name[:100], "size": size, "reason": reason, "limit": own.max_file_size,
                    "message": f"{what} was not transferred: {why}"})
    return out


def without_marker(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != MARKER_KEY} if MARKER_KEY in props else props


def keep_marker(incoming: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """Props replaced by a synced edit keep this server's own marker (the sender never has it)."""
    if MARKER_KEY not in stored:
        return incoming
    return {**without_marker(incoming), MARKER_KEY: stored[MARKER_KEY]}
