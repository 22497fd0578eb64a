"""Channel bookmarks (Mattermost's ``ChannelBookmark``): links and files shown under a channel's header.

Anyone who may post in a channel may manage its bookmarks (Mattermost's default channel roles hold the
``*_bookmark_*`` permissions for members); an archived channel's bookmarks are read-only. Bookmarks are
local: each workspace that shares a channel keeps its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import access_channel
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, FileInfo
from isthmus.domain.shapes import file_info_json
from isthmus.store.repo import bookmarks as repo
from isthmus.store.repo import files as files_repo

MAX_PER_CHANNEL = 50
MAX_NAME = 64
MAX_URL = 1024
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")


def _bad(field: str, detail: str) -> AppError:
    return AppError("model.channel_bookmark.is_valid.app_error", f"Invalid bookmark: {field} {detail}.", 400,
                    detailed_error=field)


def _not_found() -> AppError:
    return AppError("app.channel.bookmark.get.app_error", "Unable to find the bookmark.", 404)


async def _json(tx_or_conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "create_at", "update_at", "delete_at", "channel_id", "owner_id",
                               "file_id", "display_name", "sort_order", "link_url", "image_url", "emoji",
                               "type")}
    out["original_id"] = ""
    out["parent_id"] = ""
    if row["file_id"]:
        info = await files_repo.select_file_info(tx_or_conn, row["file_id"])
        if info is not None:
            out["file"] = file_info_json(FileInfo(**info))
    return out


def _fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if creating or "display_name" in body:
        name = body.get("display_name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise _bad("display_name", f"must be 1 to {MAX_NAME} characters")
        values["display_name"] = name.strip()
    for key in ("link_url", "image_url"):
        if key in body:
            url = body[key] or ""
            if not isinstance(url, str) or len(url) > MAX_URL or (url and not _URL_RE.match(url)):
                raise _bad(key, "must be an absolute URL")
            values[key] = url
    if "emoji" in body:
        emoji = body["emoji"] or ""
        if not isinstance(emoji, str) or len(emoji) > MAX_NAME:
            raise _bad("emoji", "must be an emoji name")
        values["emoji"] = emoji
    if "file_id" in body:
        if body["file_id"] and not is_valid_id(body["file_id"]):
            raise _bad("file_id", "must be a file id")
        values["file_id"] = body["file_id"] or ""
    return values


async def _check_file(tx: Tx, channel_id: str, file_id: str) -> None:
    info = await files_repo.select_file_info(tx.conn, file_id)
    if info is None or info["delete_at"] or info["channel_id"] != channel_id:
        raise _bad("file_id", "must name a file uploaded to this channel")


async def _channel(d: Domain, tx: Tx, actor: Actor, channel_id: str) -> None:
    channel = await access_channel(d, tx.conn, actor, channel_id, "create_post")
    if channel.delete_at:
        raise AppError("api.channel.bookmark.channel_archived.app_error",
                       "This channel is archived: its bookmarks can no longer change.", 403)


async def list_bookmarks(d: Domain, actor: Actor, channel_id: str, since: int = 0) -> list[dict[str, Any]]:
    async with d.db.read() as conn:
        await access_channel(d, conn, actor, channel_id)
        return [await _json(conn, r) for r in await repo.select_bookmarks(conn, channel_id, since)]


async def do_create_bookmark(d: Domain, actor: Actor, channel_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("body", "must be a bookmark object")
    kind = body.get("type")
    if kind not in ("link", "file"):
        raise _bad("type", "must be link or file")
    values = _fields(body, creating=True)
    if kind == "link" and not values.get("link_url"):
        raise _bad("link_url", "is required for a link")
    if kind == "file" and not values.get("file_id"):
        raise _bad("file_id", "is required for a file")
    now = d.now()
    async with transaction(d) as tx:
        await _channel(d, tx, actor, channel_id)
        if kind == "file":
            await _check_file(tx, channel_id, values["file_id"])
        count = await repo.count_live(tx.conn, channel_id)
        if count >= MAX_PER_CHANNEL:
            raise AppError("app.channel.bookmark.limit_reached.app_error",
                           f"A channel can have at most {MAX_PER_CHANNEL} bookmarks: delete one first.", 400)
        row = {"id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "channel_id": channel_id,
               "owner_id": actor.user_id, "file_id": "", "link_url": "", "image_url": "", "emoji": "",
               "sort_order": count, "type": kind, **values}
        if kind == "link":
            row["file_id"] = ""
        await repo.insert_bookmark(tx.conn, row)
        out = await _json(tx.conn, row)
        tx.emit(Event("channel_bookmark_created", {"bookmark": json.dumps(out)}, channel_id=channel_id))
    return out


async def _live(tx: Tx, channel_id: str, bookmark_id: str) -> dict[str, Any]:
    row = await repo.select_bookmark(tx.conn, bookmark_id) if is_valid_id(bookmark_id) else None
    if row is None or row["delete_at"] or row["channel_id"] != channel_id:
        raise _not_found()
    return row


async def do_patch_bookmark(d: Domain, actor: Actor, channel_id: str, bookmark_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("body", "must be a bookmark patch")
    values = _fields(body, creating=False)
    async with transaction(d) as tx:
        await _channel(d, tx, actor, channel_id)
        row = await _live(tx, channel_id, bookmark_id)
        if row["type"] == "link":
            values.pop("file_id", None)
            if values.get("link_url") == "":
                raise _bad("link_url", "is required for a link")
        elif values.get("file_id"):
            await _check_file(tx, channel_id, values["file_id"])
        elif "file_id" in values:
            raise _bad("file_id", "is required for a file")
        values["update_at"] = max(d.now(), row["update_at"] + 1)
        await repo.update_bookmark(tx.conn, bookmark_id, values)
        out = await _json(tx.conn, {**row, **values})
        tx.emit(Event("channel_bookmark_updated", {"bookmarks": json.dumps({"updated": out})},
                      channel_id=channel_id))
    return {"updated": out}


async def do_sort_bookmark(d: Domain, actor: Actor, channel_id: str, bookmark_id: str,
                           body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, int) or isinstance(body, bool) or not 0 <= body < MAX_PER_CHANNEL:
        raise _bad("sort_order", f"must be a position from 0 to {MAX_PER_CHANNEL - 1}")
    async with transaction(d) as tx:
        await _channel(d, tx, actor, channel_id)
        moving = await _live(tx, channel_id, bookmark_id)
        rows = [r for r in await repo.select_bookmarks(tx.conn, channel_id) if r["id"] != bookmark_id]
        rows.insert(min(body, len(rows)), moving)
        now = d.now()
        for i, r in enumerate(rows):
            if r["sort_order"] != i:
                bumped = max(now, r["update_at"] + 1)
                await repo.update_bookmark(tx.conn, r["id"], {"sort_order": i, "update_at": bumped})
                r["sort_order"] = i
        out = [await _json(tx.conn, r) for r in rows]
        tx.emit(Event("channel_bookmark_sorted", {"bookmarks": json.dumps(out)}, channel_id=channel_id))
    return out


async def do_delete_bookmark(d: Domain, actor: Actor, channel_id: str, bookmark_id: str) -> dict[str, Any]:
    async with transaction(d) as tx:
        await _channel(d, tx, actor, channel_id)
        row = await _live(tx, channel_id, bookmark_id)
        now = max(d.now(), row["update_at"] + 1)
        await repo.update_bookmark(tx.conn, bookmark_id, {"delete_at": now, "update_at": now})
        out = await _json(tx.conn, {**row, "delete_at": now, "update_at": now})
        tx.emit(Event("channel_bookmark_deleted", {"bookmark": json.dumps(out)}, channel_id=channel_id))
    return out
