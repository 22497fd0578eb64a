"""Channel built-ins: ``/join``, ``/leave``, ``/invite``, ``/kick`` and ``/remove``, ``/header``, ``/purpose``.

Ports of Mattermost's ``app/slashcommands/command_*.go`` with the same checks in the same order and
the same English texts. Every change goes through ``domain.channels`` / ``domain.members``, which
apply the permission rules again; the checks here only pick Mattermost's wording for a refusal.
"""

from __future__ import annotations

import logging

from isthmus.core.errors import AppError
from isthmus.domain import channels, members, teams, users
from isthmus.domain.access import channel_member_of, channel_permissions
from isthmus.domain.channels import HEADER_MAX, PURPOSE_MAX, TOWN_SQUARE
from isthmus.domain.models import Channel, User

from .registry import Command, CommandArgs, CommandResponse, ephemeral

log = logging.getLogger(__name__)

JOIN_FAIL = "An error occurred while joining the channel."
LEAVE_FAIL = "An error occurred while leaving the channel."
_CHANNEL_HANDLE = ("Please use the [channel handle](https://docs.mattermost.com/messaging/managing-channels.html"
                   "#naming-a-channel) to identify channels.")
_NOT_IN_TEAM_IDS = ("api.channel.add_user.to.channel.failed.deleted.app_error", "app.team.get_member.missing.app_error")


def _goto(a: CommandArgs, team_name: str, channel_name: str) -> CommandResponse:
    return CommandResponse(goto_location=f"{a.site_url}/{team_name}/channels/{channel_name}")


async def _perms(a: CommandArgs, channel: Channel) -> frozenset[str]:
    async with a.d.db.read() as conn:
        return await channel_permissions(a.d, conn, a.actor, channel)


async def _is_member(a: CommandArgs, channel_id: str, user_id: str) -> bool:
    async with a.d.db.read() as conn:
        return await channel_member_of(conn, channel_id, user_id) is not None


async def _active_user(a: CommandArgs, username: str) -> User | None:
    try:
        user = await users.get_user_by_username(a.d, username)
    except AppError:
        return None
    return user if user.delete_at == 0 else None


# --- /join ----------------------------------------------------------------------------------------

async def join(a: CommandArgs) -> CommandResponse:
    typed = a.message.strip()
    name = typed[1:] if typed.startswith("~") else typed.lower()
    try:
        channel = await channels.get_channel_by_name(a.d, a.actor, a.team_id, name.lower(), include_deleted=True)
    except AppError as err:
        # A public channel of a team the caller is not in exists but cannot be joined.
        return ephemeral(JOIN_FAIL if err.status_code == 403 else "An error occurred while listing channels.")
    if channel.name != name:  # "~Town-Square": Mattermost finds it case-insensitively, then refuses
        return ephemeral("Unable to find the channel.")
    if channel.type not in ("O", "P"):
        return ephemeral(JOIN_FAIL)
    try:
        # Public: needs join_public_channels; private: the caller could read it (member or admin).
        await members.do_add_channel_members(a.d, a.actor, channel.id, [a.actor.user_id])
        team = await teams.get_team(a.d, a.actor, channel.team_id)
    except AppError:
        return ephemeral(JOIN_FAIL)
    return _goto(a, team.name, channel.name)


# --- /leave ---------------------------------------------------------------------------------------

async def leave(a: CommandArgs) -> CommandResponse:
    try:
        team = await teams.get_team(a.d, a.actor, a.team_id)
    except AppError:
        return ephemeral(LEAVE_FAIL)
    try:
        await members.do_remove_channel_member(a.d, a.actor, a.channel.id, a.actor.user_id)
    except AppError:
        if a.channel.name == TOWN_SQUARE:
            return ephemeral(f"Unable to leave the default channel {TOWN_SQUARE}.")
        return ephemeral(LEAVE_FAIL)
    try:
        member = await teams.get_team_member(a.d, a.actor, team.id, a.actor.user_id)
    except AppError:
        return CommandResponse(goto_location=a.site_url + "/")
    if member.delete_at:
        return CommandResponse(goto_location=a.site_url + "/")
    return _goto(a, team.name, TOWN_SQUARE)


# --- /invite --------------------------------------------------------------------------------------

async def invite(a: CommandArgs) -> CommandResponse:
    return ephemeral(await _invite(a))


async def _invite(a: CommandArgs) -> str:
    if a.message == "":
        return "Missing Username and/or Channel."
    resps: list[str] = []
    targets: list[User] = []
    chans: list[Channel] = []
    for j, word in enumerate(a.message.split(" ")):
        if word == "":
            continue
        if word[0] == "@" or (word[0] != "~" and j == 0):
            name = word.removeprefix("@")
            user = await _active_user(a, name)
            if user is None:
                resps.append(f"We couldn't find the user {name}. They may have been deactivated by the System "
                             "Administrator.")
                continue
            targets.append(user)
        else:
            name = word.removeprefix("~")
            try:
                chans.append(await channels.get_channel_by_name(a.d, a.actor, a.team_id, name))
            except AppError:
                resps.append(f"Could not find the channel {name}. {_CHANNEL_HANDLE}")
    if not targets:
        return "\n".join(resps) if resps else "Missing Username and/or Channel."
    if not chans:
        if resps:
            return "\n".join(resps)
        chans = [a.channel]
    allowed = await _invite_permitted(a, resps, targets[0], chans)

    in_channel: list[str] = []
    added: dict[str, list[str]] = {}
    not_in_team: dict[str, list[str]] = {}
    failed: list[str] = []
    for channel in allowed:
        team_display = ""
        for user in targets:
            if await _is_member(a, channel.id, user.id):
                in_channel.append(user.username)
                continue
            try:
                await members.do_add_channel_members(a.d, a.actor, channel.id, [user.id])
            except AppError as err:
                if err.id in _NOT_IN_TEAM_IDS:
                    if not team_display:
                        try:
                            team_display = (await teams.get_team(a.d, a.actor, channel.team_id)).display_name
                        except AppError:
                            team_display = "unknown"
                    not_in_team.setdefault(team_display, []).append(user.username)
                else:
                    log.warning("/invite could not add %s to %s: %s", user.id, channel.id, err)
                    failed.append(user.username)
                continue
            if channel.id != a.channel.id:
                added.setdefault(channel.name, []).append(user.username)

    if in_channel:
        if len(in_channel) > 10:
            resps.append(f"@{in_channel[0]} and {len(in_channel) - 1} others are already in the channel.")
        else:
            verb = "is" if len(in_channel) == 1 else "are"
            resps.append(f"@{', @'.join(in_channel)} {verb} already in the channel.")
    for name, who in added.items():
        if len(who) > 10:
            resps.append(f"@{who[0]} and {len(who) - 1} added to {name} channel.")
        else:
            resps.append(f"@{', @'.join(who)} added to {name} channel.")
    for team_name, who in not_in_team.items():
        if len(who) > 10:
            resps.append(f"You can add @{who[0]} and {len(who) - 1} others to this channel once they are members "
                         f"of the **{team_name}** team.")
        else:
            resps.append(f"You can add @{', @'.join(who)} to this channel once they are members of the "
                         f"**{team_name}** team.")
    if failed:
        resps.append(JOIN_FAIL)
    return "\n".join(resps)


async def _invite_permitted(a: CommandArgs, resps: list[str], first: User, chans: list[Channel]) -> list[Channel]:
    """Mattermost's ``checkPermissions``: the channels the caller may add members to."""
    ok: list[Channel] = []
    for channel in chans:
        if channel.type not in ("O", "P"):
            resps.append("You can't add someone to a direct message channel.")
            continue
        needed = "manage_public_channel_members" if channel.type == "O" else "manage_private_channel_members"
        if needed not in await _perms(a, channel):
            if channel.type == "O" or await _is_member(a, channel.id, a.actor.user_id):
                resps.append(f"You don't have enough permissions to add {first.username} in {channel.name}.")
            else:
                resps.append(f"Could not find the channel {channel.name}. {_CHANNEL_HANDLE}")
            continue
        ok.append(channel)
    return ok


# --- /kick and /remove ----------------------------------------------------------------------------

async def remove(a: CommandArgs) -> CommandResponse:
    channel = a.channel
    if channel.type not in ("O", "P"):
        return ephemeral("You can't remove someone from a direct message channel.")
    needed = "manage_public_channel_members" if channel.type == "O" else "manage_private_channel_members"
    if needed not in await _perms(a, channel):
        return ephemeral("You don't have the appropriate permissions to remove the member.")
    if a.message == "":
        return ephemeral("A message must be provided with the /remove or /kick command.")
    user = await _active_user(a, a.message.split(" ", 1)[0].removeprefix("@"))
    if user is None:
        return ephemeral("We couldn't find the user. They may have been deactivated by the System Administrator.")
    if not await _is_member(a, channel.id, user.id):
        return ephemeral(f"{user.username} is not a member of this channel.")
    try:
        await members.do_remove_channel_member(a.d, a.actor, channel.id, user.id)
    except AppError as err:
        return ephemeral(err.message)  # e.g. "Unable to remove user from the default channel town-square."
    return CommandResponse()


# --- /header and /purpose -------------------------------------------------------------------------

async def header(a: CommandArgs) -> CommandResponse:
    denied = ephemeral("You don't have the appropriate permissions to edit the channel header.")
    channel = a.channel
    if channel.type in ("O", "P"):
        needed = "manage_public_channel_properties" if channel.type == "O" else "manage_private_channel_properties"
        if needed not in await _perms(a, channel):
            return denied
    elif not await _is_member(a, channel.id, a.actor.user_id):  # direct/group: any member may
        return denied
    if a.message == "":
        return ephemeral("Text must be provided with the /header command.")
    try:
        await channels.do_patch_channel(a.d, a.actor, channel.id, {"header": a.message})
    except AppError as err:
        if err.id == "model.channel.is_valid.header.app_error":
            return ephemeral("The text entered exceeds the character limit. The channel header is limited to "
                             f"{HEADER_MAX} characters.")
        return ephemeral("Error updating the channel header.")
    return CommandResponse()


async def purpose(a: CommandArgs) -> CommandResponse:
    channel = a.channel
    if channel.type not in ("O", "P"):
        return ephemeral("Unable to set purpose for direct message channels. Use /header to set the header instead.")
    needed = "manage_public_channel_properties" if channel.type == "O" else "manage_private_channel_properties"
    if needed not in await _perms(a, channel):
        return ephemeral("You don't have the appropriate permissions to edit the channel purpose.")
    if a.message == "":
        return ephemeral("A message must be provided with the /purpose command.")
    try:
        await channels.do_patch_channel(a.d, a.actor, channel.id, {"purpose": a.message})
    except AppError as err:
        if err.id == "model.channel.is_valid.purpose.app_error":
            return ephemeral("The text entered exceeds the character limit. The channel purpose is limited to "
                             f"{PURPOSE_MAX} characters.")
        return ephemeral("Error updating the channel purpose.")
    return CommandResponse()


def channel_commands() -> list[Command]:
    remove_desc, remove_hint = "Remove a member from the channel", "@[username]"
    return [
        Command("join", "join", "Join the open channel", "~[channel]", join),
        Command("leave", "leave", "Leave the current channel", "", leave),
        Command("invite", "invite", "Invite a user to a channel", "@[username]... ~[channel]...", invite),
        Command("kick", "kick", remove_desc, remove_hint, remove),
        Command("remove", "remove", remove_desc, remove_hint, remove),
        Command("header", "header", "Edit the channel header", "[text]", header),
        Command("purpose", "purpose", "Edit the channel purpose", "[text]", purpose),
    ]
