"""Files: upload, read access, public links, and attaching files to posts.

Upload is two-phase. The api layer streams each part of the request into a ``StagedUpload`` (local
disk, size-capped at ``FileSettings.MaxFileSize``, sha256 while streaming); ``do_upload_files``
then validates names, analyses images, moves the bytes into the BlobStore and inserts FileInfo rows
in one transaction (blobs already written are removed again if anything fails).

Decisions worth knowing:

* Images are recognised by *content* (Pillow, restricted to PNG/JPEG/GIF/BMP/WEBP/TIFF), not by
  name. A file whose name says image (``.png``, ``.jpg`` …) but whose bytes are not a decodable
  image is refused with 400 ``api.file.upload_file.image_decode.app_error``: storing it would hand
  clients an "image" that every viewer fails on, and Mattermost also refuses undecodable images.
  Images over 7680x4320 pixels are refused (Mattermost's default MaxImageResolution).
* Thumbnails fit inside 120x100, previews are at most 1920 wide (never enlarged), both JPEG with
  transparency flattened onto white; ``mini_preview`` is a 16x16 JPEG, as Mattermost sends.
* File names are reduced to their last path component, control/format characters removed
  (including bidi overrides that disguise extensions) and cut to 256 characters keeping the
  extension. Blob keys never contain client text.
* An unattached file is readable only by its uploader; once attached, by whoever can read the
  channel (Mattermost's rule).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import mimetypes
import os
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.clock import now_ms
from isthmus.core.errors import AppError, forbidden, invalid, not_implemented
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import access_channel, can_read_channel, channel_permissions, get_channel_row
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.file_images import Images, NotImage, TooManyPixels, analyze_image
from isthmus.domain.models import Actor, Channel, FileInfo
from isthmus.domain.roles import has_system_permission
from isthmus.store.blobs import BlobStore, StagedUpload, blob_store_for
from isthmus.store.repo import files as repo

MAX_NAME = 256
MAX_FILES_PER_UPLOAD = 10
MAX_FILES_PER_POST = 10
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "jfif", "gif", "bmp", "webp", "tif", "tiff"})
_SALT_KEY = "FilePublicLinkSalt"


# --- blob store and staging ------------------------------------------------------------------------

def blobs(d: Domain) -> BlobStore:
    """The store for the *current* FileSettings (rebuilt if an admin changes the directory)."""
    fs = d.config.FileSettings
    key = (fs.DriverName, fs.Directory)
    cached: tuple[tuple[str, str], BlobStore] | None = d.caches.get("blobs")
    if cached is None or cached[0] != key:
        cached = (key, blob_store_for(fs.DriverName, fs.Directory))
        d.caches["blobs"] = cached
    return cached[1]


def max_file_size(d: Domain) -> int:
    return int(d.config.FileSettings.MaxFileSize)


def max_image_pixels(d: Domain) -> int:
    return d.config.FileSettings.MaxImageResolution


def image_decoders(d: Domain) -> asyncio.Semaphore:
    """One gate for every image decode (uploads, profile pictures, emoji, files from connected workspaces):
    each can take ~0.5 GB, so FileSettings.MaxImageDecoderConcurrency bounds them together (-1: one per CPU)."""
    n = d.config.FileSettings.MaxImageDecoderConcurrency
    n = n if n > 0 else (os.cpu_count() or 1)
    held: tuple[int, asyncio.Semaphore] | None = d.caches.get("image_decoders")
    if held is None or held[0] != n:  # a config change takes effect for the decodes that start after it
        held = (n, asyncio.Semaphore(n))
        d.caches["image_decoders"] = held
    return held[1]


def new_staged_upload(d: Domain, filename: str) -> StagedUpload:
    return StagedUpload(blobs(d).staging_dir(), filename, max_file_size(d))


def too_large(d: Domain, length: int | None = None) -> AppError:
    limit = max_file_size(d)
    detail = f"Length={length} Limit={limit}" if length is not None else f"Limit={limit}"
    return AppError("api.file.upload_file.too_large_detailed.app_error",
                    f"Unable to upload file. File is larger than the maximum of {limit} bytes.", 413, detail)


# --- names and image checks -------------------------------------------------------------------------------

def sanitize_name(raw: str) -> str:
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", ".."):
        raise invalid("api.file.upload_file.bad_filename.app_error",
                      "Unable to upload file. The file name is empty or not allowed.", f"name={raw!r}")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        keep = f".{ext}" if dot and stem and len(ext) <= 16 else ""
        name = name[:MAX_NAME - len(keep)] + keep
    return name


def extension_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower()[:64] if dot and stem else ""


async def _images_for(d: Domain, staged: StagedUpload, name: str, ext: str) -> Images | None:
    limit = max_image_pixels(d)
    async with image_decoders(d):  # decoding is CPU and memory heavy; bound how many run at once
        try:
            return await asyncio.to_thread(analyze_image, staged.path, limit)
        except TooManyPixels:
            raise invalid("api.file.upload_file.large_image_detailed.app_error",
                          f"{name} dimensions exceed the maximum of {limit} pixels.") from None
        except NotImage:
            if ext in IMAGE_EXTENSIONS:
                raise invalid("api.file.upload_file.image_decode.app_error",
                              f"Unable to upload {name}: the file has an image extension but is not a "
                              "valid image.") from None
            return None


# --- upload ------------------------------------------------------------------------------------------

async def check_upload(d: Domain, actor: Actor, channel_id: str) -> Channel:
    """Before any bytes are stored: attachments enabled, channel live and ``upload_file`` held there."""
    if not d.config.FileSettings.EnableFileAttachments:
        raise not_implemented("api.file.attachments.disabled.app_error",
                              "File attachments have been disabled on this server.")
    async with d.db.read() as conn:
        channel = await access_channel(d, conn, actor, channel_id, "upload_file")
    if channel.delete_at:
        raise invalid("api.file.upload_file.archived_channel.app_error",
                      "Unable to upload files to an archived channel.")
    return channel


def _blob_dir(d: Domain, channel: Channel, user_id: str, file_id: str) -> str:
    day = datetime.fromtimestamp(d.now() / 1000, tz=UTC)
    return (f"{day:%Y%m%d}/teams/{channel.team_id or 'noteam'}/channels/{channel.id}/users/{user_id}/"
            f"{file_id}")


async def do_upload_files(d: Domain, actor: Actor, channel: Channel, staged: list[StagedUpload]) -> list[FileInfo]:
    """Store staged uploads as files of ``channel``. Consumes (deletes) every staged file."""
    store = blobs(d)
    written: list[str] = []
    try:
        if not staged:
            raise invalid("api.file.upload_file.no_files.app_error", "Unable to upload file(s). No files sent.")
        if len(staged) > MAX_FILES_PER_UPLOAD:
            raise invalid("api.file.upload_file.too_many_files.app_error",
                          f"At most {MAX_FILES_PER_UPLOAD} files can be uploaded at once.")
        names = [sanitize_name(s.filename) for s in staged]
        for s, name in zip(staged, names, strict=True):
            if s.size == 0:
                raise invalid("api.file.upload_file.zero_size.app_error",
                              f"Unable to upload {name}: the file is empty.")
        rows: list[dict[str, Any]] = []
        for s, name in zip(staged, names, strict=True):
            s.close()
            ext = extension_of(name)
            images = await _images_for(d, s, name, ext)
            file_id, now = new_id(), d.now()
            base = _blob_dir(d, channel, actor.user_id, file_id)
            row: dict[str, Any] = {
                "id": file_id, "creator_id": actor.user_id, "post_id": "", "channel_id": channel.id,
                "create_at": now, "update_at": now, "delete_at": 0, "name": name, "extension": ext,
                "size": s.size, "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "width": 0, "height": 0, "has_preview_image": False, "mini_preview": None,
                "path": f"{base}/data", "thumbnail_path": "", "preview_path": "", "content_hash": s.sha256,
                "remote_id": None,
            }
            await store.put_file(row["path"], s.path)
            written.append(row["path"])
            if images is not None:
                row.update(mime_type=images.mime_type, width=images.width, height=images.height,
                           has_preview_image=True, mini_preview=images.mini,
                           thumbnail_path=f"{base}/thumb.jpg", preview_path=f"{base}/preview.jpg")
                for key, data in ((row["thumbnail_path"], images.thumbnail), (row["preview_path"], images.preview)):
                    await store.put_bytes(key, data)
                    written.append(key)
            rows.append(row)
        async with transaction(d) as tx:
            await repo.insert_file_infos(tx.conn, rows)
    except BaseException:
        for key in written:
            await asyncio.shield(store.delete(key))
        raise
    finally:
        for s in staged:
            s.discard()
    return [FileInfo(**r) for r in rows]


# --- reads ---------------------------------------------------------------------------------------------

def _bad_file_id() -> AppError:
    return AppError("api.context.invalid_url_param.app_error", "Invalid or missing file_id in request URL.", 400)


def _file_not_found(file_id: str) -> AppError:
    return AppError("app.file_info.get.app_error", "Unable to get the file info.", 404, f"id={file_id}")


async def _load_readable(d: Domain, conn: AsyncConnection, actor: Actor, file_id: str) -> tuple[FileInfo, Channel]:
    if not is_valid_id(file_id):
        raise _bad_file_id()
    row = await repo.select_file_info(conn, file_id)
    if row is None or row["delete_at"]:
        raise _file_not_found(file_id)
    info = FileInfo(**row)
    channel = await get_channel_row(conn, info.channel_id)
    if info.creator_id == actor.user_id:
        return info, channel
    if not info.post_id or not await can_read_channel(d, conn, actor, channel):
        raise forbidden("read_channel")
    return info, channel


async def get_file_info(d: Domain, actor: Actor, file_id: str) -> FileInfo:
    async with d.db.read() as conn:
        info, _ = await _load_readable(d, conn, actor, file_id)
    return info


@dataclass
class Download:
    info: FileInfo
    content_type: str
    chunks: AsyncIterator[bytes]


def _download(d: Domain, info: FileInfo, which: str) -> Download:
    if which == "file":
        return Download(info, info.mime_type or "application/octet-stream", blobs(d).read_chunks(info.path))
    key = info.thumbnail_path if which == "thumbnail" else info.preview_path
    if not info.has_preview_image or not key:
        raise invalid(f"api.file.get_file_{which}.no_{which}.app_error",
                      f"File doesn't have a {which} image.")
    return Download(info, "image/jpeg", blobs(d).read_chunks(key))


async def open_file(d: Domain, actor: Actor, file_id: str, which: str = "file") -> Download:
    """``which`` is "file", "thumbnail" or "preview"."""
    return _download(d, await get_file_info(d, actor, file_id), which)


async def list_for_post(d: Domain, actor: Actor, post_id: str, *, include_deleted: bool = False) -> list[FileInfo]:
    if not is_valid_id(post_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing post_id in request URL.", 400)
    if include_deleted and not has_system_permission(d, actor, "manage_system"):
        raise forbidden("manage_system")
    async with d.db.read() as conn:
        post = await repo.select_post_brief(conn, post_id)
        if post is None or (post["delete_at"] and not include_deleted):
            raise AppError("app.post.get.app_error", "Unable to get the post.", 404, f"id={post_id}")
        await access_channel(d, conn, actor, post["channel_id"])
        rows = await repo.select_file_infos_for_posts(conn, [post_id], include_deleted=include_deleted)
    return [FileInfo(**r) for r in rows]


# --- public links --------------------------------------------------------------------------------------

async def _link_salt(d: Domain) -> bytes:
    cached: bytes | None = d.caches.get(_SALT_KEY)
    if cached is None:
        async with transaction(d) as tx:
            value = await repo.select_system_value(tx.conn, _SALT_KEY)
            if value is None:
                value = secrets.token_urlsafe(32)
                await repo.insert_system_value(tx.conn, _SALT_KEY, value)
        cached = value.encode()
        d.caches[_SALT_KEY] = cached
    return cached


def _link_hash(salt: bytes, file_id: str) -> str:
    digest = hmac.new(salt, file_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _public_links_disabled() -> AppError:
    return not_implemented("api.file.get_public_link.disabled.app_error", "Public links have been disabled.")


async def get_public_link(d: Domain, actor: Actor, file_id: str) -> str:
    if not d.config.FileSettings.EnablePublicLink:
        raise _public_links_disabled()
    async with d.db.read() as conn:
        info, channel = await _load_readable(d, conn, actor, file_id)
        if "get_public_link" not in await channel_permissions(d, conn, actor, channel):
            raise forbidden("get_public_link")
    if not info.post_id:
        raise invalid("api.file.get_public_link.no_post.app_error",
                      "Unable to get public link for file. File must be attached to a post that can be read.")
    site = d.config.ServiceSettings.SiteURL
    return f"{site}/api/v4/files/{info.id}/public?h={_link_hash(await _link_salt(d), info.id)}"


async def open_public_file(d: Domain, file_id: str, h: str) -> Download:
    if not d.config.FileSettings.EnablePublicLink:
        raise _public_links_disabled()
    if not is_valid_id(file_id):
        raise _bad_file_id()
    expected = _link_hash(await _link_salt(d), file_id)
    if not hmac.compare_digest(expected.encode(), h.encode()):
        raise invalid("api.file.get_file.public_invalid.app_error", "The public link does not appear to be valid.")
    async with d.db.read() as conn:
        row = await repo.select_file_info(conn, file_id)
    if row is None or row["delete_at"] or not row["post_id"]:
        raise _file_not_found(file_id)
    return _download(d, FileInfo(**row), "file")


# --- posts integration -----------------------------------------------------------------------------

def _attach_error(what: str, message: str, file_id: str) -> AppError:
    return invalid(f"api.post.attach_files.{what}.app_error", message, f"file_id={file_id}")


async def attach_to_post(tx: Tx, post_id: str, channel_id: str, user_id: str, file_ids: list[str]) -> list[FileInfo]:
    """Attach uploaded files to a new (or edited) post inside the caller's transaction.

    Refuses unknown or deleted files, files of another channel, files uploaded by someone else
    and files already attached to a different post (400 each, naming the file). Files already on
    this post are accepted unchanged. Returns the infos in ``file_ids`` order.
    """
    ids = list(dict.fromkeys(file_ids))
    if not ids:
        return []
    if len(ids) > MAX_FILES_PER_POST:
        raise invalid("model.post.is_valid.file_ids.app_error", f"A post can have at most {MAX_FILES_PER_POST} files.")
    rows = {r["id"]: r for r in await repo.select_file_infos_by_ids(tx.conn, ids, for_update=True)}
    for fid in ids:
        row = rows.get(fid)
        if row is None or row["delete_at"]:
            raise _attach_error("not_found", f"File {fid} does not exist.", fid)
        if row["channel_id"] != channel_id:
            raise _attach_error("wrong_channel", f"File {fid} was uploaded to a different channel.", fid)
        if row["creator_id"] != user_id:
            raise _attach_error("wrong_user", f"File {fid} was uploaded by another user.", fid)
        if row["post_id"] and row["post_id"] != post_id:
            raise _attach_error("already_attached", f"File {fid} is already attached to another post.", fid)
    fresh = [fid for fid in ids if not rows[fid]["post_id"]]
    now = now_ms()
    if fresh and await repo.attach_file_infos(tx.conn, fresh, post_id, now) != len(fresh):
        raise _attach_error("already_attached", "A file was attached to another post at the same time.", fresh[0])
    for fid in fresh:
        rows[fid].update(post_id=post_id, update_at=now)
    return [FileInfo(**rows[fid]) for fid in ids]


async def infos_for_posts(conn: AsyncConnection, post_ids: list[str]) -> dict[str, list[FileInfo]]:
    """Live files of many posts with one query (for ``metadata.files``); posts without files are absent."""
    out: dict[str, list[FileInfo]] = defaultdict(list)
    for row in await repo.select_file_infos_for_posts(conn, list(dict.fromkeys(post_ids))):
        out[row["post_id"]].append(FileInfo(**row))
    return dict(out)


async def delete_for_post(tx: Tx, post_id: str, now: int) -> int:
    """Soft-delete a deleted post's files so they can no longer be downloaded."""
    return await repo.delete_file_infos_for_post(tx.conn, post_id, now)


async def delete_for_posts(tx: Tx, post_ids: list[str], now: int) -> int:
    """``delete_for_post`` for many posts in one statement (the replies deleted with their root)."""
    return await repo.delete_file_infos(tx.conn, post_ids, now)


async def delete_from_post(tx: Tx, post_id: str, file_ids: list[str], now: int) -> int:
    """Soft-delete the files an edit removed from ``post_id`` (Mattermost's DeleteForPostByIds)."""
    return await repo.delete_file_infos(tx.conn, [post_id], now, file_ids)
