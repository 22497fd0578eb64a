"""``/share-channel invite|uninvite|unshare|status`` (and the hidden ``share``): Mattermost's ``command_share.go``.

Same arguments, same English texts. ``invite`` shares the current channel first when needed (``--readonly``
applies only then), and the invite itself is delivered by the connection's sender: right away when the
peer is online, or as soon as it comes back.
"""

from __future__ import annotations

from isthmus.commands.autocomplete import Arg, AutocompleteData, ListItem
from isthmus.commands.connected import format_timestamp
from isthmus.commands.registry import (
    ACTION_KEY,
    Command,
    CommandArgs,
    CommandResponse,
    SuggestArgs,
    ephemeral,
    parse_named_args,
)
from isthmus.core.errors import AppError
from isthmus.domain import remotes as rdom
from isthmus.domain.models import Actor
from isthmus.domain.permissions import PERMISSION_MANAGE_SHARED_CHANNELS
from isthmus.domain.roles import has_system_permission
from isthmus.domain.sharing import shares
from isthmus.federation.sync.service import SharedChannels
from isthmus.store.repo.remotes import RemoteFilter

TRIGGER = "share-channel"
ACTIONS = "invite, uninvite, unshare, status"
DESCRIPTION = "Shares the current channel with an external Mattermost instance."
HINT = "[action]"
_TRUE, _FALSE = ("y", "yes", "true", "1", "t"), ("n", "no", "false", "0", "f")


def _bool(value: bool) -> str:
    return "True" if value else "False"


async def share_channel(svc: SharedChannels, actor: Actor, channel_id: str, args: str) -> str:
    d = svc.d
    if not has_system_permission(d, actor, PERMISSION_MANAGE_SHARED_CHANNELS):
        return f"You require `{PERMISSION_MANAGE_SHARED_CHANNELS}` permission to manage shared channels."
    if not d.config.ConnectedWorkspacesSettings.EnableSharedChannels:
        return "Shared Channels Service is disabled."
    if not rdom.service_enabled(d):
        return "Secure Connection Service not enabled."
    margs = parse_named_args(args)
    action = margs.get(ACTION_KEY)
    if action is None:
        return f"Missing action. Available actions: {ACTIONS}"
    try:
        if action == "share":
            return await _share(svc, actor, channel_id, margs)
        if action == "invite":
            return await _invite(svc, actor, channel_id, margs)
        if action == "uninvite":
            return await _uninvite(svc, actor, channel_id, margs)
        if action == "unshare":
            return await _unshare(svc, actor, channel_id)
        if action == "status":
            return await _status(svc, actor, channel_id)
    except AppError as err:
        return f"Error: {err.message}"
    return f"Unknown action `{action}`. Available actions: {ACTIONS}"


def _readonly(margs: dict[str, str]) -> bool | str:
    raw = margs.get("readonly", "N").strip().lower() or "n"
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    return f"Invalid value for 'readonly': expected Y or N, got {margs.get('readonly')!r}"


async def _share(svc: SharedChannels, actor: Actor, channel_id: str, margs: dict[str, str]) -> str:
    readonly = _readonly(margs)
    if isinstance(readonly, str):
        return readonly
    try:
        await shares.do_share_channel(svc.d, actor, channel_id, readonly=readonly)
    except AppError as err:
        return f"Cannot share this channel: {err.message}"
    return "##### This channel is now shared."


async def _invite(svc: SharedChannels, actor: Actor, channel_id: str, margs: dict[str, str]) -> str:
    remote_id = margs.get("connectionID", "")
    if not remote_id:
        return "Must specify a valid secure connection ID to invite."
    row = await shares.get_channel_remote(svc.d, channel_id, remote_id)
    if row is not None and not row.delete_at:
        return "The secure connection has already been invited."
    readonly = _readonly(margs)
    if isinstance(readonly, str):
        return readonly
    share = await shares.get_share(svc.d, channel_id)
    if share is not None and not share.home:
        return "Cannot invite secure connection to a shared channel originating somewhere else."
    try:
        rc = await rdom.get_remote(svc.d, remote_id)
    except AppError as err:
        return f"Secure connection ID is invalid: {err.message}"
    try:
        await svc.share.invite(actor, channel_id, rc.remote_id, readonly=readonly)
    except AppError as err:
        if err.id == shares.not_home_error().id:
            return "Cannot invite secure connection to a shared channel originating somewhere else."
        return f"Error inviting `{rc.display_name}` to this channel: {err.message}"
    text = f"##### Shared channel invitation has been sent to `{rc.display_name} {rc.site_url}`."
    if not svc.conns.is_online(rc):
        text += "\nThe secure connection is offline: the invitation will be delivered when it is back online."
    return ("##### This channel is now shared.\n" + text) if share is None else text


async def _uninvite(svc: SharedChannels, actor: Actor, channel_id: str, margs: dict[str, str]) -> str:
    remote_id = margs.get("connectionID", "")
    if not remote_id:
        return "Must specify a valid secure connection ID to uninvite"
    if not await svc.share.uninvite(actor, channel_id, remote_id):
        return f"Shared channel secure connection `{remote_id}` does not exist for this channel."
    return f"##### Secure connection `{remote_id}` uninvited."


async def _unshare(svc: SharedChannels, actor: Actor, channel_id: str) -> str:
    if await shares.get_share(svc.d, channel_id) is None:
        return "Cannot unshare a channel that is not shared."
    await svc.share.unshare(actor, channel_id)
    return "##### This channel is no longer shared."


async def _status(svc: SharedChannels, actor: Actor, channel_id: str) -> str:
    statuses = await svc.share.status(actor, channel_id)
    if not statuses:
        return "No secure connections have been invited to this channel."
    lines = [f"Status for channel ID `{channel_id}`", "",
             "| Secure connection | Site URL | Read only | Invite accepted | Online | Last sync | ",
             "| ---- | ---- | ---- | ---- | ---- | ---- | "]
    for s in statuses:
        accepted = s.is_invite_accepted and s.is_invite_confirmed
        lines.append(f"| {s.display_name} | {s.site_url} | {_bool(s.readonly)} | {_bool(accepted)} | "
                     f"{_bool(s.online)} | {format_timestamp(s.last_ping_at)} |")
    return "\n".join(lines)


async def suggestions(svc: SharedChannels, actor: Actor, channel_id: str, inviting: bool) -> list[tuple[str, str]]:
    """connectionID choices: for ``invite`` the connections not in the channel, for ``uninvite`` those in it."""
    if not has_system_permission(svc.d, actor, PERMISSION_MANAGE_SHARED_CHANNELS) or \
            not shares.shares_enabled(svc.d):
        return []
    f = RemoteFilter(only_confirmed=True, not_in_channel=channel_id) if inviting else \
        RemoteFilter(in_channel=channel_id)
    return [(rc.remote_id, f"{rc.display_name}  ({rc.shown_site_url})")
            for rc in await rdom.list_remotes(svc.d, f)]


def share_channel_command(svc: SharedChannels) -> Command:
    """``/share-channel`` with Mattermost's autocomplete tree."""
    tree = AutocompleteData(TRIGGER, HINT, f"Available actions: {ACTIONS}")
    invite = AutocompleteData("invite", "", "Invites an external Mattermost instance to the current shared channel")
    invite.add_named_dynamic_list("connectionID", "ID of an existing secure connection. See `secure-connection` "
                                  "command to add a secure connection.", "builtin:" + TRIGGER, True)
    invite.add_named_text("readonly", "Channel will be shared in read-only mode",
                          "[readonly] - 'Y' or 'N'.  Defaults to 'N'", False)
    uninvite = AutocompleteData("uninvite", "", "Uninvites a secure connection from this shared channel")
    uninvite.add_named_dynamic_list("connectionID", "ID of secure connection to uninvite.", "builtin:" + TRIGGER,
                                    True)
    for sub in (invite, uninvite, AutocompleteData("unshare", "", "Unshares the current channel"),
                AutocompleteData("status", "", "Displays status for this shared channel")):
        tree.add_command(sub)

    async def handler(a: CommandArgs) -> CommandResponse:
        return ephemeral(await share_channel(svc, a.actor, a.channel.id, a.message))

    async def lister(s: SuggestArgs, arg: Arg, parsed: str, _to_parse: str) -> list[ListItem]:
        if arg.name != "connectionID" or not s.channel_id:
            return []
        inviting = " invite " in parsed
        if not inviting and " uninvite " not in parsed:
            return []
        return [ListItem(rid, help_text=label) for rid, label in await suggestions(svc, s.actor, s.channel_id,
                                                                                   inviting)]

    return Command(TRIGGER, TRIGGER, DESCRIPTION, HINT, handler, autocomplete_data=tree, lister=lister)
