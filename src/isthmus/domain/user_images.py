"""Profile pictures: ``GET/POST/DELETE /users/{id}/image`` and the generated default avatar.

As in Mattermost (``app/user.go``):

* An upload is decoded with Pillow (PNG/JPEG/GIF/BMP/WEBP/TIFF only, pixel count checked from the
  header before decoding), turned upright (EXIF), cropped to its centre square and scaled to
  128x128, then stored as PNG in the BlobStore under ``users/{id}/profile.png``.
  ``last_picture_update`` becomes the upload time; clients put it in the image URL (``?_=``) to
  bust caches, and it is the ETag/Last-Modified of the stored picture.
* Without an uploaded picture the server draws one: the user's initials on a colour chosen by an
  FNV-1a hash of the user id (Mattermost's palette), so the same user always gets the same colour.
  Resetting (DELETE) removes the blob and sets ``last_picture_update`` back to 0.
* Only the user or a holder of ``edit_other_users`` may change a picture; anyone signed in may read it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageDraw, ImageFont, ImageOps

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.domain import files
from isthmus.domain.changes import record_user_changed
from isthmus.domain.context import Domain, transaction
from isthmus.domain.file_images import IMAGE_FORMATS, MAX_IMAGE_PIXELS
from isthmus.domain.models import Actor, User
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import user_json
from isthmus.domain.users import get_user
from isthmus.store.repo import users as repo

SIZE = 128  # Mattermost's default FileSettings.ProfileWidth/ProfileHeight
CUSTOM_MAX_AGE = 24 * 60 * 60
DEFAULT_MAX_AGE = 5 * 60  # a default picture changes with the user's name, so keep it briefly
_CACHE_LIMIT = 512
# Mattermost's default-avatar palette (duplicates removed).
PALETTE = ((197, 8, 126), (227, 207, 18), (28, 181, 105), (35, 188, 224), (116, 49, 196), (197, 19, 19),
           (250, 134, 6), (123, 201, 71))


@dataclass(frozen=True)
class ProfileImage:
    data: bytes
    etag: str
    last_modified_ms: int  # 0 when the picture is generated (no meaningful modification time)
    max_age: int


def blob_key(user_id: str) -> str:
    return f"users/{user_id}/profile.png"


def max_upload_size(d: Domain) -> int:
    return files.max_file_size(d)


def too_large() -> AppError:
    return AppError("api.user.upload_profile_user.too_large.app_error",
                    "Unable to upload profile image. File is too large.", 413)


# --- pure image work (run in a worker thread) ------------------------------------------------------

def fnv1a_32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def initials_of(user: User) -> str:
    if user.first_name.strip() and user.last_name.strip():
        return (user.first_name.strip()[0] + user.last_name.strip()[0]).upper()
    return (user.username[:1] or "?").upper()


def render_default(user_id: str, initials: str) -> bytes:
    colour = PALETTE[fnv1a_32(user_id.encode()) % len(PALETTE)]
    im = Image.new("RGB", (SIZE, SIZE), colour)
    font = ImageFont.load_default(size=SIZE // 2 if len(initials) == 1 else SIZE * 2 // 5)
    ImageDraw.Draw(im).text((SIZE / 2, SIZE / 2), initials, fill=(255, 255, 255), font=font, anchor="mm")
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def adjust_upload(source: IO[bytes], max_pixels: int = MAX_IMAGE_PIXELS) -> bytes:
    """Decode, orient, centre-crop and scale to SIZE x SIZE; PNG bytes. Raises AppError 400 on bad input."""
    try:
        im = Image.open(source, formats=list(IMAGE_FORMATS))
    except Image.DecompressionBombError:  # Pillow's own guard (twice its 89 MP warning), past ours by default
        raise invalid("api.user.upload_profile_user.too_large.app_error",
                      "Unable to upload profile image. File is too large.") from None
    except Exception:  # not an image we accept: Pillow raises many kinds (UnidentifiedImageError, OSError …)
        raise invalid("api.user.upload_profile_user.decode_config.app_error",
                      "Unable to save profile image. File does not appear to be a valid image.") from None
    with im:
        if im.width * im.height > max_pixels:  # from the header: nothing decoded yet
            raise invalid("api.user.upload_profile_user.too_large.app_error",
                          "Unable to upload profile image. File is too large.",
                          f"{im.width}x{im.height} exceeds {max_pixels} pixels")
        try:
            im.load()
            upright = ImageOps.exif_transpose(im) or im
            square = ImageOps.fit(upright.convert("RGBA"), (SIZE, SIZE), Image.Resampling.LANCZOS)
        except Exception:  # truncated or corrupt pixel data
            raise invalid("api.user.upload_profile_user.decode.app_error",
                          "Unable to decode profile image.") from None
    out = io.BytesIO()
    square.save(out, "PNG")
    return out.getvalue()


# --- reads -----------------------------------------------------------------------------------------

async def default_image(d: Domain, user: User) -> ProfileImage:
    initials = initials_of(user)
    digest = hashlib.sha256(f"{user.id}:{initials}".encode()).hexdigest()[:16]
    cache: dict[str, bytes] = d.caches.setdefault("default_avatars", {})
    data = cache.get(digest)
    if data is None:
        data = await asyncio.to_thread(render_default, user.id, initials)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[digest] = data
    return ProfileImage(data, f"default-{digest}", 0, DEFAULT_MAX_AGE)


async def get_default_image(d: Domain, user_id: str) -> ProfileImage:
    return await default_image(d, await get_user(d, user_id))


async def get_profile_image(d: Domain, user_id: str) -> ProfileImage:
    """The uploaded picture if there is one, else the generated default."""
    user = await get_user(d, user_id)
    if user.last_picture_update > 0:
        try:
            data = await files.blobs(d).read_bytes(blob_key(user.id))
        except (FileNotFoundError, ValueError):
            data = b""  # blob lost (e.g. files directory replaced): fall back, as Mattermost does
        if data:
            return ProfileImage(data, str(user.last_picture_update), user.last_picture_update, CUSTOM_MAX_AGE)
    return await default_image(d, user)


# --- writes ----------------------------------------------------------------------------------------

def require_can_edit(d: Domain, actor: Actor, user_id: str) -> None:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")


def _updated_event(user: User) -> Event:
    # Mattermost broadcasts the sanitized user to everyone (clients refresh the avatar from it).
    return Event("user_updated", {"user": user_json(user, Actor(user_id="", roles=""))})


async def _set_picture_time(d: Domain, user_id: str, picture_time: int) -> User:
    async with transaction(d) as tx:
        await repo.update_user(tx.conn, user_id, {"last_picture_update": picture_time, "update_at": d.now()})
        row = await repo.select_user(tx.conn, user_id)
        assert row is not None
        user = User(**row)
        tx.emit(_updated_event(user))
        await record_user_changed(tx, user_id, None)
    return user


async def do_set_profile_image(d: Domain, actor: Actor, user_id: str, source: IO[bytes]) -> User:
    require_can_edit(d, actor, user_id)
    user = await get_user(d, user_id)
    async with files.image_decoders(d):  # decoding is CPU and memory heavy; bound how many run at once
        png = await asyncio.to_thread(adjust_upload, source, files.max_image_pixels(d))
    await files.blobs(d).put_bytes(blob_key(user.id), png)
    # Strictly increasing, so the ETag and the clients' ``?_=`` cache key change on every upload.
    return await _set_picture_time(d, user.id, max(d.now(), user.last_picture_update + 1))


async def do_reset_profile_image(d: Domain, actor: Actor, user_id: str) -> User:
    require_can_edit(d, actor, user_id)
    user = await get_user(d, user_id)
    await files.blobs(d).delete(blob_key(user.id))
    return await _set_picture_time(d, user.id, 0)
