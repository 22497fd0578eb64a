"""Secure connections (remote clusters): the records, their validation and every write to them.

The handshake itself (crypto, HTTP to the peer, the ping loop) lives in ``isthmus.federation``,
which calls these ``do_*`` functions; the domain never talks to the network. Tokens live in the
record but never in its JSON: :func:`remote_cluster_json` always blanks them (Mattermost's
``Sanitize``), and ``repr`` hides them so they cannot reach a log line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from isthmus.core.errors import AppError, forbidden, invalid_param
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import get_team_row
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor
from isthmus.domain.permissions import PERMISSION_MANAGE_SECURE_CONNECTIONS
from isthmus.domain.roles import has_system_permission
from isthmus.store.repo import remotes as repo
from isthmus.store.repo.remotes import PENDING_PREFIX, PLUGIN_PREFIX, RemoteFilter

OFFLINE_AFTER_MS = 5 * 60 * 1000
INVITE_EXPIRES_MS = 48 * 3600 * 1000
NAME_MAX = 64
DISPLAY_NAME_MAX = 64
EVENT_DELETED = "remote_cluster_deleted"
_NAME_RE = re.compile(r"^[a-zA-Z0-9.\-_]+$")
# Tokens travel in an HTTP header: visible ASCII only, at most what auth compares.
_TOKEN_RE = re.compile(r"^[!-~]{1,50}$")

# Extra work to run inside the delete transaction of a connection (the shared-channel layer
# registers "unshare channels left without remotes" here). Each hook gets (tx, remote_id, now).
DeleteHook = Callable[[Tx, str, int], Awaitable[None]]
DELETE_HOOKS: list[DeleteHook] = []


@dataclass(slots=True)
class RemoteCluster:
    remote_id: str
    name: str
    remote_team_id: str
    display_name: str
    site_url: str
    default_team_id: str
    create_at: int
    delete_at: int
    last_ping_at: int
    last_global_user_sync_at: int
    token: str
    remote_token: str
    topics: str
    creator_id: str
    plugin_id: str
    options: int
    share_email: bool = False
    share_full_name: bool = True
    share_nickname: bool = True
    share_position: bool = True
    invite_issued_at: int = 0

    def __repr__(self) -> str:
        return (f"RemoteCluster(remote_id={self.remote_id!r}, name={self.name!r}, site_url={self.site_url!r}, "
                f"delete_at={self.delete_at})")

    @property
    def is_plugin(self) -> bool:
        return bool(self.plugin_id) or self.site_url.startswith(PLUGIN_PREFIX)

    @property
    def is_confirmed(self) -> bool:
        return self.is_plugin or (bool(self.site_url) and not self.site_url.startswith(PENDING_PREFIX))

    @property
    def shown_site_url(self) -> str:
        """Mattermost's ``GetSiteURL``: hides the pending placeholder."""
        if self.site_url.startswith(PENDING_PREFIX):
            return "..."
        if self.site_url.startswith(PLUGIN_PREFIX):
            return "plugin"
        return self.site_url

    def is_online(self, now_ms: int, offline_after_ms: int = OFFLINE_AFTER_MS) -> bool:
        return self.last_ping_at > now_ms - offline_after_ms


def remote_cluster_json(rc: RemoteCluster) -> dict[str, Any]:
    """RemoteCluster JSON in Go field order, sanitized (tokens blanked)."""
    return {"remote_id": rc.remote_id, "remote_team_id": rc.remote_team_id, "name": rc.name,
            "display_name": rc.display_name, "site_url": rc.site_url, "default_team_id": rc.default_team_id,
            "create_at": rc.create_at, "delete_at": rc.delete_at, "last_ping_at": rc.last_ping_at,
            "last_global_user_sync_at": rc.last_global_user_sync_at, "token": "", "remote_token": "",
            "topics": rc.topics, "creator_id": rc.creator_id, "plugin_id": rc.plugin_id, "options": rc.options,
            # Our extra fields (a Mattermost client ignores them): when a pending invitation stops working,
            # and which profile fields this server sends to the peer.
            "invite_expires_at": 0 if rc.is_confirmed else invite_expires_at(rc),
            **profile_policy_json(rc)}


def invite_expires_at(rc: RemoteCluster, expires_ms: int = INVITE_EXPIRES_MS) -> int:
    return (rc.invite_issued_at or rc.create_at) + expires_ms


PROFILE_FIELDS = ("email", "full_name", "nickname", "position")


def profile_policy_json(rc: RemoteCluster) -> dict[str, bool]:
    return {f"share_{name}": bool(getattr(rc, f"share_{name}")) for name in PROFILE_FIELDS}


def remote_cluster_info_json(rc: RemoteCluster) -> dict[str, Any]:
    return {"name": rc.name, "display_name": rc.display_name, "create_at": rc.create_at,
            "delete_at": rc.delete_at, "last_ping_at": rc.last_ping_at}


# --- checks -----------------------------------------------------------------------------------------

def service_enabled(d: Domain) -> bool:
    return bool(d.config.ConnectedWorkspacesSettings.EnableRemoteClusterService)


def require_service(d: Domain) -> None:
    if not service_enabled(d):
        raise AppError("api.remote_cluster.service_not_enabled.app_error",
                       "Remote Cluster Service is not enabled.", 501)


def authorize(d: Domain, actor: Actor) -> None:
    """``manage_secure_connections`` first, then the service switch (Mattermost's order)."""
    if not has_system_permission(d, actor, PERMISSION_MANAGE_SECURE_CONNECTIONS):
        raise forbidden(PERMISSION_MANAGE_SECURE_CONNECTIONS)
    require_service(d)


def own_site_url(d: Domain) -> str:
    url = d.config.ServiceSettings.SiteURL
    if not url:
        raise AppError("api.get_site_url_error", "Site URL is not configured (ServiceSettings.SiteURL).", 422)
    return str(url)


def normalize_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX or not _NAME_RE.match(name):
        raise AppError("model.cluster.is_valid.name.app_error",
                       "Name must be 1–64 characters of letters, digits, '.', '-' or '_'.", 400)
    return name.lower()


def check_display_name(display_name: object, default: str) -> str:
    if display_name is None or display_name == "":
        return default
    if not isinstance(display_name, str) or len(display_name) > DISPLAY_NAME_MAX or \
            any(ord(c) < 32 for c in display_name):
        raise AppError("model.cluster.is_valid.display_name.app_error",
                       "Display name must be at most 64 characters.", 400)
    return display_name


def is_valid_token(token: object) -> bool:
    return isinstance(token, str) and _TOKEN_RE.match(token) is not None


async def check_team(d: Domain, team_id: object, param: str) -> str:
    """``default_team_id``: required, and the team must exist."""
    if not isinstance(team_id, str) or not team_id:
        raise AppError("api.context.invalid_param.app_error", f"Invalid {param} parameter.", 400)
    try:
        async with d.db.read() as conn:
            team = await get_team_row(conn, team_id)
    except AppError:
        raise AppError("api.context.invalid_param.app_error", f"Invalid {param} parameter.", 400,
                       "team not found") from None
    if team.delete_at:
        raise AppError("api.context.invalid_param.app_error", f"Invalid {param} parameter.", 400, "team deleted")
    return team_id


# --- reads ------------------------------------------------------------------------------------------

def _not_found(remote_id: str) -> AppError:
    return AppError("api.remote_cluster.get.not_found", "Remote cluster not found.", 404,
                    f"id={remote_id}" if is_valid_id(remote_id) else "")


async def get_remote(d: Domain, remote_id: str, *, include_deleted: bool = False) -> RemoteCluster:
    if not is_valid_id(remote_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing remote_id in request URL.",
                       400)
    async with d.db.read() as conn:
        row = await repo.select_remote(conn, remote_id, include_deleted=include_deleted)
    if row is None:
        raise _not_found(remote_id)
    return RemoteCluster(**row)


async def find_live_remote(d: Domain, remote_id: str) -> RemoteCluster | None:
    if not is_valid_id(remote_id):
        return None
    async with d.db.read() as conn:
        row = await repo.select_remote(conn, remote_id)
    return RemoteCluster(**row) if row else None


async def list_remotes(d: Domain, f: RemoteFilter, *, page: int = 0, per_page: int = 999_999) -> list[RemoteCluster]:
    async with d.db.read() as conn:
        rows = await repo.select_remotes(conn, f, offset=page * per_page, limit=per_page)
    return [RemoteCluster(**r) for r in rows]


# --- writes -----------------------------------------------------------------------------------------

async def _insert(d: Domain, row: dict[str, Any]) -> RemoteCluster:
    async with transaction(d) as tx:
        if await repo.select_live_remote_by_name(tx.conn, row["name"]) is not None:
            raise AppError("api.remote_cluster.save_not_unique.app_error",
                           "A secure connection with this name already exists.", 400, f"name={row['name']}")
        if await repo.select_remote_row(tx.conn, row["remote_id"], row["name"]) is not None or \
                await repo.select_remote(tx.conn, row["remote_id"]) is not None:
            raise AppError("api.remote_cluster.save_not_unique.app_error",
                           "This secure connection already exists on this server.", 400)
        await repo.insert_remote(tx.conn, row)
    return RemoteCluster(**row)


def _row(d: Domain, actor: Actor, *, remote_id: str, name: str, display_name: str, site_url: str,
         default_team_id: str, token: str, remote_token: str) -> dict[str, Any]:
    return {"remote_id": remote_id, "name": name, "remote_team_id": "", "display_name": display_name,
            "site_url": site_url, "default_team_id": default_team_id, "create_at": d.now(), "delete_at": 0,
            "last_ping_at": 0, "last_global_user_sync_at": 0, "token": token, "remote_token": remote_token,
            "topics": "", "creator_id": actor.user_id, "plugin_id": "", "options": 0,
            "invite_issued_at": d.now()}


async def do_create_remote(d: Domain, actor: Actor, *, name: str, display_name: str, default_team_id: str,
                           token: str) -> RemoteCluster:
    """A pending connection (inviter side). ``token`` is the invite token the acceptor will present once."""
    authorize(d, actor)
    return await _insert(d, _row(d, actor, remote_id=new_id(), name=name, display_name=display_name,
                                 site_url=PENDING_PREFIX + new_id(), default_team_id=default_team_id,
                                 token=token, remote_token=""))


async def do_insert_accepted_remote(d: Domain, actor: Actor, *, remote_id: str, name: str, display_name: str,
                                    default_team_id: str, site_url: str, token: str,
                                    remote_token: str) -> RemoteCluster:
    """The acceptor's row, written before confirming so the inviter's first ping already authenticates."""
    authorize(d, actor)
    return await _insert(d, _row(d, actor, remote_id=remote_id, name=name, display_name=display_name,
                                 site_url=site_url, default_team_id=default_team_id, token=token,
                                 remote_token=remote_token))


async def do_discard_remote(d: Domain, rc: RemoteCluster) -> None:
    """Undo :func:`do_insert_accepted_remote` after a failed confirmation: nothing half-created stays."""
    async with transaction(d) as tx:
        await repo.delete_remote_row(tx.conn, rc.remote_id, rc.name)


async def do_confirm_remote(d: Domain, remote_id: str, *, invite_token: str, site_url: str, remote_token: str,
                            new_token: str) -> RemoteCluster | None:
    """Inviter side of ``confirm_invite``: bind the acceptor's URL and tokens, retire the invite token.

    Returns None when the connection is no longer pending under ``invite_token`` (replay, race, or
    already confirmed), in which case nothing changed.
    """
    values = {"site_url": site_url, "remote_token": remote_token, "token": new_token, "remote_team_id": ""}
    async with transaction(d) as tx:
        if await repo.confirm_pending_remote(tx.conn, remote_id, invite_token, values) != 1:
            return None
        row = await repo.select_remote(tx.conn, remote_id)
    return RemoteCluster(**row) if row else None


async def do_renew_invite(d: Domain, remote_id: str) -> None:
    """A new invitation code was generated for a pending connection: its 48 hours start again."""
    async with transaction(d) as tx:
        await repo.update_remote(tx.conn, remote_id, {"invite_issued_at": d.now()})


async def do_patch_remote(d: Domain, actor: Actor, remote_id: str, *, display_name: object = None,
                          default_team_id: object = None, policy: dict[str, object] | None = None) -> RemoteCluster:
    """``policy``: our extra fields ``share_email``, ``share_full_name``, ``share_nickname``, ``share_position``
    (booleans; absent ones unchanged). They apply to what is sent from now on."""
    authorize(d, actor)
    rc = await get_remote(d, remote_id)
    values: dict[str, Any] = {}
    for key, value in (policy or {}).items():
        if key not in {f"share_{name}" for name in PROFILE_FIELDS}:
            continue
        if not isinstance(value, bool):
            raise invalid_param(key, "must be true or false")
        values[key] = value
    if display_name is not None:
        values["display_name"] = check_display_name(display_name, rc.name)
    if default_team_id is not None:
        if default_team_id != "":
            await check_team(d, default_team_id, "default_team_id")
        values["default_team_id"] = default_team_id
    if values:
        async with transaction(d) as tx:
            if await repo.update_remote(tx.conn, remote_id, values) == 0:
                raise _not_found(remote_id)
    return dataclasses.replace(rc, **values)


async def do_delete_remote(d: Domain, actor: Actor, remote_id: str) -> bool:
    """Soft-delete the connection and its shared-channel rows in one transaction. False when not found."""
    authorize(d, actor)
    if not is_valid_id(remote_id):
        return False
    now = d.now()
    async with transaction(d) as tx:
        if await repo.soft_delete_remote(tx.conn, remote_id, now) == 0:
            return False
        for hook in DELETE_HOOKS:
            await hook(tx, remote_id, now)
        tx.emit(Event(kind=EVENT_DELETED, data={"remote_id": remote_id}, origin=remote_id))
    return True


async def do_record_ping(d: Domain, remote_id: str, at: int, events: list[Event]) -> bool:
    """Store a successful outgoing ping; ``events`` (online notices) are published after commit."""
    async with transaction(d) as tx:
        updated = await repo.set_last_ping_at(tx.conn, remote_id, at) == 1
        if updated:
            for event in events:
                tx.emit(event)
    return updated
