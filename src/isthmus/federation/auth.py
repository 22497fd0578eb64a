"""Remote-cluster request authentication (``mattermost-protocol.md`` §3.2). Pure: callers load the connection.

A peer proves who it is with ``X-RemoteCluster-Id`` (the connection id, identical on both sides) and
``X-RemoteCluster-Token`` (the secret we handed it, our ``rc.token``). A request that carries a user
credential (cookie, bearer token, ``access_token``) is a user request, never a remote one, exactly as
Mattermost's token parsing order makes it. Tokens are compared in constant time and never echoed
back in errors or logs.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.federation.wire import HEADER_REMOTE_ID, HEADER_TOKEN

# Mattermost truncates presented tokens before comparing; real tokens are 26 characters.
MAX_TOKEN_CHARS = 50


def remote_id_missing() -> AppError:
    return AppError("api.context.remote_id_missing.app_error", "Remote cluster id is missing.", 401)


def invalid_token() -> AppError:
    return AppError("api.context.invalid_token.error", "Invalid remote cluster token.", 401,
                    "The provided token is invalid")


def session_required() -> AppError:
    return AppError("api.context.session_expired.app_error", "Invalid or expired session, please login again.", 401,
                    "remote cluster token required")


def remote_id_invalid(remote_id: str) -> AppError:
    # The id is a public identifier, not a secret; Mattermost puts it in the message too.
    shown = remote_id if is_valid_id(remote_id) else "(invalid)"
    return AppError("api.context.remote_id_invalid.app_error",
                    f"We couldn't find the remote cluster with id={shown}.", 400)


@dataclass(frozen=True, slots=True)
class RemoteCredentials:
    remote_id: str
    token: str

    def __repr__(self) -> str:  # never print the token
        return f"RemoteCredentials(remote_id={self.remote_id!r})"


def has_user_credential(headers: Mapping[str, str], cookies: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if cookies.get("MMAUTHTOKEN"):
        return True
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return True
    return bool(query.get("access_token")) or bool(headers.get("x-cloud-token"))


def credentials_from(headers: Mapping[str, str], cookies: Mapping[str, str] | None = None,
                     query: Mapping[str, str] | None = None) -> RemoteCredentials:
    """Read the remote-cluster credentials of a request, or raise the 401 Mattermost would answer.

    ``headers`` must be case-insensitive (Starlette's ``Headers``) or use lower-case keys.
    """
    if has_user_credential(headers, cookies or {}, query or {}):
        raise session_required()
    token = headers.get(HEADER_TOKEN.lower(), "") or headers.get(HEADER_TOKEN, "")
    remote_id = headers.get(HEADER_REMOTE_ID.lower(), "") or headers.get(HEADER_REMOTE_ID, "")
    if not token:
        raise session_required()
    if not remote_id:
        raise remote_id_missing()
    return RemoteCredentials(remote_id=remote_id.strip(), token=token.strip()[:MAX_TOKEN_CHARS])


def tokens_match(presented: str, expected: str) -> bool:
    """Constant-time comparison; an empty expected token (never issued) matches nothing."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
