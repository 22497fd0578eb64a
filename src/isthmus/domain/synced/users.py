"""Synthetic users: local rows for users homed on a connected workspace (``mattermost-protocol.md`` §7).

A synthetic user keeps its global id; ``remote_id`` is the connection it was received from (for a
user relayed by a channel's home, that is the home) and only that connection may change it. A relayed
record never changes the owner; the user's own server sending it as its own takes over a user we only
knew through a relay (a mesh). Who may post or react as it: ``domain.sharing.ownership``. Its username is
munged with the connection's local name (``alice:beta``), with ``-2``, ``-3`` … suffixes on collision;
its email is a random id, the real values stay in props. It has no password, so nobody can log in as it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.changes import record_user_changed
from isthmus.domain.context import Domain, Tx
from isthmus.domain.models import Channel, User
from isthmus.domain.shapes import string_map
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import teams as teams_repo
from isthmus.store.repo import users as repo

USERNAME_MAX = 64
MAX_UPSERT_RETRIES = 25
PROP_REMOTE_USERNAME = "RemoteUsername"
PROP_REMOTE_EMAIL = "RemoteEmail"
PROP_ORIGINAL_REMOTE_ID = "OriginalRemoteId"
UNKNOWN_REMOTE = "UNKNOWN"
_USERNAME_JUNK = re.compile(r"[^a-z0-9._\-:]")
_TEXT_LIMITS = {"nickname": 64, "first_name": 64, "last_name": 64, "position": 128, "locale": 5}

# A sender whose admin does not share email with us sends "<user id>@email-hidden.invalid" (RFC 2606: never a
# real address; a Mattermost peer needs some well-formed email to accept the user). We store no email for it.
HIDDEN_EMAIL_DOMAIN = "email-hidden.invalid"


def _bytes_cut(text: bytes, n: int) -> bytes:
    return text[:max(n, 0)]


def mung_username(username: str, remote_name: str, suffix: str = "", max_len: int = USERNAME_MAX) -> str:
    """Mattermost's ``mungUsername`` (§7.4), on UTF-8 byte lengths like Go's ``len``."""
    u, r = username.encode(), remote_name.encode()
    s = f"-{suffix}".encode() if suffix else b""
    if b":" in u:
        u, _, rest = u.partition(b":")
        r = rest.replace(b":", b"")
    half = max_len // 2
    extra = max(half - (len(r) + 1), 0)
    u_ell = r_ell = b""
    trunc_u = len(u) + len(s) - (half + extra)
    if trunc_u > 0:
        u, u_ell = _bytes_cut(u, len(u) - trunc_u - 3), b"..."
    trunc_r = len(r) + 1 - (max_len - (len(u) + len(u_ell) + len(s)))
    if trunc_r > 0:
        r, r_ell = _bytes_cut(r, len(r) - trunc_r - 3), b"..."
    return (u + s + u_ell + b":" + r + r_ell).decode("utf-8", errors="ignore")


@dataclass(frozen=True, slots=True)
class Peer:
    """The connection a change arrived from: its id and the local name we gave it (``beta``)."""

    remote_id: str
    name: str


def _notify_props() -> dict[str, str]:
    return {"channel": "true", "comments": "never", "desktop": "mention", "desktop_sound": "true",
            "email": "false", "first_name": "false", "mention_keys": "", "push": "mention",
            "push_status": "away"}


def _text(incoming: dict[str, Any], key: str) -> str:
    value = incoming.get(key)
    return value[:_TEXT_LIMITS[key]] if isinstance(value, str) else ""


def _clean_props(value: object) -> dict[str, Any]:
    # String values only (Go's map[string]string: a non-string would make a Mattermost peer we relay this
    # user to refuse the whole message); scalars are converted, the rest dropped, per user.
    if not isinstance(value, dict):
        return {}
    return {k[:64]: v for k, v in list(string_map(value).items())[:50]}


def _clock(value: object) -> int:
    """The owner's ``update_at`` of a synced profile: its clock (0 when missing or malformed: no comparison)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 53 else 0


class UserSyncError(Exception):
    """A synced user was refused (unknown shape, or owned by another connection)."""


# tx.cache key: what prefetch_users read for a whole message (ids -> row or None, usernames -> owner id or None).
_PREFETCH = "remote_users_prefetch"


@dataclass
class _Prefetched:
    rows: dict[str, dict[str, Any] | None]
    names: dict[str, str | None]
    new_rows: list[dict[str, Any]] | None = None  # inserts held for one executemany (flush_users)


async def prefetch_users(tx: Tx, peer: Peer, incoming: dict[str, dict[str, Any]], *,
                         defer_inserts: bool = False) -> None:
    """Read every user of a message, and who holds each one's first-choice name, in two queries instead of two
    per user (a global user sync brings hundreds at a time). Kept current by the upserts of this transaction.
    ``defer_inserts``: new users are written by :func:`flush_users` in one statement (the caller must call it
    before anything else of the transaction reads them)."""
    ids = [i for i in incoming if is_valid_id(i)]
    rows: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)
    rows.update({r["id"]: r for r in await repo.select_users_by_ids(tx.conn, ids)})
    wanted = [mung_username(_USERNAME_JUNK.sub("", u["username"].lower()), peer.name) for u in incoming.values()
              if isinstance(u, dict) and isinstance(u.get("username"), str) and len(u["username"]) <= 128]
    names: dict[str, str | None] = dict.fromkeys(wanted)
    names.update({r["username"]: r["id"] for r in await repo.select_users_by_usernames(tx.conn, wanted)})
    tx.cache[_PREFETCH] = _Prefetched(rows, names, [] if defer_inserts else None)


async def flush_users(tx: Tx) -> None:
    pre: _Prefetched | None = tx.cache.get(_PREFETCH)
    if pre is not None and pre.new_rows:
        await repo.insert_users(tx.conn, pre.new_rows)
        pre.new_rows = []


async def _free_username(tx: Tx, base: str, remote_name: str, own_id: str) -> str:
    pre: _Prefetched | None = tx.cache.get(_PREFETCH)
    for attempt in range(MAX_UPSERT_RETRIES):
        candidate = mung_username(base, remote_name, "" if attempt == 0 else str(attempt + 1))
        if pre is not None and candidate in pre.names:
            holder = pre.names[candidate]
        else:
            other = await repo.select_user_by(tx.conn, username=candidate)
            holder = other["id"] if other else None
        if holder is None or holder == own_id:
            if pre is not None:
                pre.names[candidate] = own_id
            return candidate
    raise UserSyncError(f"no free username for {base!r} after {MAX_UPSERT_RETRIES} attempts")


async def upsert_remote_user(d: Domain, tx: Tx, peer: Peer, incoming: dict[str, Any]) -> User:
    """Insert or update one synced user inside the caller's transaction (§7.2, §7.3)."""
    user_id, username = incoming.get("id"), incoming.get("username")
    if not is_valid_id(user_id) or not isinstance(username, str) or len(username) > 128:
        raise UserSyncError("invalid user")
    # Mattermost usernames are [a-z0-9._-]; anything else (spaces, controls, look-alikes) is dropped so a
    # peer cannot make a synthetic name that reads like something else. The ":" keeps relayed names intact.
    username = _USERNAME_JUNK.sub("", username.lower())
    if not username.strip(":"):
        raise UserSyncError("invalid username")
    assert isinstance(user_id, str)
    pre: _Prefetched | None = tx.cache.get(_PREFETCH)
    if pre is not None and user_id in pre.rows:
        existing = pre.rows.pop(user_id)  # read once: a second item with this id reads the database again
    else:
        existing = await repo.select_user(tx.conn, user_id)
    raw_email = incoming.get("email")
    email = raw_email if isinstance(raw_email, str) else ""
    hidden = email.endswith("@" + HIDDEN_EMAIL_DOMAIN)  # its server keeps the address to itself
    if hidden:
        email = ""
    now = d.now()
    clock = _clock(incoming.get("update_at"))
    if existing is None:
        origin = incoming.get("remote_id") if is_valid_id(incoming.get("remote_id")) else peer.remote_id
        props = {**_clean_props(incoming.get("props")), PROP_REMOTE_USERNAME: username,
                 PROP_REMOTE_EMAIL: email or "", PROP_ORIGINAL_REMOTE_ID: origin or UNKNOWN_REMOTE}
        created, deleted = incoming.get("create_at"), incoming.get("delete_at")
        row: dict[str, Any] = {
            "id": user_id, "create_at": created if isinstance(created, int) and created > 0 else now,
            # A user first sent already deactivated (deactivated while its first post was on the way) arrives
            # deactivated: no later change would ever tell this server.
            "update_at": now, "delete_at": now if isinstance(deleted, int) and deleted > 0 else 0,
            "username": await _free_username(tx, username, peer.name, user_id),
            "email": new_id(), "password": "", "auth_service": "", "nickname": _text(incoming, "nickname"),
            "first_name": _text(incoming, "first_name"), "last_name": _text(incoming, "last_name"),
            "position": _text(incoming, "position"), "roles": "system_user",
            "locale": _text(incoming, "locale") or "en", "props": props, "notify_props": _notify_props(),
            "timezone": string_map(incoming.get("timezone")),
            "last_password_update": 0, "last_picture_update": 0, "is_bot": incoming.get("is_bot") is True,
            "bot_description": "", "failed_attempts": 0, "remote_id": peer.remote_id, "remote_update_at": clock,
        }
        if pre is not None and pre.new_rows is not None:
            pre.new_rows.append(row)
        else:
            await repo.insert_user(tx.conn, row)
        tx.emit(Event("new_user", {"user_id": user_id}, origin=peer.remote_id))
        return User(**row)
    user = User(**existing)
    values: dict[str, Any] = {}
    if user.remote_id != peer.remote_id:
        if not _claims_relayed(user, peer, incoming):
            raise UserSyncError(f"user {user_id} is not owned by connection {peer.remote_id} (remoteID mismatch)")
        # Its own server, which we only knew it through a relay from: from now on the user is that server's
        # (a mesh: the relaying home still vouches for its content in its channels, domain.ownership).
        values["remote_id"] = user.remote_id = peer.remote_id
    if clock and clock < user.remote_update_at and not values:
        return user  # older than the profile we have (a late message): last writer wins, nothing to do
    for key in _TEXT_LIMITS:
        value = _text(incoming, key) or (user.locale if key == "locale" else "")
        if value != getattr(user, key):
            values[key] = value
    props = {**_clean_props(incoming.get("props")), PROP_REMOTE_USERNAME: user.props.get(PROP_REMOTE_USERNAME, ""),
             PROP_REMOTE_EMAIL: user.props.get(PROP_REMOTE_EMAIL, ""),
             PROP_ORIGINAL_REMOTE_ID: peer.remote_id if "remote_id" in values
             else user.props.get(PROP_ORIGINAL_REMOTE_ID, UNKNOWN_REMOTE)}
    # The real username/email change only when they come from the user's own server (no colon).
    if ":" not in username and username != props[PROP_REMOTE_USERNAME]:
        props[PROP_REMOTE_USERNAME] = username
        values["username"] = await _free_username(tx, username, peer.name, user_id)
    if (email and "@" in email and email != props[PROP_REMOTE_EMAIL]) or hidden:
        props[PROP_REMOTE_EMAIL] = email  # hidden: the peer stopped sharing it, forget what it sent before
    if props != user.props:
        values["props"] = props
    if isinstance(incoming.get("timezone"), dict) and string_map(incoming["timezone"]) != user.timezone:
        values["timezone"] = string_map(incoming["timezone"])
    deleted = incoming.get("delete_at")
    if isinstance(deleted, int) and (deleted > 0) != (user.delete_at > 0):
        values["delete_at"] = now if deleted > 0 else 0
    if clock > user.remote_update_at:
        values["remote_update_at"] = clock
    if set(values) <= {"remote_update_at"}:  # the same profile, only newer: move the clock, nothing to tell
        if values:
            await repo.update_user(tx.conn, user_id, values)
            user.remote_update_at = clock
        return user
    values["update_at"] = now
    await repo.update_user(tx.conn, user_id, values)
    for key, value in values.items():
        setattr(user, key, value)
    tx.emit(Event("user_updated", {"user_id": user_id}, user_id=user_id, origin=peer.remote_id))
    await record_user_changed(tx, user_id, peer.remote_id)  # relayed by the home, in this same transaction
    return user


def _claims_relayed(user: User, peer: Peer, incoming: dict[str, Any]) -> bool:
    """``peer`` sends ``user`` as one of its own (no ``remote_id``) and we know the user only through a relay
    (created from a record naming another owner, never claimed since): the first direct owner takes it. A relayed
    record (with ``remote_id``) or a user we know directly never changes owner."""
    return not incoming.get("remote_id") and known_only_through_a_relay(user.remote_id, user.props)


def known_only_through_a_relay(remote_id: str | None, props: Any) -> bool:
    """A synthetic user created from a record naming another owner, never claimed since: the first connection
    that sends it as its own takes it over (its own server, in a mesh)."""
    original = props.get(PROP_ORIGINAL_REMOTE_ID) if isinstance(props, dict) else None
    return remote_id is not None and isinstance(original, str) and original not in (remote_id, UNKNOWN_REMOTE)


async def ensure_channel_member(d: Domain, tx: Tx, channel: Channel, user_id: str, origin: str | None) -> bool:
    """Join a (synthetic) user to the channel's team and to the channel, without default channels. True if added."""
    if channel.team_id:
        member = await access_repo.select_team_member(tx.conn, channel.team_id, user_id)
        if member is None or member["delete_at"]:
            row: dict[str, Any] = {"team_id": channel.team_id, "user_id": user_id, "roles": "team_user",
                                   "delete_at": 0, "scheme_user": True, "scheme_admin": False,
                                   "scheme_guest": False, "create_at": d.now()}
            if member is None:
                await teams_repo.insert_team_member(tx.conn, row)
            else:
                await teams_repo.update_team_member(tx.conn, channel.team_id, user_id, row)
            tx.emit(Event("added_to_team", {"team_id": channel.team_id, "user_id": user_id}, user_id=user_id,
                          origin=origin))
    if await access_repo.select_channel_member(tx.conn, channel.id, user_id) is not None:
        return False
    await channels_repo.insert_channel_member(tx.conn, {
        "channel_id": channel.id, "user_id": user_id, "roles": "channel_user", "last_viewed_at": 0,
        "msg_count": 0, "msg_count_root": 0, "mention_count": 0, "mention_count_root": 0,
        "urgent_mention_count": 0, "notify_props": {"desktop": "default", "email": "default", "push": "default",
                                                    "mark_unread": "all", "ignore_channel_mentions": "default"},
        "last_update_at": d.now(), "scheme_user": True, "scheme_admin": False, "scheme_guest": False})
    tx.emit(Event("user_added", {"user_id": user_id, "team_id": channel.team_id}, channel_id=channel.id,
                  team_id=channel.team_id, origin=origin))
    return True


async def owned_user(tx: Tx, user_id: object, remote_id: str) -> User:
    """The user, if it is a synthetic user of ``remote_id`` (ownership check, #27326)."""
    if not is_valid_id(user_id):
        raise AppError("api.remote_cluster.invalid_user", "Invalid user id.", 400)
    assert isinstance(user_id, str)
    key = f"owned_user:{remote_id}:{user_id}"
    cached = tx.cache.get(key)
    if isinstance(cached, User):
        return cached
    row = await repo.select_user(tx.conn, user_id)
    if row is None or row["remote_id"] != remote_id:
        raise AppError("api.remote_cluster.user_not_owned", f"User {user_id} is not owned by the sender.", 403)
    tx.cache[key] = user = User(**row)
    return user


async def load_owned_users(tx: Tx, user_ids: list[Any], remote_id: str) -> None:
    """Warm :func:`owned_user`'s cache with one query for many users (a sync message's authors); the check
    itself is still :func:`owned_user`'s, per item."""
    wanted = [u for u in dict.fromkeys(user_ids)
              if is_valid_id(u) and not isinstance(tx.cache.get(f"owned_user:{remote_id}:{u}"), User)]
    for row in await repo.select_users_by_ids(tx.conn, wanted):
        if row["remote_id"] == remote_id:
            tx.cache[f"owned_user:{remote_id}:{row['id']}"] = User(**row)


def global_sync_enabled(d: Domain) -> bool:
    """Global user sync (§8.3): either switch turns it on. Mattermost sends only with the feature flag (the config
    key alone schedules and receives); an admin who turns on "sync users on connection open" expects users to be
    synced, so here the config key is enough too. Off, a remote person is listed in user search, autocomplete and
    the DM picker only once they took part in a shared channel here (the seed)."""
    return bool(d.config.FeatureFlags.EnableSyncAllUsersForRemoteCluster
                or d.config.ConnectedWorkspacesSettings.SyncUsersOnConnectionOpen)


def member_sync_enabled(d: Domain) -> bool:
    """Mattermost's ``EnableSharedChannelsMemberSync`` (§8.2): membership travels as ``membership_changes``."""
    return bool(d.config.FeatureFlags.EnableSharedChannelsMemberSync)


async def remove_channel_member(tx: Tx, channel: Channel, user_id: str, origin: str | None) -> bool:
    """Remove a member because a connected workspace said so. False when it was not a member."""
    if await channels_repo.delete_channel_member(tx.conn, channel.id, user_id) == 0:
        return False
    tx.emit(Event("user_removed", {"remover_id": user_id, "user_id": user_id}, channel_id=channel.id,
                  team_id=channel.team_id, origin=origin))
    tx.emit(Event("user_removed", {"remover_id": user_id, "channel_id": channel.id}, user_id=user_id, origin=origin))
    return True
