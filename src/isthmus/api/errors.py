"""Every failure leaves as Mattermost's AppError JSON with exactly ``Content-Type: application/json``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from isthmus.core.errors import AppError, with_actor
from isthmus.core.ids import new_id
from isthmus.store.failures import DB_UNAVAILABLE, DISK_FULL, classify

log = logging.getLogger("isthmus.api")
DB_RETRY_AFTER_S = 5


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", "")
    if not rid:
        rid = new_id()
        request.state.request_id = rid
    return rid


def error_body(err: AppError, rid: str) -> dict[str, Any]:
    return {"id": err.id, "message": err.message, "detailed_error": err.detailed_error,
            "request_id": rid, "status_code": err.status_code, "is_oauth": False}


def error_response(err: AppError, rid: str) -> JSONResponse:
    headers = {"X-Request-Id": rid}
    if err.status_code == 429:
        headers["Retry-After"] = str(err.retry_after_s or 60)
    elif err.status_code == 503 and err.retry_after_s:
        headers["Retry-After"] = str(err.retry_after_s)
    return JSONResponse(error_body(err, rid), status_code=err.status_code, headers=headers)


async def on_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    session = getattr(request.state, "session", None)
    if session is not None:  # name the authenticated caller in permission errors, as Mattermost does
        exc = with_actor(exc, str(getattr(session, "user_id", "")))
    return error_response(exc, request_id(request))


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = exc.errors()
    where = ".".join(str(p) for p in errs[0]["loc"]) if errs else "request"
    err = AppError("api.context.invalid_param.app_error", f"Invalid {where} parameter.", 400,
                   errs[0]["msg"] if errs else "")
    return error_response(err, request_id(request))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        err = AppError("api.context.404.app_error", "Sorry, we could not find the page.", 404,
                       f"There doesn't appear to be an api call for the url='{request.url.path}'.")
    elif exc.status_code == 405:
        err = AppError("api.context.405.app_error", "Method not allowed.", 405,
                       f"{request.method} is not allowed on {request.url.path}")
    else:
        err = AppError("api.context.http_error.app_error", str(exc.detail), exc.status_code)
    return error_response(err, request_id(request))


def internal_error() -> AppError:
    return AppError("api.context.internal_error.app_error", "An internal error occurred.", 500)


def resource_error(exc: BaseException) -> AppError | None:
    """A full disk (507) or an unreachable database (503, retry in a few seconds); None for anything else."""
    kind = classify(exc)
    if kind == DISK_FULL:
        log.error("disk full: %s", exc)
        return AppError("api.context.disk_full.app_error", "The server's storage is full, so nothing was saved. "
                        "Ask your system administrator to free some space, then try again.", 507)
    if kind == DB_UNAVAILABLE:
        log.warning("database unavailable: %s", str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
        return AppError("api.context.database_unavailable.app_error", "The server cannot reach its database right "
                        "now, so nothing was saved. Try again in a few seconds.", 503, retry_after_s=DB_RETRY_AFTER_S)
    return None


def invalid_url_error() -> AppError:
    return AppError("api.context.invalid_url_param.app_error", "Invalid or missing parameter in request URL.", 400,
                    "the URL holds a NUL character")


def too_large_error() -> AppError:
    return AppError("api.context.request_body_too_large.app_error", "Request body too large.", 413)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    err = resource_error(exc)
    if err is None:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(err or internal_error(), request_id(request))
