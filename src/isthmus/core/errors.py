"""Mattermost's AppError: the one error type every layer raises and every client understands.

The api layer turns it into ``{"id","message","detailed_error","request_id","status_code"}``.
Helpers below name the common kinds so call sites read as intent, not as status codes.
"""

from __future__ import annotations


class AppError(Exception):
    def __init__(self, id: str, message: str, status_code: int, detailed_error: str = "", *,
                 retry_after_s: int = 0) -> None:
        super().__init__(f"{id}: {message}")
        self.id = id
        self.message = message
        self.status_code = status_code
        self.detailed_error = detailed_error
        # For a 429: when the caller may try again (the Retry-After header); 0 = not known.
        self.retry_after_s = retry_after_s


def rate_limited(message: str, wait_s: float) -> AppError:
    seconds = max(1, int(wait_s) + 1)
    return AppError("api.context.rate_limited.app_error", message.format(seconds=seconds), 429,
                    retry_after_s=seconds)


def invalid(id: str, message: str, detail: str = "") -> AppError:
    return AppError(id, message, 400, detail)


def invalid_param(name: str, detail: str = "") -> AppError:
    return AppError("api.context.invalid_param.app_error", f"Invalid {name} parameter.", 400, detail)


def unauthorized(id: str = "api.context.session_expired.app_error",
                 message: str = "Invalid or expired session, please login again.") -> AppError:
    return AppError(id, message, 401)


PERMISSION_ERROR = "api.context.permissions.app_error"


def forbidden(permission: str = "", message: str = "", *, user_id: str = "") -> AppError:
    """Mattermost's permission error; detail ``userId=<id>, permission=<name>``.

    Domain code rarely has the caller's id at hand, so the api layer adds ``userId=`` for the
    authenticated caller (``with_actor``) when it is missing.
    """
    msg = message or "You do not have the appropriate permissions."
    detail = f"permission={permission}" if permission else ""
    if user_id and detail:
        detail = f"userId={user_id}, {detail}"
    return AppError(PERMISSION_ERROR, msg, 403, detail)


def with_actor(err: AppError, user_id: str) -> AppError:
    """``err`` with the caller's id in a permission error's detail (a copy; ``err`` is left alone)."""
    if err.id != PERMISSION_ERROR or not user_id or not err.detailed_error.startswith("permission="):
        return err
    return AppError(err.id, err.message, err.status_code, f"userId={user_id}, {err.detailed_error}")


def not_found(what: str, id: str = "") -> AppError:
    return AppError(f"app.{what}.get.app_error", f"Unable to find the existing {what}.", 404,
                    f"id={id}" if id else "")


def conflict(id: str, message: str) -> AppError:
    return AppError(id, message, 400)


def too_large(message: str = "Request body too large.") -> AppError:
    return AppError("api.context.request_body_too_large.app_error", message, 413)


def not_implemented(id: str, message: str) -> AppError:
    return AppError(id, message, 501)
