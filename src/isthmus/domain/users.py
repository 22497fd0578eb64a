"""Users: create, read, patch, (de)activate, roles, search.

As in Mattermost, the first account created on an empty server becomes a system admin.
Passwords are bcrypt-hashed off the event loop (hashing is deliberately slow).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import bcrypt

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import access_channel, access_team
from isthmus.domain.changes import record_user_changed
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, User
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import dumps
from isthmus.domain.synced.users import global_sync_enabled
from isthmus.store.repo import login_failures as failures_repo
from isthmus.store.repo import users as repo

USERNAME_RE = re.compile(r"^[a-z][a-z0-9.\-_]{2,21}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
RESERVED_USERNAMES = frozenset({"all", "channel", "here", "matterbot", "system", "valet", "admin-bot"})
VALID_SYSTEM_ROLES = frozenset({"system_user", "system_admin", "system_guest", "shared_channel_manager"})
PATCHABLE = ("username", "email", "nickname", "first_name", "last_name", "position", "locale",
             "props", "notify_props", "timezone")
MAX_LEN = {"nickname": 64, "first_name": 64, "last_name": 64, "position": 128, "locale": 5}
MAX_MAP_BYTES = 64 * 1024  # props, notify_props, timezone: each as JSON
PASSWORD_MAX_LEN = 72  # bcrypt ignores bytes beyond 72; refuse rather than silently truncate


def _to_user(row: dict[str, Any]) -> User:
    return User(**row)


def validate_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username) \
            or username in RESERVED_USERNAMES:
        raise invalid("model.user.is_valid.username.app_error",
                      "Username must begin with a letter, and contain between 3 to 22 lowercase "
                      "characters made up of numbers, letters, and the symbols '.', '-', and '_'.")
    return username


def validate_email(email: object) -> str:
    if not isinstance(email, str) or len(email) > 128 or not EMAIL_RE.fullmatch(email):
        raise invalid("model.user.is_valid.email.app_error", "Invalid email.")
    return email.lower()


def validate_password(d: Domain, password: object) -> str:
    minimum = d.config.PasswordSettings.MinimumLength
    if not isinstance(password, str) or len(password) < minimum:
        raise invalid("model.user.is_valid.pwd_length.app_error",
                      f"Your password must contain at least {minimum} characters.")
    if len(password.encode()) > PASSWORD_MAX_LEN:
        raise invalid("model.user.is_valid.pwd_max_length.app_error",
                      f"Your password must contain no more than {PASSWORD_MAX_LEN} bytes.")
    return password


async def hash_password(d: Domain, password: str) -> str:
    salt = bcrypt.gensalt(rounds=d.bcrypt_cost)
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
    return hashed.decode()


async def check_password(hashed: str, password: str) -> bool:
    if not hashed or len(password.encode()) > PASSWORD_MAX_LEN:
        return False
    return await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed.encode())


def _check_text_fields(fields: dict[str, Any]) -> None:
    for key, limit in MAX_LEN.items():
        value = fields.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise invalid(f"model.user.is_valid.{key}.app_error", f"Invalid {key}.")
    for key in ("props", "notify_props", "timezone"):
        value = fields.get(key)
        # Mattermost decodes these as map[string]string: any other value fails its JSON decoder, which answers
        # 400 invalid_body_param (and a peer would refuse the whole sync message carrying this user).
        if isinstance(value, dict) and not all(isinstance(v, str) for v in value.values()):
            raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing user in request body.",
                          f"{key}: every value must be a string")
        # A cap far above real use: without one, every profile fetch could carry a client's megabyte.
        if value is not None and (not isinstance(value, dict) or len(dumps(value)) > MAX_MAP_BYTES):
            raise invalid(f"model.user.is_valid.{key}.app_error", f"Invalid {key}.")


async def do_create_user(d: Domain, fields: dict[str, Any], *, system_admin: bool = False,
                         remote_id: str | None = None) -> User:
    """Validate and insert a user. The first user on an empty server becomes system admin."""
    username = validate_username(fields.get("username"))
    email = validate_email(fields.get("email"))
    password = fields.get("password")
    hashed = "" if remote_id else await hash_password(d, validate_password(d, password))
    _check_text_fields(fields)
    now = d.now()
    user_id = new_id()
    async with transaction(d) as tx:
        if await repo.select_user_by(tx.conn, username=username):
            raise invalid("app.user.save.username_exists.app_error",
                          "An account with that username already exists.")
        if await repo.select_user_by(tx.conn, email=email):
            raise invalid("app.user.save.email_exists.app_error",
                          "An account with that email already exists.")
        first = await repo.count_users(tx.conn) == 0
        roles = "system_admin system_user" if (system_admin or first) else "system_user"
        row = {
            "id": user_id, "create_at": now, "update_at": now, "delete_at": 0,
            "username": username, "email": email, "password": hashed, "auth_service": "",
            "nickname": fields.get("nickname") or "", "first_name": fields.get("first_name") or "",
            "last_name": fields.get("last_name") or "", "position": fields.get("position") or "",
            "roles": roles, "locale": fields.get("locale") or "en", "props": fields.get("props") or {},
            "notify_props": fields.get("notify_props") or _default_notify_props(),
            "timezone": fields.get("timezone") or _default_timezone(),
            "last_password_update": now, "last_picture_update": 0, "is_bot": bool(fields.get("is_bot")),
            "bot_description": "", "failed_attempts": 0, "remote_id": remote_id,
        }
        await repo.insert_user(tx.conn, row)
        tx.emit(Event("new_user", {"user_id": user_id}))
    return _to_user(row)


def _default_notify_props() -> dict[str, str]:
    return {"channel": "true", "comments": "never", "desktop": "mention", "desktop_sound": "true",
            "email": "true", "first_name": "false", "mention_keys": "", "push": "mention",
            "push_status": "away"}


def _default_timezone() -> dict[str, str]:
    return {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"}


async def get_user(d: Domain, user_id: str) -> User:
    if not is_valid_id(user_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing user_id in request URL.",
                       400)
    async with d.db.read() as conn:
        row = await repo.select_user(conn, user_id)
    if row is None:
        raise AppError("app.user.missing_account.const", "Unable to find the user.", 404)
    return _to_user(row)


async def get_user_by_username(d: Domain, username: str) -> User:
    async with d.db.read() as conn:
        row = await repo.select_user_by(conn, username=username.lower())
    if row is None:
        raise AppError("app.user.get_by_username.app_error", "Unable to find the user.", 404)
    return _to_user(row)


async def get_user_by_email(d: Domain, email: str) -> User:
    async with d.db.read() as conn:
        row = await repo.select_user_by(conn, email=email.lower())
    if row is None:
        raise AppError("app.user.get_by_email.app_error", "Unable to find the user.", 404)
    return _to_user(row)


async def get_user_by_login(d: Domain, login_id: str) -> User | None:
    async with d.db.read() as conn:
        row = await repo.select_user_by(conn, username=login_id.lower())
        if row is None:
            row = await repo.select_user_by(conn, email=login_id.lower())
    return _to_user(row) if row else None


async def list_users_by_ids(d: Domain, ids: list[str]) -> list[User]:
    ids = [i for i in dict.fromkeys(ids) if is_valid_id(i)]
    async with d.db.read() as conn:
        return [_to_user(r) for r in await repo.select_users_by_ids(conn, ids)]


async def list_users_by_usernames(d: Domain, names: list[str]) -> list[User]:
    names = [n.lower() for n in dict.fromkeys(names) if isinstance(n, str)]
    async with d.db.read() as conn:
        return [_to_user(r) for r in await repo.select_users_by_usernames(conn, names)]


async def list_users(d: Domain, *, page: int, per_page: int, **filters: Any) -> list[User]:
    async with d.db.read() as conn:
        rows = await repo.select_users(conn, offset=page * per_page, limit=per_page, **filters)
    return [_to_user(r) for r in rows]


# Listing filters that scope a user list to one team/channel, and what the caller needs there.
_TEAM_SCOPES = ("in_team", "not_in_team")
_CHANNEL_SCOPES = ("in_channel", "not_in_channel")


async def check_list_scope(d: Domain, actor: Actor, filters: dict[str, Any]) -> None:
    """403 unless the caller may view every team (view_team) and read every channel (read_channel)
    the listing is scoped to, as Mattermost's getUsers/searchUsers/autocompleteUsers check.

    Without this, ``in_channel=<private channel>`` would disclose its membership to anyone. An
    unknown id answers 403 too (never 404), so the answer does not confirm whether a private
    object exists; system admins hold every permission and simply get an empty list.
    """
    teams = [filters[k] for k in _TEAM_SCOPES if filters.get(k)]
    channels = [filters[k] for k in _CHANNEL_SCOPES if filters.get(k)]
    if not teams and not channels:
        return
    async with d.db.read() as conn:
        try:
            for team_id in teams:
                await access_team(d, conn, actor, team_id, "view_team")
            for channel_id in channels:
                await access_channel(d, conn, actor, channel_id, "read_channel")
        except AppError as err:
            if err.status_code != 404:
                raise
            if not has_system_permission(d, actor, "manage_system"):
                raise forbidden("read_channel" if err.id.startswith("app.channel") else "view_team") from None


async def list_users_for(d: Domain, actor: Actor, *, page: int, per_page: int, **filters: Any) -> list[User]:
    """``list_users`` on behalf of ``actor``: team/channel scopes are permission-checked first."""
    await check_list_scope(d, actor, filters)
    return await list_users(d, page=page, per_page=per_page, **_discoverable(d, filters))


def _discoverable(d: Domain, filters: dict[str, Any]) -> dict[str, Any]:
    """Without global user sync, people of other workspaces are found only once they took part in a shared
    channel here (the seed): a synthetic user that is a member of no channel stays out of lists and search."""
    return filters if global_sync_enabled(d) else {**filters, "joined_remote_only": True}


async def autocomplete_users(d: Domain, actor: Actor, *, term: str, limit: int, team_id: str = "",
                             channel_id: str = "") -> tuple[list[User], list[User] | None]:
    """Mattermost's autocomplete: with a channel, (members, team users outside it); else (matches, None)."""
    filters: dict[str, Any] = _discoverable(d, {"term": term, "active": True})
    scope = {"in_team": team_id, "in_channel": channel_id}
    await check_list_scope(d, actor, scope)
    if not channel_id:
        return await list_users(d, page=0, per_page=limit, in_team=team_id, **filters), None
    inside = await list_users(d, page=0, per_page=limit, in_channel=channel_id, **filters)
    outside = await list_users(d, page=0, per_page=limit, not_in_channel=channel_id, in_team=team_id, **filters)
    return inside, outside


async def count_users(d: Domain) -> int:
    async with d.db.read() as conn:
        return await repo.count_users(conn)


def _can_edit(d: Domain, actor: Actor, user_id: str) -> bool:
    return actor.user_id == user_id or has_system_permission(d, actor, "edit_other_users")


async def do_patch_user(d: Domain, actor: Actor, user_id: str, patch: dict[str, Any]) -> User:
    if not _can_edit(d, actor, user_id):
        raise forbidden("edit_other_users")
    user = await get_user(d, user_id)
    values: dict[str, Any] = {k: patch[k] for k in PATCHABLE if k in patch and patch[k] is not None}
    if "username" in values:
        values["username"] = validate_username(values["username"])
    if "email" in values:
        values["email"] = validate_email(values["email"])
        # Changing one's own email needs the current password (as Mattermost): a stolen session must not
        # be enough to take the account over through a password reset to a new address.
        if values["email"] != user.email and actor.user_id == user_id \
                and not has_system_permission(d, actor, "edit_other_users"):
            current = patch.get("password")
            if not isinstance(current, str) or not current:
                raise invalid("api.user.patch_user.password_required.app_error",
                              "To change your email address, also send your current password.")
            if not await check_password(user.password, current):
                raise invalid("api.user.check_user_password.invalid.app_error",
                              "Your current password is not correct.")
    _check_text_fields(values)
    if not values:
        return user
    values["update_at"] = d.now()
    async with transaction(d) as tx:
        if "username" in values and values["username"] != user.username:
            other = await repo.select_user_by(tx.conn, username=values["username"])
            if other:
                raise invalid("app.user.save.username_exists.app_error",
                              "An account with that username already exists.")
        if "email" in values and values["email"] != user.email:
            other = await repo.select_user_by(tx.conn, email=values["email"])
            if other:
                raise invalid("app.user.save.email_exists.app_error",
                              "An account with that email already exists.")
        await repo.update_user(tx.conn, user_id, values)
        row = await repo.select_user(tx.conn, user_id)
        assert row is not None
        updated = _to_user(row)
        tx.emit(Event("user_updated", {"user_id": user_id}, user_id=user_id))
        await record_user_changed(tx, user_id, None)
    return updated


async def do_set_active(d: Domain, actor: Actor, user_id: str, active: bool) -> User:
    if not has_system_permission(d, actor, "edit_other_users") and actor.user_id != user_id:
        raise forbidden("manage_system")
    if active and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("manage_system")
    user = await get_user(d, user_id)
    values = {"delete_at": 0 if active else d.now(), "update_at": d.now()}
    async with transaction(d) as tx:
        await repo.update_user(tx.conn, user_id, values)
        if not active:
            await repo.delete_sessions_for_user(tx.conn, user_id)
            # Every cached credential of the user goes, personal access tokens included.
            tx.after_commit.append(lambda: forget_user(d, user_id))
        tx.emit(Event("user_updated", {"user_id": user_id}, user_id=user_id))
        await record_user_changed(tx, user_id, None)
    user.delete_at, user.update_at = values["delete_at"], values["update_at"]
    return user


async def do_update_roles(d: Domain, actor: Actor, user_id: str, roles: object) -> User:
    if not has_system_permission(d, actor, "manage_roles"):
        raise forbidden("manage_roles")
    if not isinstance(roles, str):
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing roles in request body.")
    names = roles.split()
    if not names or any(n not in VALID_SYSTEM_ROLES for n in names):
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing roles in request body.")
    await get_user(d, user_id)
    role_str = " ".join(dict.fromkeys(names))
    async with transaction(d) as tx:
        await repo.update_user(tx.conn, user_id, {"roles": role_str, "update_at": d.now()})
        await repo.update_session_roles(tx.conn, user_id, role_str)
        tx.after_commit.append(lambda: refresh_cached_roles(d, user_id, role_str))
        tx.emit(Event("user_role_updated", {"user_id": user_id, "roles": role_str}, user_id=user_id))
    return await get_user(d, user_id)


async def do_update_password(d: Domain, actor: Actor, user_id: str, current: str | None, new: object) -> None:
    admin = has_system_permission(d, actor, "edit_other_users")
    if actor.user_id != user_id and not admin:
        raise forbidden("edit_other_users")
    user = await get_user(d, user_id)
    if actor.user_id == user_id and not await check_password(user.password, current or ""):
        raise invalid("api.user.check_user_password.invalid.app_error",
                      "Login failed because of invalid password.")
    hashed = await hash_password(d, validate_password(d, new))
    async with transaction(d) as tx:
        await repo.update_user(tx.conn, user_id, {"password": hashed, "last_password_update": d.now(),
                                                  "update_at": d.now(), "failed_attempts": 0})
        await failures_repo.clear(tx.conn, f"user:{user_id}")  # a reset also lifts a sign-in pause
        # Every other session ends (Mattermost's TerminateSessionsOnPasswordChange): whoever knew the old
        # password is signed out everywhere; the one changing it keeps the session it used.
        keep = actor.session_id if actor.user_id == user_id else ""
        await repo.delete_sessions_for_user(tx.conn, user_id, keep=keep)
        tx.after_commit.append(lambda: forget_user(d, user_id, keep_session=keep))
        tx.emit(Event("user_updated", {"user_id": user_id}, user_id=user_id))




def forget_tokens(d: Domain, tokens: list[str]) -> None:
    cache: dict[str, Any] = d.caches.setdefault("sessions", {})
    for t in tokens:
        cache.pop(t, None)


def forget_user(d: Domain, user_id: str, keep_session: str = "") -> None:
    """Drop every cached session and access token of ``user_id`` (but ``keep_session``)."""
    cache: dict[str, Any] = d.caches.setdefault("sessions", {})
    for token, session in list(cache.items()):
        if session.user_id == user_id and session.id != keep_session:
            cache.pop(token, None)


def refresh_cached_roles(d: Domain, user_id: str, roles: str) -> None:
    cache: dict[str, Any] = d.caches.setdefault("sessions", {})
    for session in cache.values():
        if session.user_id == user_id:
            session.roles = roles


