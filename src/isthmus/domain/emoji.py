"""Custom emoji (Mattermost's ``model.Emoji``): a user uploads an image under a name, and anyone on this
server can use ``:name:`` in messages and reactions.

Images: at most 1 MiB and 1028 px a side (Mattermost's limits); a still image larger than 128 px is scaled
down to fit 128 px and kept as PNG; an animated GIF is kept as sent. Deleting is for the creator and for
holders of ``delete_others_emojis`` (system admins). Emoji stay on their server: a connected workspace that
lacks one shows ``:name:`` as text, as Mattermost does.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from typing import IO, Any

from PIL import Image
from sqlalchemy.exc import IntegrityError

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain import files
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor
from isthmus.domain.roles import has_system_permission
from isthmus.store.repo import emoji as repo

MAX_IMAGE_BYTES = 1 << 20
MAX_SIDE = 1028
DISPLAY_SIDE = 128
NAME_RE = re.compile(r"^[a-z0-9_+\-]{1,64}$")
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def blob_key(emoji_id: str) -> str:
    return f"emoji/{emoji_id}/image"


def emoji_json(row: dict[str, Any]) -> dict[str, Any]:
    # "category" is what Mattermost's apps file a custom emoji under (their CustomEmoji type requires it).
    return {**{k: row[k] for k in ("id", "create_at", "update_at", "delete_at", "creator_id", "name")},
            "category": "custom"}


def _disabled(d: Domain) -> None:
    if not d.config.ServiceSettings.EnableCustomEmoji:
        raise AppError("api.emoji.disabled.app_error",
                       "Custom emoji are turned off on this server (ServiceSettings.EnableCustomEmoji).", 501)


def not_found() -> AppError:
    return AppError("app.emoji.get.app_error", "Unable to find the emoji.", 404)


def too_large() -> AppError:
    return AppError("api.emoji.create.too_large.app_error",
                    "Unable to create emoji. The image must be less than 1 MB in size.", 413)


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise invalid("model.emoji.name.app_error",
                      "Emoji names are 1 to 64 lowercase letters, digits, '-', '+' or '_'.")
    return name


def require_can_create(d: Domain, actor: Actor) -> None:
    _disabled(d)
    if not has_system_permission(d, actor, "create_emojis"):
        raise forbidden("create_emojis")


def prepare_image(source: IO[bytes]) -> tuple[bytes, str]:
    """(bytes to store, mime type); raises AppError 400 on anything but a sane image. Runs in a thread."""
    raw = source.read(MAX_IMAGE_BYTES + 1)
    if len(raw) > MAX_IMAGE_BYTES:
        raise too_large()
    try:
        im = Image.open(io.BytesIO(raw), formats=list(FORMATS))
    except Exception:  # Pillow raises many kinds for what is not an image it reads
        raise invalid("api.emoji.upload.image.app_error", "Unable to create emoji. The file is not an image.") \
            from None
    with im:
        if im.width > MAX_SIDE or im.height > MAX_SIDE:
            raise invalid("api.emoji.upload.large_image.too_large.app_error",
                          f"Unable to create emoji. The image must be at most {MAX_SIDE}x{MAX_SIDE} pixels.")
        mime = FORMATS[im.format or "PNG"]
        if getattr(im, "is_animated", False) or (im.width <= DISPLAY_SIDE and im.height <= DISPLAY_SIDE):
            return raw, mime
        try:
            im.load()
            small = im.convert("RGBA")
            small.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS)
        except Exception:
            raise invalid("api.emoji.upload.image.app_error", "Unable to decode the emoji image.") from None
    out = io.BytesIO()
    small.save(out, "PNG")
    return out.getvalue(), "image/png"


async def do_create_emoji(d: Domain, actor: Actor, meta: Any, image: IO[bytes]) -> dict[str, Any]:
    require_can_create(d, actor)
    if not isinstance(meta, dict):
        raise invalid("api.emoji.create.parse.app_error", "Unable to create emoji. Could not understand request.")
    name = check_name(meta.get("name"))
    if meta.get("creator_id") not in (None, "", actor.user_id):
        raise forbidden("create_emojis")
    async with files.image_decoders(d):  # shares the gate with every other image decode
        data, _mime = await asyncio.to_thread(prepare_image, image)
    now = d.now()
    row: dict[str, Any] = {"id": new_id(), "create_at": now, "update_at": now, "delete_at": 0,
                           "creator_id": actor.user_id, "name": name}
    try:
        async with transaction(d) as tx:
            if await repo.select_by_names(tx.conn, [name]):
                raise _taken(name)
            await repo.insert_emoji(tx.conn, row)
            # The image is written before the commit: a crash leaves an orphan blob, never an emoji without one.
            await files.blobs(d).put_bytes(blob_key(row["id"]), data)
            tx.emit(Event("emoji_added", {"emoji": json.dumps(emoji_json(row))}))
    except IntegrityError:  # a concurrent create took the name first
        raise _taken(name) from None
    return emoji_json(row)


def _taken(name: str) -> AppError:
    return invalid("api.emoji.create.duplicate.app_error", f"Unable to create emoji. :{name}: already exists.")


async def get_emoji(d: Domain, emoji_id: str) -> dict[str, Any]:
    _disabled(d)
    async with d.db.read() as conn:
        row = await repo.select_emoji(conn, emoji_id) if is_valid_id(emoji_id) else None
    if row is None or row["delete_at"]:
        raise not_found()
    return emoji_json(row)


async def get_by_names(d: Domain, names: list[str]) -> list[dict[str, Any]]:
    _disabled(d)
    async with d.db.read() as conn:
        return [emoji_json(r) for r in await repo.select_by_names(conn, [n for n in names if NAME_RE.fullmatch(n)])]


async def list_emoji(d: Domain, *, page: int, per_page: int, sort: str) -> list[dict[str, Any]]:
    _disabled(d)
    async with d.db.read() as conn:
        rows = await repo.select_page(conn, offset=page * per_page, limit=per_page, by_name=sort == "name")
    return [emoji_json(r) for r in rows]


async def search_emoji(d: Domain, term: Any, *, prefix_only: bool, limit: int = 100) -> list[dict[str, Any]]:
    _disabled(d)
    if not isinstance(term, str) or not 0 < len(term) <= 64:
        raise invalid("api.emoji.search.term.app_error", "Search term must be 1 to 64 characters.")
    async with d.db.read() as conn:
        return [emoji_json(r) for r in await repo.search(conn, term.lower(), prefix_only=prefix_only, limit=limit)]


async def read_image(d: Domain, emoji_id: str) -> bytes:
    await get_emoji(d, emoji_id)
    return await files.blobs(d).read_bytes(blob_key(emoji_id))


async def do_delete_emoji(d: Domain, actor: Actor, emoji_id: str) -> dict[str, Any]:
    _disabled(d)
    async with transaction(d) as tx:
        row = await repo.select_emoji(tx.conn, emoji_id) if is_valid_id(emoji_id) else None
        if row is None or row["delete_at"]:
            raise not_found()
        # manage_system too: roles stored before delete_others_emojis existed do not list it.
        if row["creator_id"] != actor.user_id and not (has_system_permission(d, actor, "delete_others_emojis")
                                                       or has_system_permission(d, actor, "manage_system")):
            raise forbidden("delete_others_emojis")
        now = max(d.now(), row["update_at"] + 1)
        await repo.mark_deleted(tx.conn, emoji_id, now)
        tx.after_commit.append(lambda: asyncio.get_running_loop().create_task(
            files.blobs(d).delete(blob_key(emoji_id))))
    return emoji_json({**row, "delete_at": now, "update_at": now})
