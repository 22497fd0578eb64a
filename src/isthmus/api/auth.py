"""Who is calling: token from the MMAUTHTOKEN cookie, ``Authorization: Bearer|Token``, or ``access_token``.

A cookie wins over the header (as in Mattermost) and, because browsers send cookies on their own,
a state-changing request authenticated by cookie must also prove it came from our client
(``X-Requested-With: XMLHttpRequest`` or ``X-CSRF-Token`` equal to the session's CSRF value).
"""

from __future__ import annotations

from fastapi import Request

from isthmus.api.params import valid_id
from isthmus.core.errors import AppError, unauthorized
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor, Session
from isthmus.domain.sessions import actor_of, authenticate

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def domain_of(request: Request) -> Domain:
    d: Domain = request.app.state.server.domain
    return d


def token_from(request: Request) -> tuple[str, bool]:
    """Return (token, came_from_cookie)."""
    cookie = request.cookies.get("MMAUTHTOKEN")
    if cookie:
        return cookie, True
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip():
            return value.strip(), False
    query = request.query_params.get("access_token")
    if query:
        return query, False
    return "", False


async def session_of(request: Request) -> Session:
    cached = getattr(request.state, "session", None)
    if isinstance(cached, Session):
        return cached
    token, from_cookie = token_from(request)
    if not token:
        raise AppError("api.context.session_expired.app_error",
                       "Invalid or expired session, please login again.", 401, "token not provided")
    session = await authenticate(domain_of(request), token)
    if from_cookie and request.method not in SAFE_METHODS:
        csrf = request.headers.get("x-csrf-token", "")
        expected = str(session.props.get("csrf", ""))
        if request.headers.get("x-requested-with", "").lower() != "xmlhttprequest" and \
                not (csrf and expected and csrf == expected):
            raise unauthorized("api.context.session_expired.app_error",
                               "Invalid or expired session, please login again.")
    request.state.session = session
    return session


async def require_actor(request: Request) -> Actor:
    return actor_of(await session_of(request))


def resolve_user_id(user_id: str, actor: Actor) -> str:
    return actor.user_id if user_id == "me" else user_id


async def actor_and_user(request: Request, user_id: str) -> tuple[Actor, str]:
    """The caller and the user a ``/users/{user_id}/…`` route is about ("me" resolved, the id checked)."""
    actor = await require_actor(request)
    return actor, valid_id(resolve_user_id(user_id, actor), "user_id")
