"""Profile pictures (``GET/POST/DELETE /users/{user_id}/image``, ``GET /users/{user_id}/image/default``).

The upload is a multipart body whose ``image`` part holds the picture, at most ``FileSettings.MaxFileSize``
(``api/multipart.py`` bounds it; 413 as Mattermost does). The permission is checked before the body is read.
"""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.multipart import File
from starlette.responses import Response

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.multipart import read_parts
from isthmus.api.params import STATUS_OK, valid_id
from isthmus.core.errors import invalid
from isthmus.domain import user_images
from isthmus.domain.user_images import ProfileImage

router = APIRouter()


def _image_response(request: Request, image: ProfileImage) -> Response:
    headers = {"ETag": image.etag, "Cache-Control": f"max-age={image.max_age}, private"}
    if image.last_modified_ms > 0:
        headers["Last-Modified"] = formatdate(image.last_modified_ms / 1000, usegmt=True)
    if _not_modified(request, image):
        return Response(status_code=304, headers=headers)
    return Response(image.data, media_type="image/png", headers=headers)


def _not_modified(request: Request, image: ProfileImage) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        tags = {t.strip().removeprefix("W/").strip('"') for t in match.split(",")}
        return "*" in tags or image.etag in tags
    since = request.headers.get("if-modified-since")
    if since and image.last_modified_ms > 0:
        try:
            return image.last_modified_ms // 1000 <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError):
            return False
    return False


@router.get("/users/{user_id}/image")
async def get_profile_image(request: Request, user_id: str) -> Response:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return _image_response(request, await user_images.get_profile_image(domain_of(request), uid))


@router.get("/users/{user_id}/image/default")
async def get_default_profile_image(request: Request, user_id: str) -> Response:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return _image_response(request, await user_images.get_default_image(domain_of(request), uid))


async def _read_image_part(request: Request, limit: int) -> File:
    """The first ``image`` file part of a multipart body of at most ``limit`` (+ framing) bytes."""
    parts = await read_parts(request, limit, user_images.too_large, "api.user.upload_profile_user.parse.app_error")
    images = [p for p in parts.files if p.field_name == b"image"]
    for p in parts.files:
        if p is not (images[0] if images else None):
            p.close()
    if not images:
        raise invalid("api.user.upload_profile_user.no_file.app_error", "No file under 'image' in request.")
    if images[0].size > limit:
        images[0].close()
        raise user_images.too_large()
    return images[0]


@router.post("/users/{user_id}/image")
async def set_profile_image(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    d = domain_of(request)
    user_images.require_can_edit(d, actor, uid)  # before the body is read, as in Mattermost
    part = await _read_image_part(request, user_images.max_upload_size(d))
    try:
        source = part.file_object
        source.seek(0)
        await user_images.do_set_profile_image(d, actor, uid, source)
    finally:
        part.close()
    return STATUS_OK


@router.delete("/users/{user_id}/image")
async def set_default_profile_image(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await user_images.do_reset_profile_image(domain_of(request), actor, uid)
    return STATUS_OK
