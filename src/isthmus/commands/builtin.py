"""The built-in slash commands and the registry the composition root builds.

Message built-ins (``/me``, ``/shrug``, ``/echo``, ``/msg``) and status built-ins (``/away``,
``/online``, ``/dnd``, ``/offline``) live here; channel built-ins in ``channel_cmds.py``; the
connected-workspaces commands wrap ``connected.py``. Texts are Mattermost's English strings.

More commands are ``registry.Command`` objects passed as ``extra`` to ``build_registry`` (the
composition root adds ``/share-channel`` from ``share_channel.py`` that way).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from isthmus.core.errors import AppError
from isthmus.domain import channels, posts, statuses, teams, users
from isthmus.domain.context import Domain
from isthmus.domain.sharing import direct as share_direct
from isthmus.federation.connections import Connections

from . import connected
from .autocomplete import Arg, AutocompleteData, ListItem
from .channel_cmds import channel_commands
from .registry import (
    EPHEMERAL,
    IN_CHANNEL,
    Command,
    CommandArgs,
    CommandResponse,
    Registry,
    SuggestArgs,
    create_post_failed,
    ephemeral,
)

log = logging.getLogger(__name__)

SHRUG = r"¯\\\_(ツ)\_/¯"  # Mattermost's text, escaped for Markdown (renders as ¯\_(ツ)_/¯)
ECHO_MAX_DELAY_S = 10_000
_ATOI = re.compile(r"[+-]?[0-9]{1,18}")  # what Go's strconv.Atoi accepts (and that fits an int64)


# --- /me and /shrug -------------------------------------------------------------------------------

async def me(a: CommandArgs) -> CommandResponse:
    return CommandResponse(response_type=IN_CHANNEL, type="me", text=f"*{a.message}*")


async def shrug(a: CommandArgs) -> CommandResponse:
    return CommandResponse(response_type=IN_CHANNEL, text=f"{a.message} {SHRUG}" if a.message else SHRUG)


# --- /echo ----------------------------------------------------------------------------------------

def parse_echo(message: str) -> tuple[str, int]:
    """Mattermost's /echo syntax: ``"quoted text" 5`` or ``text 5``; the delay is optional."""
    delay = 0
    end = message.rfind('"')
    if message.startswith('"') and end > 1:
        tail = message[end:].strip(' "')
        if _ATOI.fullmatch(tail):
            delay = int(tail)
        message = message[1:end]
    elif " " in message:
        index = message.rfind(" ")
        tail = message[index:].strip(" ")
        if _ATOI.fullmatch(tail):
            delay, message = int(tail), message[:index]
    return message, delay


def echo_command(registry: Registry) -> Command:
    async def echo(a: CommandArgs) -> CommandResponse:
        if a.message == "":
            return ephemeral("A message must be provided with the /echo command.")
        message, delay = parse_echo(a.message)
        if delay > ECHO_MAX_DELAY_S:
            return ephemeral("Delays must be under 10000 seconds.")
        if registry.busy():
            return ephemeral("High volume of echo request, cannot process request.")
        body = {"channel_id": a.channel.id, "root_id": a.root_id, "message": message}
        if delay <= 0:
            # Posted before answering (Mattermost posts from a goroutine), so a refusal is a clear error.
            try:
                await posts.do_create_post(a.d, a.actor, body)
            except AppError as err:
                raise create_post_failed(a.trigger, err) from None
        else:
            registry.spawn(_echo_later(a, body, delay))
        return CommandResponse()

    return Command("echo", "echo", "Echo back text from your account", "'message' [delay in seconds]", echo)


async def _echo_later(a: CommandArgs, body: dict[str, Any], delay: int) -> None:
    await asyncio.sleep(delay)
    try:
        await posts.do_create_post(a.d, a.actor, body)
    except AppError as err:  # the caller may have left the channel meanwhile
        log.warning("delayed /echo not posted: %s", err)


# --- /msg -----------------------------------------------------------------------------------------

async def msg(a: CommandArgs) -> CommandResponse:
    missing = ephemeral("Unable to find the user.")
    fail = ephemeral("An error occurred while messaging the user.")
    target, _, text = a.message.partition(" ")
    try:
        user = await users.get_user_by_username(a.d, target.removeprefix("@"))
    except AppError:
        return missing
    if user.id == a.actor.user_id:
        return missing
    try:
        dm = await channels.do_create_direct_channel(a.d, a.actor, [a.actor.user_id, user.id])
    except AppError as err:
        if err.status_code == 403 and err.id not in share_direct.REFUSAL_IDS:  # those say what to do
            return ephemeral("You don't have the appropriate permissions to direct message this user.")
        return ephemeral(err.message)
    if text:
        try:
            await posts.do_create_post(a.d, a.actor, {"channel_id": dm.id, "message": text})
        except AppError:
            return fail
    try:
        team = await teams.get_team(a.d, a.actor, a.team_id)
    except AppError:
        return fail
    return CommandResponse(response_type=EPHEMERAL, goto_location=f"{a.site_url}/{team.name}/channels/{dm.name}")


# --- statuses -------------------------------------------------------------------------------------

def status_command(status: str, description: str, text: str) -> Command:
    async def handler(a: CommandArgs) -> CommandResponse:
        await statuses.do_update_status(a.d, a.actor, a.actor.user_id, status)
        return ephemeral(text)

    return Command(status, status, description, "", handler)


# --- connected workspaces -------------------------------------------------------------------------

def secure_connection_command(conns: Connections) -> Command:
    """``/secure-connection`` with Mattermost's autocomplete tree (``command_remote.go``)."""
    name = ("name", "Secure connection name", "A unique name for the secure connection")
    display = ("displayname", "Secure connection display name", "A display name for the secure connection")
    password = ("password", "Invitation password", "Password to be used to encrypt the invitation")
    create = AutocompleteData("create", "", "Invite a secure connection")
    create.add_named_text(*name, True).add_named_text(*display, False).add_named_text(*password, True)
    accept = AutocompleteData("accept", "", "Accept an invitation from an external Mattermost instance")
    accept.add_named_text(*name, True).add_named_text(*display, False).add_named_text(*password, True)
    accept.add_named_text("invite", "Invitation from secure connection",
                          "The encrypted invitation from a secure connection", True)
    remove = AutocompleteData("remove", "", "Removes a secure connection")
    remove.add_named_dynamic_list("connectionID", "ID of secure connection to remove.",
                                  "builtin:" + connected.TRIGGER, True)
    tree = AutocompleteData(connected.TRIGGER, connected.HINT,
                            f"Add/remove secure connections. Available actions: {connected.ACTIONS}")
    for sub in (create, accept, remove, AutocompleteData("status", "", "Displays status for all secure connections")):
        tree.add_command(sub)

    async def handler(a: CommandArgs) -> CommandResponse:
        return ephemeral(await connected.secure_connection(conns, a.actor, a.message))

    async def lister(s: SuggestArgs, arg: Arg, parsed: str, _to_parse: str) -> list[ListItem]:
        if arg.name == "connectionID" and " remove " in parsed:
            return [ListItem(rid, help_text=label) for rid, label in await connected.connection_suggestions(conns,
                                                                                                          s.actor)]
        return []

    return Command(connected.TRIGGER, connected.TRIGGER, connected.DESCRIPTION, connected.HINT, handler,
                   autocomplete_data=tree, lister=lister)


# --- the registry ---------------------------------------------------------------------------------

def build_registry(d: Domain, conns: Connections, extra: list[Command] | None = None) -> Registry:
    """Every built-in, ``/secure-connection``, and ``extra`` (e.g. ``/share-channel``) on one registry."""
    registry = Registry(d)
    for command in [
        *channel_commands(),
        Command("me", "me", "Do an action", "[message]", me),
        Command("shrug", "shrug", "Adds ¯\\_(ツ)_/¯ to your message", "[message]", shrug),
        echo_command(registry),
        Command("msg", "message", "Send Direct Message to a user", "@[username] 'message'", msg),
        status_command("away", "Set your status away", "You are now away"),
        status_command("online", "Set your status online", "You are now online"),
        status_command("offline", "Set your status offline", "You are now offline"),
        status_command("dnd", "Do not disturb disables desktop and mobile push notifications.",
                       "Do Not Disturb is enabled. You will not receive desktop or mobile push notifications until "
                       "Do Not Disturb is turned off."),
        secure_connection_command(conns),
        *(extra or []),
    ]:
        registry.register(command)
    return registry
