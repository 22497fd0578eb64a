"""Files (``mattermost-rest.md`` §3.6): upload, info, download, thumbnail/preview, public links.

Uploads are parsed as a stream: each multipart file part goes straight to a size-capped staging
file, so an oversize body costs at most one chunk of memory and is refused with 413 as soon as it
crosses ``FileSettings.MaxFileSize`` (the whole request is capped there too, as in Mattermost,
plus a little room for multipart framing). The channel permission is checked when the first file
part starts, before its bytes are kept. After a refusal the rest of the body is read and thrown
away (up to a bound) so ordinary clients see the JSON error instead of a reset connection.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.responses import JSONResponse, Response, StreamingResponse

from isthmus.api.auth import domain_of, require_actor
from isthmus.api.multipart import drain
from isthmus.api.params import bool_param, valid_id
from isthmus.core.errors import AppError, invalid, invalid_param
from isthmus.domain import files
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor, Channel
from isthmus.domain.shapes import file_info_json
from isthmus.store.blobs import StagedUpload

router = APIRouter()

FRAMING_ALLOWANCE = 64 * 1024
MAX_FIELD_BYTES = 4096
MAX_FIELDS = 64
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "application/pdf"})


def _malformed(detail: str) -> AppError:
    return invalid("api.file.upload_file.malformed.app_error", "Unable to upload file(s). Malformed request body.",
                   detail)


class _MultipartReader:
    """python-multipart callbacks: fields into memory (small), file parts into StagedUploads."""

    def __init__(self, d: Domain) -> None:
        self.d = d
        self.fields: dict[str, list[str]] = {}
        self.staged: list[StagedUpload] = []
        self.done = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._hname = bytearray()
        self._hvalue = bytearray()
        self._field: tuple[str, bytearray] | None = None
        self._file: StagedUpload | None = None
        self._nfields = 0

    def on_part_begin(self) -> None:
        self._headers, self._field, self._file = [], None, None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers.append((bytes(self._hname).lower(), bytes(self._hvalue)))
        self._hname, self._hvalue = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        disposition = next((v for k, v in self._headers if k == b"content-disposition"), b"")
        _, opts = parse_options_header(disposition)
        if b"name" not in opts and b"filename" not in opts:
            raise _malformed("a part has no Content-Disposition name")
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts:
            if len(self.staged) >= files.MAX_FILES_PER_UPLOAD:
                raise invalid("api.file.upload_file.too_many_files.app_error",
                              f"At most {files.MAX_FILES_PER_UPLOAD} files can be uploaded at once.")
            self._file = files.new_staged_upload(self.d, opts[b"filename"].decode("utf-8", "replace"))
            self.staged.append(self._file)
        else:
            self._nfields += 1
            if self._nfields > MAX_FIELDS:
                raise _malformed("too many form fields")
            self._field = (name, bytearray())

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
        elif self._field is not None:
            self._field[1].extend(data[start:end])
            if len(self._field[1]) > MAX_FIELD_BYTES:
                raise invalid_param(self._field[0], "form field too long")

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.close()
        elif self._field is not None:
            try:
                value = self._field[1].decode("utf-8")
            except UnicodeDecodeError:
                raise invalid_param(self._field[0], "form field is not UTF-8") from None
            self.fields.setdefault(self._field[0], []).append(value)
        self._field, self._file = None, None

    def on_end(self) -> None:
        self.done = True

    def callbacks(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
            "on_header_end", "on_headers_finished", "on_end")}

    def channel_id(self, query_value: str) -> str:
        values = set(self.fields.get("channel_id", [])) | ({query_value} if query_value else set())
        if len(values) != 1:
            raise invalid("api.file.upload_file.channel_id.app_error",
                          "Unable to upload file(s). Send exactly one channel_id, before the files.")
        return values.pop()


async def _read_multipart(request: Request, d: Domain, actor: Actor, body_limit: int
                          ) -> tuple[Channel, list[StagedUpload], list[str]]:
    _, opts = parse_options_header(request.headers.get("content-type", ""))
    boundary = opts.get(b"boundary")
    if not boundary:
        raise _malformed("multipart body without boundary")
    reader = _MultipartReader(d)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    channel: Channel | None = None
    chunks = request.stream().__aiter__()
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > body_limit:
                raise files.too_large(d, total)
            try:
                parser.write(chunk)
            except OverflowError:
                raise files.too_large(d) from None
            if reader.staged and channel is None:
                channel = await files.check_upload(d, actor, valid_id(
                    reader.channel_id(request.query_params.get("channel_id", "")), "channel_id"))
        if not reader.done:
            raise _malformed("the body ended before the closing boundary")
        if channel is None:
            channel = await files.check_upload(d, actor, valid_id(
                reader.channel_id(request.query_params.get("channel_id", "")), "channel_id"))
    except (AppError, ValueError) as err:
        for s in reader.staged:
            s.discard()
        await drain(chunks)
        if isinstance(err, AppError):
            raise
        raise _malformed(str(err)) from None  # python-multipart's MultipartParseError is a ValueError
    client_ids = reader.fields.get("client_ids", [])
    if client_ids and len(client_ids) != len(reader.staged):
        for s in reader.staged:
            s.discard()
        raise invalid_param("client_ids", "one client_id per file")
    return channel, reader.staged, client_ids


async def _read_raw(request: Request, d: Domain, actor: Actor) -> tuple[Channel, list[StagedUpload]]:
    q = request.query_params
    filename = q.get("filename", "")
    if not filename:
        raise invalid_param("filename")
    channel = await files.check_upload(d, actor, valid_id(q.get("channel_id", ""), "channel_id"))
    staged = files.new_staged_upload(d, filename)
    chunks = request.stream().__aiter__()
    try:
        async for chunk in chunks:
            staged.write(chunk)
    except OverflowError:
        staged.discard()
        await drain(chunks)
        raise files.too_large(d) from None
    except BaseException:
        staged.discard()
        raise
    return channel, [staged]


@router.post("/files", status_code=201)
async def upload_files(request: Request) -> JSONResponse:
    actor = await require_actor(request)
    d = domain_of(request)
    body_limit = files.max_file_size(d) + FRAMING_ALLOWANCE
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > body_limit:
        await drain(request.stream())
        raise files.too_large(d, int(length))
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        channel, staged, client_ids = await _read_multipart(request, d, actor, body_limit)
    else:
        (channel, staged), client_ids = await _read_raw(request, d, actor), []
    infos = await files.do_upload_files(d, actor, channel, staged)
    return JSONResponse({"file_infos": [file_info_json(i) for i in infos], "client_ids": client_ids},
                        status_code=201)


def _disposition(kind: str, name: str) -> str:
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _send(request: Request, dl: files.Download, which: str) -> Response:
    inline = which != "file" or (dl.content_type in INLINE_TYPES and not bool_param(request, "download"))
    name = dl.info.name if which == "file" else f"{dl.info.name.rsplit('.', 1)[0]}_{which}.jpg"
    headers = {
        "Content-Disposition": _disposition("inline" if inline else "attachment", name),
        "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
        "Content-Security-Policy": "Frame-ancestors 'none'", "Cache-Control": "max-age=2592000, private",
    }
    if which == "file":
        headers["Content-Length"] = str(dl.info.size)
    if request.method == "HEAD":
        return Response(status_code=200, media_type=dl.content_type, headers=headers)
    return StreamingResponse(dl.chunks, media_type=dl.content_type, headers=headers)


@router.api_route("/files/{file_id}", methods=["GET", "HEAD"])
async def get_file(request: Request, file_id: str) -> Response:
    actor = await require_actor(request)
    return _send(request, await files.open_file(domain_of(request), actor, file_id, "file"), "file")


@router.api_route("/files/{file_id}/thumbnail", methods=["GET", "HEAD"])
async def get_thumbnail(request: Request, file_id: str) -> Response:
    actor = await require_actor(request)
    return _send(request, await files.open_file(domain_of(request), actor, file_id, "thumbnail"), "thumbnail")


@router.api_route("/files/{file_id}/preview", methods=["GET", "HEAD"])
async def get_preview(request: Request, file_id: str) -> Response:
    actor = await require_actor(request)
    return _send(request, await files.open_file(domain_of(request), actor, file_id, "preview"), "preview")


@router.get("/files/{file_id}/info")
async def get_file_info(request: Request, file_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return file_info_json(await files.get_file_info(domain_of(request), actor, file_id))


@router.get("/files/{file_id}/link")
async def get_file_link(request: Request, file_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    return {"link": await files.get_public_link(domain_of(request), actor, file_id)}


@router.get("/files/{file_id}/public")
async def get_public_file(request: Request, file_id: str) -> Response:
    """No session: the HMAC in ``h`` is the credential (only while EnablePublicLink is on)."""
    dl = await files.open_public_file(domain_of(request), file_id, request.query_params.get("h", ""))
    return _send(request, dl, "file")


@router.get("/posts/{post_id}/files/info")
async def get_file_infos_for_post(request: Request, post_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    infos = await files.list_for_post(domain_of(request), actor, post_id,
                                      include_deleted=bool_param(request, "include_deleted"))
    return [file_info_json(i) for i in infos]
