"""Bounded multipart bodies for small uploads (profile pictures, custom emoji).

The permission is checked by the caller before the body is read; a declared Content-Length over the
limit is refused at once and a streamed body is cut off as soon as it crosses the limit (413); parts
past 1 MiB spill to temporary files instead of memory; what the client still sends after a refusal is
drained so it sees our error instead of a reset.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser, parse_options_header
from starlette.requests import ClientDisconnect

from isthmus.core.errors import AppError, invalid

FRAMING_ALLOWANCE = 16 * 1024  # multipart boundaries, part headers and small text fields
DRAIN_LIMIT = 16 * 1024 * 1024


@dataclass
class Parts:
    fields: dict[str, bytes] = field(default_factory=dict)
    files: list[File] = field(default_factory=list)

    def file(self, name: str) -> File | None:
        return next((f for f in self.files if f.field_name == name.encode()), None)

    def close(self) -> None:
        for part in self.files:
            part.close()


async def drain(chunks: AsyncIterator[bytes]) -> None:
    # Always the request's one stream iterator: asking Starlette for a second one fails once the last
    # message has arrived.
    seen = 0
    try:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > DRAIN_LIMIT:
                return
    except ClientDisconnect:
        return


async def read_parts(request: Request, limit: int, too_large: Callable[[], AppError], parse_error_id: str) -> Parts:
    """Every part of a multipart body of at most ``limit`` (+ framing) bytes; the caller closes them."""
    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not opts.get(b"boundary"):
        raise invalid(parse_error_id, "Could not parse multipart form.", "expected multipart/form-data with a boundary")
    chunks = request.stream()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FRAMING_ALLOWANCE:
        await drain(chunks)
        raise too_large()
    parts = Parts()

    def on_field(f: Field) -> None:
        if f.field_name is not None and len(parts.fields) < 64:
            parts.fields[f.field_name.decode("utf-8", "replace")] = f.value or b""

    parser = FormParser("multipart/form-data", on_field, parts.files.append, boundary=opts[b"boundary"],
                        config={"MAX_MEMORY_FILE_SIZE": 1 << 20, "MAX_FIELDS": 64, "MAX_FIELD_SIZE": 64 * 1024})
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > limit + FRAMING_ALLOWANCE:
                await drain(chunks)
                raise too_large()
            parser.write(chunk)
        parser.finalize()
    except FormParserError as err:  # every multipart parse error derives from it
        parts.close()
        raise invalid(parse_error_id, "Could not parse multipart form.", str(err)[:200]) from None
    except BaseException:
        parts.close()
        raise
    return parts
