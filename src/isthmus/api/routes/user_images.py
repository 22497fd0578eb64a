"""Profile pictures (``GET/POST/DELETE /users/{user_id}/image``, ``GET /users/{user_id}/image/default``).

The upload is a multipart body whose ``image`` part holds the picture. The permission is checked
before the body is read, a declared Content-Length over ``FileSettings.MaxFileSize`` is refused at
once (413, as Mattermost does) and a streamed body is cut off as soon as it crosses the limit;
parts past 1 MiB spill to temporary files instead of memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import File, FormParser, parse_options_header
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, valid_id
from isthmus.core.errors import AppError, invalid
from isthmus.domain import user_images
from isthmus.domain.user_images import ProfileImage

router = APIRouter()

FRAMING_ALLOWANCE = 16 * 1024  # multipart boundaries and part headers around the one image
DRAIN_LIMIT = 16 * 1024 * 1024


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


def _parse_error(detail: str) -> AppError:
    return invalid("api.user.upload_profile_user.parse.app_error", "Could not parse multipart form.", detail)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    # Read (and drop) what the client is still sending so it sees our error instead of a reset.
    # Always the request's one stream iterator: asking Starlette for a second one fails once the
    # last message has arrived.
    seen = 0
    try:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > DRAIN_LIMIT:
                return
    except ClientDisconnect:
        return


async def _read_image_part(request: Request, limit: int) -> File:
    """The first ``image`` file part of a multipart body of at most ``limit`` (+ framing) bytes."""
    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not opts.get(b"boundary"):
        raise _parse_error("expected multipart/form-data with a boundary")
    chunks = request.stream()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FRAMING_ALLOWANCE:
        await _drain(chunks)
        raise user_images.too_large()
    parts: list[File] = []
    parser = FormParser("multipart/form-data", None, parts.append, boundary=opts[b"boundary"],
                        config={"MAX_MEMORY_FILE_SIZE": 1 << 20, "MAX_FIELDS": 64, "MAX_FIELD_SIZE": 4096})
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > limit + FRAMING_ALLOWANCE:
                await _drain(chunks)
                raise user_images.too_large()
            parser.write(chunk)
        parser.finalize()
    except FormParserError as err:  # every multipart parse error derives from it
        _close(parts)
        raise _parse_error(str(err)[:200]) from None
    except BaseException:
        _close(parts)
        raise
    images = [p for p in parts if p.field_name == b"image"]
    _close([p for p in parts if p.field_name != b"image"] + images[1:])
    if not images:
        raise invalid("api.user.upload_profile_user.no_file.app_error", "No file under 'image' in request.")
    if images[0].size > limit:
        _close(images)
        raise user_images.too_large()
    return images[0]


def _close(parts: list[File]) -> None:
    for part in parts:
        part.close()


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
