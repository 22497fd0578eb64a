"""Custom emoji (``/emoji``): wrappers over ``domain.emoji``; the upload is multipart (``image`` + ``emoji``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from isthmus.api.auth import domain_of, require_actor
from isthmus.api.multipart import read_parts
from isthmus.api.params import STATUS_OK, int_param, json_body, json_object, paging
from isthmus.core.errors import invalid
from isthmus.domain import emoji

router = APIRouter()


@router.post("/emoji")
async def create_emoji(request: Request) -> JSONResponse:
    actor = await require_actor(request)
    d = domain_of(request)
    emoji.require_can_create(d, actor)  # before the body is read
    parts = await read_parts(request, emoji.MAX_IMAGE_BYTES, emoji.too_large, "api.emoji.create.parse.app_error")
    try:
        image = parts.file("image")
        if image is None:
            raise invalid("api.emoji.create.no_file.app_error", "Unable to create emoji. No file under 'image'.")
        try:
            meta = json.loads(parts.fields.get("emoji", b"").decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise invalid("api.emoji.create.parse.app_error",
                          'Unable to create emoji. The "emoji" field must be JSON like {"name": "party"}.') from None
        source = image.file_object
        source.seek(0)
        made = await emoji.do_create_emoji(d, actor, meta, source)
    finally:
        parts.close()
    return JSONResponse(made, status_code=201)


@router.get("/emoji")
async def list_emoji(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    page, per_page = paging(request)
    return await emoji.list_emoji(domain_of(request), page=page, per_page=per_page,
                                  sort=request.query_params.get("sort", ""))


@router.post("/emoji/names")
async def emoji_by_names(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    names = await json_body(request)
    if not isinstance(names, list) or len(names) > 200 or not all(isinstance(n, str) for n in names):
        raise invalid("api.emoji.get_multiple_by_name.too_many_names.app_error",
                      "Send a JSON list of at most 200 emoji names.")
    return await emoji.get_by_names(domain_of(request), names)


@router.post("/emoji/search")
async def search_emoji(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    body = await json_object(request)
    return await emoji.search_emoji(domain_of(request), body.get("term"), prefix_only=body.get("prefix_only") is True)


@router.get("/emoji/autocomplete")
async def autocomplete_emoji(request: Request) -> list[dict[str, Any]]:
    await require_actor(request)
    return await emoji.search_emoji(domain_of(request), request.query_params.get("name", ""), prefix_only=True,
                                    limit=int_param(request, "limit", 100, minimum=1, maximum=100))


@router.get("/emoji/name/{name}")
async def emoji_by_name(request: Request, name: str) -> dict[str, Any]:
    await require_actor(request)
    found = await emoji.get_by_names(domain_of(request), [emoji.check_name(name)])
    if not found:
        raise emoji.not_found()
    return found[0]


@router.get("/emoji/{emoji_id}")
async def get_emoji(request: Request, emoji_id: str) -> dict[str, Any]:
    await require_actor(request)
    return await emoji.get_emoji(domain_of(request), emoji_id)


@router.get("/emoji/{emoji_id}/image")
async def get_emoji_image(request: Request, emoji_id: str) -> Response:
    await require_actor(request)
    data = await emoji.read_image(domain_of(request), emoji_id)
    kind = "image/gif" if data[:4] == b"GIF8" else "image/jpeg" if data[:2] == b"\xff\xd8" else \
        "image/webp" if data[8:12] == b"WEBP" else "image/png"
    return Response(data, media_type=kind, headers={"Cache-Control": "max-age=2592000, private",
                                                    "X-Content-Type-Options": "nosniff"})


@router.delete("/emoji/{emoji_id}")
async def delete_emoji(request: Request, emoji_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    await emoji.do_delete_emoji(domain_of(request), actor, emoji_id)
    return STATUS_OK
