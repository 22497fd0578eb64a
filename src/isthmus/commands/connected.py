"""``/secure-connection create|accept|remove|status``: Mattermost's slash command, same arguments, same texts.

Plain async functions ``(connections, actor, args) -> response text`` so any command registry can
expose them; ``args`` is what follows the trigger (``"create --name acme --password pw"``). The reply
is meant as an ephemeral post. Arguments follow Mattermost's parser (``registry.parse_named_args``):
values are single whitespace-separated tokens with surrounding quotes trimmed, and an argument
followed directly by another ``--arg`` has an empty value.
"""

from __future__ import annotations

from datetime import datetime

from isthmus.commands.registry import ACTION_KEY, parse_named_args
from isthmus.core.errors import AppError
from isthmus.domain import remotes as dom
from isthmus.domain.models import Actor
from isthmus.domain.permissions import PERMISSION_MANAGE_SECURE_CONNECTIONS
from isthmus.domain.roles import has_system_permission
from isthmus.federation.connections import Connections
from isthmus.store.repo.remotes import RemoteFilter

TRIGGER = "secure-connection"
ACTIONS = "create, accept, remove, status"
DESCRIPTION = "Invite secure connections for communication across Mattermost instances."
HINT = "[action]"
_DECODE_ERRORS = ("api.remote_cluster.base64_decode_error", "api.remote_cluster.invite_decrypt_error",
                  "model.remote_cluster_invite.")


def _missing(arg: str) -> str:
    return f"Missing or empty `{arg}`"


def _bool(value: bool) -> str:
    return "True" if value else "False"


def format_timestamp(ms: int, now: datetime | None = None) -> str:
    """Mattermost's ``formatTimestamp``: ``--``, ``Today 15:04:05 UTC 2026`` or ``Jan 2 15:04:05 UTC 2026``."""
    if ms == 0:
        return "--"
    ts = datetime.fromtimestamp(ms / 1000).astimezone()
    today = (now or datetime.now().astimezone()).date()
    if ts.date() == today:
        return "Today " + ts.strftime("%H:%M:%S %Z %Y")
    return f"{ts.strftime('%b')} {ts.day} " + ts.strftime("%H:%M:%S %Z %Y")


async def secure_connection(conns: Connections, actor: Actor, args: str) -> str:
    if not has_system_permission(conns.d, actor, PERMISSION_MANAGE_SECURE_CONNECTIONS):
        return f"You require `{PERMISSION_MANAGE_SECURE_CONNECTIONS}` permission to manage secure connections."
    margs = parse_named_args(args)
    action = margs.get(ACTION_KEY)
    if action is None:
        return f"Missing command. Available actions: {ACTIONS}"
    if action not in ("create", "accept", "remove", "status"):
        return f"Unknown action `{action}`"
    if not dom.service_enabled(conns.d):
        return "Secure Connection Service not enabled."
    if action == "create":
        return await _create(conns, actor, margs)
    if action == "accept":
        return await _accept(conns, actor, margs)
    if action == "remove":
        return await _remove(conns, actor, margs)
    return await _status(conns, actor)


async def _create(conns: Connections, actor: Actor, margs: dict[str, str]) -> str:
    password, name = margs.get("password", ""), margs.get("name", "")
    if not password:
        return _missing("password")
    if not name:
        return _missing("name")
    site_url = conns.d.config.ServiceSettings.SiteURL
    if not site_url:
        return "Site URL not set. Please set this in System Console > Environment > Web Server."
    try:
        _rc, code, _ = await conns.create(actor, name=name, display_name=margs.get("displayname") or name,
                                          password=password, require_team=False)
    except AppError as err:
        return f"Could not add secure connection: {err.message}"
    return ("##### Invitation created.\n"
            "Send the following AES 256-bit encrypted invitation to the external Mattermost System Admin along with "
            "the password. They will use the `/secure-connection accept` slash command to accept the invitation."
            f"\n\n```\n{code}\n```\n\n**Ensure the secure connection can access your Mattermost instance via** "
            f"{site_url}")


async def _accept(conns: Connections, actor: Actor, margs: dict[str, str]) -> str:
    password, name, blob = margs.get("password", ""), margs.get("name", ""), margs.get("invite", "")
    if not password:
        return _missing("password")
    if not name:
        return _missing("name")
    if not blob:
        return _missing("invite")
    if not conns.d.config.ServiceSettings.SiteURL:
        return "Site URL not set. Please set this in System Console > Environment > Web Server."
    try:
        rc = await conns.accept(actor, name=name, display_name=margs.get("displayname") or name, invite=blob,
                                password=password, require_team=False)
    except AppError as err:
        if err.id.startswith(_DECODE_ERRORS):
            return f"Could not decode invitation: {err.message}"
        return f"Could not accept invitation: {err.message}"
    return f"##### Invitation accepted and confirmed.\nSiteURL: {rc.shown_site_url}"


async def _remove(conns: Connections, actor: Actor, margs: dict[str, str]) -> str:
    remote_id = margs.get("connectionID")
    if remote_id is None:
        return _missing("remoteId")
    try:
        deleted = await conns.delete(actor, remote_id)
    except AppError as err:
        return f"Could not remove secure connection: {err.message}"
    return f"##### Secure connection {remote_id} {'removed' if deleted else '**NOT FOUND**'}."


async def _status(conns: Connections, actor: Actor) -> str:
    found = await conns.list_connections(actor, RemoteFilter(include_deleted=True))
    if not found:
        return "** No secure connections found. **"
    lines = ["| Secure connection | Display name | Connection ID | Site URL | Default Team | Invite accepted | Online "
             "| Last ping | Deleted | ",
             "| :---- | :---- | :---- | :---- | :---- | :---- | :---- | :---- | | :---- |"]
    for rc in found:
        lines.append(f"| {rc.name} | {rc.display_name} | {rc.remote_id} | {rc.shown_site_url} | {rc.default_team_id} "
                     f"| {_bool(rc.is_confirmed)} | {_bool(conns.is_online(rc))} | {format_timestamp(rc.last_ping_at)} "
                     f"| {_bool(rc.delete_at != 0)} |")
    return "\n".join(lines) + "\n"


async def connection_suggestions(conns: Connections, actor: Actor) -> list[tuple[str, str]]:
    """Autocomplete for ``remove --connectionID``: (id, "display name  (site url)") of live connections."""
    if not has_system_permission(conns.d, actor, PERMISSION_MANAGE_SECURE_CONNECTIONS) or \
            not dom.service_enabled(conns.d):
        return []
    return [(rc.remote_id, f"{rc.display_name}  ({rc.shown_site_url})")
            for rc in await conns.list_connections(actor, RemoteFilter())]
