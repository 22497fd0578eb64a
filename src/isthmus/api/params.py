"""Request parsing helpers that turn every malformed input into a 400 AppError."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from isthmus.core import strict_json
from isthmus.core.errors import AppError, invalid_param
from isthmus.core.ids import is_valid_id

DEFAULT_PER_PAGE = 60
MAX_PER_PAGE = 200
MAX_JSON_BODY = 1 << 20


def bad_body(name: str = "body", detail: str = "") -> AppError:
    return AppError("api.context.invalid_body_param.app_error",
                    f"Invalid or missing {name} in request body.", 400, detail)


async def json_body(request: Request, *, allow_empty: bool = False) -> Any:
    # The edge already refused bodies over ServiceSettings.MaximumPayloadSizeBytes on JSON routes; this
    # bound stays for routes that also take uploads.
    raw = await request.body()
    if len(raw) > MAX_JSON_BODY:
        raise AppError("api.context.request_body_too_large.app_error", "Request body too large.", 413)
    if not raw.strip():
        if allow_empty:
            return {}
        raise bad_body()
    try:
        return strict_json.loads(raw)
    except strict_json.UnsafeJSON as err:
        raise bad_body(detail=str(err)) from None


async def json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    body = await json_body(request, allow_empty=allow_empty)
    if not isinstance(body, dict):
        raise bad_body(detail="expected a JSON object")
    return body


async def json_string_list(request: Request, name: str = "ids", max_items: int = 1000) -> list[str]:
    body = await json_body(request)
    if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
        raise bad_body(name, "expected a JSON array of strings")
    if len(body) > max_items:
        raise bad_body(name, f"at most {max_items} items")
    return body


BIGINT_MAX = (1 << 63) - 1


def int_param(request: Request, name: str, default: int, *, minimum: int = 0,
              maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name) from None
    if value < minimum:
        raise invalid_param(name)
    # Everything numeric is stored as a 64-bit integer: a larger number means "as far as it goes", never a
    # database overflow (found by the schemathesis pass: since=5.7e22 answered 500).
    cap = min(maximum, BIGINT_MAX) if maximum is not None else BIGINT_MAX
    return min(value, cap)


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise invalid_param(name)


def paging(request: Request) -> tuple[int, int]:
    page = int_param(request, "page", 0, maximum=1_000_000)
    per_page = int_param(request, "per_page", DEFAULT_PER_PAGE, minimum=1, maximum=MAX_PER_PAGE)
    return page, per_page


def valid_id(value: str, name: str) -> str:
    if not is_valid_id(value):
        raise AppError("api.context.invalid_url_param.app_error",
                       f"Invalid or missing {name} in request URL.", 400)
    return value


def opt_str(body: dict[str, Any], key: str, max_len: int = 10_000) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise bad_body(key)
    return value


def req_str(body: dict[str, Any], key: str, max_len: int = 10_000) -> str:
    value = opt_str(body, key, max_len)
    if value is None:
        raise bad_body(key)
    return value


STATUS_OK: dict[str, str] = {"status": "OK"}
