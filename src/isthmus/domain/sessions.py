"""Sessions: login, token authentication, logout, revocation and personal access tokens.

Authenticated sessions are cached in memory by token so a request costs no query; every path
that ends a session drops it from the cache after its transaction commits.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from isthmus.core.errors import AppError, forbidden, invalid, rate_limited, unauthorized
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id, new_token
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, Session, User
from isthmus.domain.roles import has_system_permission
from isthmus.domain.users import (
    check_password,
    forget_tokens,
    get_user,
    get_user_by_login,
)
from isthmus.store.repo import login_failures as failures_repo
from isthmus.store.repo import users as repo

_CACHE = "sessions"
# Internal event (never sent to clients): the realtime hub re-checks the user's open websockets at once.
SESSIONS_REVOKED = "sessions_revoked"
LOGIN_WINDOW_S = 60.0
ACCESS_TOKEN_SESSION_DAYS = 365 * 100


def _cache(d: Domain) -> dict[str, Session]:
    cache: dict[str, Session] = d.caches.setdefault(_CACHE, {})
    return cache


class LoginLimiter:
    """Sliding-window limiter per client address; slows password guessing across accounts.

    An attempt takes its slot *before* the password is checked and gives it back only when it
    succeeds, so parallel guesses are counted even while their checks are still running.
    """

    def __init__(self, limit: int, window_s: float = LOGIN_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> float:
        """Take a slot: 0 when taken, else the seconds until one frees up."""
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] > self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return self.window_s - (now - hits[0])
        hits.append(now)
        if len(self._hits) > 10_000:  # bound memory against address-spraying clients
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.window_s}
        return 0.0

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when allowed), without taking a slot."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        while hits and now - hits[0] > self.window_s:
            hits.popleft()
        return self.window_s - (now - hits[0]) if len(hits) >= self.limit else 0.0

    def record_failure(self, key: str) -> None:
        if self.acquire(key) > 0:
            return  # already full: the window is what it is

    def release(self, key: str) -> None:
        """A successful login gives its slot back: only failures count."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()


def limiter(d: Domain) -> LoginLimiter:
    lim = d.caches.get("login_limiter")
    limit = d.config.RateLimitSettings.LoginFailuresPerMinute
    if not isinstance(lim, LoginLimiter) or lim.limit != limit:
        lim = d.caches["login_limiter"] = LoginLimiter(limit=limit)
    return lim


def _paused(d: Domain) -> AppError:
    minutes = d.config.RateLimitSettings.AccountLockoutMinutes
    return AppError("api.user.check_user_login_attempts.too_many.app_error",
                    f"Too many failed attempts: sign-in to this account is paused for up to {minutes} minutes. "
                    "Try again later, or ask an administrator to reset the password.", 401)


async def _count_attempt(d: Domain, key: str) -> int:
    """Count this attempt against ``key`` before checking anything; the count including it."""
    now = d.now()
    lapse = now - d.config.RateLimitSettings.AccountLockoutMinutes * 60_000
    async with transaction(d) as tx:
        return await failures_repo.count_attempt(tx.conn, key, now, lapse)


async def do_login(d: Domain, login_id: object, password: object, device_id: str = "",
                   client_key: str = "") -> tuple[User, Session]:
    if not isinstance(login_id, str) or not login_id or len(login_id) > 256:
        raise invalid("api.user.login.blank_pwd.app_error", "Enter a valid login ID.")
    if not isinstance(password, str) or not password:
        raise invalid("api.user.login.blank_pwd.app_error", "Password field must not be blank")
    address = client_key or "-"
    wait = limiter(d).acquire(address)
    if wait > 0:
        raise rate_limited("Too many login attempts, try again in {seconds} seconds.", wait)
    user = await get_user_by_login(d, login_id)
    # Accounts and unknown names are counted alike, so a pause says nothing about whether one exists.
    key = f"user:{user.id}" if user is not None else f"login:{login_id.lower()}"
    if await _count_attempt(d, key) > d.config.ServiceSettings.MaximumLoginAttempts:
        raise _paused(d)
    bad = AppError("api.user.login.invalid_credentials_email_username",
                   "Enter a valid email or username and/or password.", 401)
    if user is None or not await check_password(user.password, password):
        raise bad
    if user.delete_at:
        raise AppError("api.user.login.inactive.app_error",
                       "Login failed because your account has been deactivated.", 401)
    limiter(d).release(address)
    async with transaction(d) as tx:
        await failures_repo.clear(tx.conn, key)
    hours = d.config.ServiceSettings.SessionLengthWebInHours
    session = await _create_session(d, user, hours * 3600 * 1000, device_id=device_id,
                                    props={"csrf": new_token()})
    return user, session


async def _create_session(d: Domain, user: User, lifetime_ms: int, *, device_id: str = "",
                          props: dict[str, Any] | None = None) -> Session:
    now = d.now()
    row: dict[str, Any] = {"id": new_id(), "token": new_token(), "user_id": user.id, "create_at": now,
           "expires_at": now + lifetime_ms, "last_activity_at": now, "device_id": device_id[:512],
           "roles": user.roles, "is_oauth": False, "props": props or {}}
    async with transaction(d) as tx:
        await repo.insert_session(tx.conn, row)
    return Session(**row)


async def do_create_session_unchecked(d: Domain, user_id: str) -> Session:
    """A session for a user without a password (CLI, tests, bootstrap)."""
    return await _create_session(d, await get_user(d, user_id), 24 * 3600 * 1000)


async def authenticate(d: Domain, token: str) -> Session:
    if not token or len(token) > 64:
        raise unauthorized()
    cache = _cache(d)
    session = cache.get(token)
    if session is None:
        async with d.db.read() as conn:
            row: dict[str, Any] | None = await repo.select_session_by_token(conn, token)
            if row is None:
                pat = await repo.select_access_token(conn, token)
                if pat is None or not pat["is_active"]:
                    raise unauthorized()
                user_row = await repo.select_user(conn, pat["user_id"])
                if user_row is None or user_row["delete_at"]:
                    raise unauthorized()
                # A personal access token acts as a session that never expires.
                row = {"id": pat["id"], "token": token, "user_id": pat["user_id"], "create_at": 0,
                       "expires_at": 0, "last_activity_at": 0, "device_id": "",
                       "roles": user_row["roles"], "is_oauth": False,
                       "props": {"type": "UserAccessToken"}}
        session = Session(**row)
        if len(cache) > 50_000:
            cache.clear()
        cache[token] = session
    if session.expires_at and session.expires_at < d.now():
        cache.pop(token, None)
        raise unauthorized()
    if session.props.get("type") == "UserAccessToken" and not d.config.ServiceSettings.EnableUserAccessTokens:
        raise unauthorized()  # switched off: every token stops working at once, cached or not
    return session


def actor_of(session: Session) -> Actor:
    return Actor(user_id=session.user_id, roles=session.roles, session_id=session.id)


async def do_logout(d: Domain, session: Session) -> None:
    async with transaction(d) as tx:
        tokens = await repo.delete_session(tx.conn, session.id)
        tx.after_commit.append(lambda: forget_tokens(d, [*tokens, session.token]))
        tx.emit(Event(SESSIONS_REVOKED, user_id=session.user_id))


async def list_sessions(d: Domain, actor: Actor, user_id: str) -> list[Session]:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    async with d.db.read() as conn:
        return [Session(**r) for r in await repo.select_sessions_for_user(conn, user_id)]


async def do_revoke_session(d: Domain, actor: Actor, user_id: str, session_id: object) -> None:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    if not is_valid_id(session_id):
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing session_id in request body.")
    sessions = await list_sessions(d, actor, user_id)
    target = next((s for s in sessions if s.id == session_id), None)
    if target is None:
        raise invalid("api.user.revoke_session.app_error", "Unable to find the session.")
    await do_logout(d, target)


async def do_revoke_all_sessions(d: Domain, actor: Actor, user_id: str) -> None:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    async with transaction(d) as tx:
        tokens = await repo.delete_sessions_for_user(tx.conn, user_id)
        tx.after_commit.append(lambda: forget_tokens(d, tokens))
        tx.emit(Event(SESSIONS_REVOKED, user_id=user_id))


async def do_create_access_token(d: Domain, actor: Actor, user_id: str, description: object) -> dict[str, Any]:
    if not d.config.ServiceSettings.EnableUserAccessTokens:
        raise AppError("api.user.create_user_access_token.disabled", "User access tokens are disabled.", 501)
    if not has_system_permission(d, actor, "create_user_access_token"):
        raise forbidden("create_user_access_token")
    if not isinstance(description, str) or not description or len(description) > 512:
        raise invalid("model.user_access_token.is_valid.description.app_error",
                      "Invalid description, must be 512 or less characters")
    await get_user(d, user_id)
    row = {"id": new_id(), "token": new_token(), "user_id": user_id, "description": description,
           "is_active": True}
    async with transaction(d) as tx:
        await repo.insert_access_token(tx.conn, row)
    return row


def token_json(row: dict[str, Any]) -> dict[str, Any]:
    """An access token as listed: never the token itself after creation (as Mattermost)."""
    return {"id": row["id"], "user_id": row["user_id"], "description": row["description"],
            "is_active": bool(row["is_active"])}


def _check_token_owner(d: Domain, actor: Actor, owner_id: str) -> None:
    if actor.user_id == owner_id and has_system_permission(d, actor, "create_user_access_token"):
        return
    if not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("revoke_user_access_token")


async def list_access_tokens(d: Domain, actor: Actor, user_id: str, page: int, per_page: int) -> list[dict[str, Any]]:
    _check_token_owner(d, actor, user_id)
    async with d.db.read() as conn:
        rows = await repo.select_access_tokens_for_user(conn, user_id, offset=page * per_page, limit=per_page)
    return [token_json(r) for r in rows]


async def _token(d: Domain, actor: Actor, token_id: object) -> dict[str, Any]:
    if not is_valid_id(token_id):
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing token_id.")
    async with d.db.read() as conn:
        row = await repo.select_access_token_by_id(conn, str(token_id))
    if row is None:
        raise AppError("app.user_access_token.get_by_token.app_error", "Unable to find the access token.", 404)
    _check_token_owner(d, actor, row["user_id"])
    return row


async def get_access_token(d: Domain, actor: Actor, token_id: object) -> dict[str, Any]:
    return token_json(await _token(d, actor, token_id))


async def do_change_access_token(d: Domain, actor: Actor, token_id: object, action: str) -> None:
    """``revoke`` deletes the token, ``disable`` / ``enable`` switch it; either way it stops (or starts) at once."""
    row = await _token(d, actor, token_id)
    async with transaction(d) as tx:
        if action == "revoke":
            await repo.delete_access_token(tx.conn, row["id"])
        else:
            await repo.update_access_token(tx.conn, row["id"], {"is_active": action == "enable"})
        tx.after_commit.append(lambda: forget_tokens(d, [row["token"]]))
        tx.emit(Event(SESSIONS_REVOKED, user_id=row["user_id"]))
