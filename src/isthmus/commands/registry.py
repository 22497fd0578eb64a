"""The slash-command registry: parse ``/trigger message``, dispatch, deliver the answer, autocomplete.

Follows Mattermost's ``api4/command.go`` and ``app/command.go``:

- ``execute``: the caller must be able to post in the channel (403), the channel must be live (400),
  the trigger is the text up to the first whitespace, lower-cased; the message is everything after
  that one whitespace character, untouched. An unknown trigger is a 404.
- The handler answers a ``CommandResponse``. ``in_channel`` answers become a real post (through
  ``domain.posts``, so every post rule and event applies); ``ephemeral`` answers with text become a
  post shown to the caller only, an ``ephemeral_message`` websocket event that is never stored.
- Arguments in ``--flag value`` style are parsed by ``parse_named_args`` (Mattermost's
  ``parseNamedArgs``), shared by every command that takes flags.

Custom (outgoing-webhook) commands and plugins do not exist here; ``custom_only`` lists are empty.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from isthmus.core.errors import AppError, forbidden, invalid, invalid_param
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain import post_fields, posts, users
from isthmus.domain.access import access_channel, get_team_row, team_member_of, team_permissions
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor, Channel, Post
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import dumps, post_json
from isthmus.domain.sharing import plugin_components

from . import slack_links
from .autocomplete import SYSTEM_ADMIN_ROLE, SYSTEM_USER_ROLE, Arg, AutocompleteData, ListItem, Walker

ACTION_KEY = "-action"  # prefixed with a hyphen so it cannot collide with an argument named "action"
EPHEMERAL, IN_CHANNEL = "ephemeral", "in_channel"
MAX_COMMAND_CHARS = post_fields.MESSAGE_MAX_RUNES  # a command is typed where a message is; no longer than one
MAX_TRIGGER_SHOWN = 512
MAX_BACKGROUND_TASKS = 100  # /echo's semaphore in Mattermost
_SLACK_USER = re.compile(r"<@([A-Za-z0-9]+)>")
_ANNOUNCEMENTS = (("<!channel>", "@channel"), ("<!here>", "@here"), ("<!all>", "@all"))


# --- argument parsing -----------------------------------------------------------------------------

def _trim(value: str) -> str:
    value = value.strip()
    for quote in ('"', "'"):
        value = value.removeprefix(quote)
    for quote in ('"', "'"):
        value = value.removesuffix(quote)
    return value


def parse_named_args(args: str) -> dict[str, str]:
    """Mattermost's ``parseNamedArgs`` over the text after the trigger: ``<action> --arg value ...``.

    The optional first word (not starting with ``--``) is the action, under ``ACTION_KEY``. A value is
    the single whitespace-separated token after its ``--name``, with surrounding quotes trimmed; a
    name followed directly by another ``--name`` (or nothing) has the empty value; ``--`` alone is ignored.
    """
    split = args.split()
    out: dict[str, str] = {}
    if split and not split[0].startswith("--"):
        out[ACTION_KEY] = split[0]
    for i, word in enumerate(split):
        if not word.startswith("--"):
            continue
        name = _trim(word.strip("-"))
        value = _trim(split[i + 1]) if i + 1 < len(split) and not split[i + 1].startswith("--") else ""
        if name:
            out[name] = value
    return out


def split_command(command: str) -> tuple[str, str]:
    """``("/trigger", message)``: the trigger ends at the first whitespace, which is dropped."""
    for i, ch in enumerate(command):
        if ch.isspace():
            return command[:i].lower(), command[i + 1:]
    return command.lower(), ""


# --- the objects commands see and answer --------------------------------------------------------------

@dataclass(frozen=True)
class CommandArgs:
    d: Domain
    actor: Actor
    channel: Channel  # where the command was typed: readable by the caller, who may post there, not archived
    team_id: str  # the channel's team; for direct/group channels the team the client named (may be "")
    root_id: str
    site_url: str
    command: str
    trigger: str
    message: str


@dataclass
class CommandResponse:
    response_type: str = ""
    text: str = ""
    username: str = ""
    channel_id: str = ""
    icon_url: str = ""
    type: str = ""
    props: dict[str, Any] | None = None
    goto_location: str = ""
    trigger_id: str = ""
    skip_slack_parsing: bool = False
    attachments: list[Any] | None = None
    extra_responses: list[CommandResponse] | None = None

    def to_json(self) -> dict[str, Any]:
        """Mattermost's ``model.CommandResponse``: snake_case, nothing omitted, nil collections are null."""
        return {"response_type": self.response_type, "text": self.text, "username": self.username,
                "channel_id": self.channel_id, "icon_url": self.icon_url, "type": self.type,
                "props": self.props, "goto_location": self.goto_location, "trigger_id": self.trigger_id,
                "skip_slack_parsing": self.skip_slack_parsing, "attachments": self.attachments,
                "extra_responses": None if self.extra_responses is None
                else [r.to_json() for r in self.extra_responses]}


def ephemeral(text: str) -> CommandResponse:
    return CommandResponse(response_type=EPHEMERAL, text=text)


@dataclass(frozen=True)
class SuggestArgs:
    d: Domain
    actor: Actor
    team_id: str
    channel_id: str
    root_id: str


Handler = Callable[[CommandArgs], Awaitable[CommandResponse]]
Lister = Callable[[SuggestArgs, Arg, str, str], Awaitable[list[ListItem]]]


@dataclass
class Command:
    trigger: str
    display_name: str
    description: str  # auto_complete_desc
    hint: str
    handler: Handler
    autocomplete_data: AutocompleteData | None = None
    lister: Lister | None = None  # items of this command's ``builtin:<trigger>`` dynamic lists
    auto_complete: bool = True

    def to_json(self) -> dict[str, Any]:
        """A built-in ``model.Command`` after ``Sanitize()`` (no token, creator, method or URL)."""
        out: dict[str, Any] = {
            "id": "", "token": "", "create_at": 0, "update_at": 0, "delete_at": 0, "creator_id": "",
            "team_id": "", "trigger": self.trigger, "method": "", "username": "", "icon_url": "",
            "auto_complete": self.auto_complete, "auto_complete_desc": self.description,
            "auto_complete_hint": self.hint, "display_name": self.display_name, "description": "", "url": "",
            "plugin_id": ""}
        if self.autocomplete_data is not None:
            out["autocomplete_data"] = self.autocomplete_data.to_json()
        return out

    def tree(self) -> AutocompleteData:
        return self.autocomplete_data or AutocompleteData(self.trigger, self.hint, self.description)


def _start_error() -> AppError:
    return invalid("api.command.execute_command.start.app_error", "No command trigger found.")


def _not_found(trigger: str) -> AppError:
    if len(trigger) > MAX_TRIGGER_SHOWN:
        trigger = trigger[:MAX_TRIGGER_SHOWN] + "..."
    return AppError("api.command.execute_command.not_found.app_error",
                    f"Command with a trigger of '{trigger}' not found. To send a message beginning with \"/\", "
                    "try adding an empty space at the beginning of the message.", 404)


def create_post_failed(trigger: str, err: AppError) -> AppError:
    """Mattermost answers a failed response post with a 500; the cause here is the caller's input, so
    the status is the underlying error's (400 for an oversize message, 403 for a read-only channel)."""
    return AppError("api.command.execute_command.create_post_failed.app_error",
                    f"Command '{trigger}' failed to post response. Please contact your System Administrator.",
                    err.status_code, f"{err.id}: {err.message}")


# --- the registry ---------------------------------------------------------------------------------

@dataclass
class Registry:
    d: Domain
    _commands: dict[str, Command] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def register(self, command: Command) -> None:
        if command.trigger in self._commands:
            raise ValueError(f"slash command /{command.trigger} is already registered")
        self._commands[command.trigger] = command

    def get(self, trigger: str) -> Command | None:
        return self._commands.get(trigger)

    def commands(self) -> list[Command]:
        return sorted(self._commands.values(), key=lambda c: c.trigger.lower())

    # background work (delayed /echo) is owned here so stopping the server cancels it
    def busy(self) -> bool:
        return len(self._tasks) >= MAX_BACKGROUND_TASKS

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- execute ----------------------------------------------------------------------------------

    async def execute(self, actor: Actor, body: dict[str, Any], site_url: str) -> CommandResponse:
        command, channel_id = body.get("command") or "", body.get("channel_id") or ""
        team_id, root_id = body.get("team_id") or "", body.get("root_id") or body.get("parent_id") or ""
        if not all(isinstance(v, str) for v in (command, channel_id, team_id, root_id)):
            raise invalid_param("command_args")
        assert isinstance(command, str) and isinstance(channel_id, str)
        if len(command) <= 1 or not command.startswith("/") or not is_valid_id(channel_id):
            raise _start_error()
        if len(command) > MAX_COMMAND_CHARS:
            raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing command in request body.",
                          f"a command has at most {MAX_COMMAND_CHARS} characters")
        for name, value in (("team_id", team_id), ("root_id", root_id)):
            if value and not is_valid_id(value):
                raise invalid("api.context.invalid_body_param.app_error",
                              f"Invalid or missing {name} in request body.")
        channel, team_id = await self._channel_for(actor, channel_id, team_id)
        trigger, message = split_command(command)
        cmd = self._commands.get(trigger[1:])
        if cmd is None:
            raise _not_found(trigger[1:])
        args = CommandArgs(self.d, actor, channel, team_id, root_id, site_url.rstrip("/"), command,
                           trigger[1:], message)
        response = await cmd.handler(args)
        await self._deliver(args, response)
        for extra in response.extra_responses or []:
            await self._deliver(args, extra)
        return response

    async def _channel_for(self, actor: Actor, channel_id: str, team_id: str) -> tuple[Channel, str]:
        """The channel (if the caller may post there) and the team the command runs against."""
        async with self.d.db.read() as conn:
            try:
                channel = await access_channel(self.d, conn, actor, channel_id, "create_post")
            except AppError as err:
                # Mattermost checks the permission first, so an unknown channel is a 403 as well.
                if err.status_code == 404 and not has_system_permission(self.d, actor, "manage_system"):
                    raise forbidden("create_post") from None
                if err.status_code == 403:
                    raise forbidden("create_post") from None
                raise
            if channel.delete_at:
                raise invalid("api.command.execute_command.deleted.error", "Can not run command in deleted channel.")
            if channel.type not in ("D", "G"):
                return channel, channel.team_id  # never another team's: commands act on this team
            # In a direct/group channel the client names the team; it must be one of the caller's.
            if team_id and await team_member_of(conn, team_id, actor.user_id) is None \
                    and not has_system_permission(self.d, actor, "create_post"):
                raise forbidden("create_post")
        return channel, team_id

    async def _deliver(self, args: CommandArgs, resp: CommandResponse) -> None:
        """Mattermost's ``HandleCommandResponsePost``: a post in the channel, or one for the caller only."""
        channel_id = args.channel.id
        if resp.channel_id and resp.channel_id != channel_id:
            async with self.d.db.read() as conn:
                try:
                    await access_channel(self.d, conn, args.actor, resp.channel_id, "create_post")
                except AppError:
                    raise AppError("api.command.command_post.forbidden.app_error",
                                   "Specified user is not a member of specified channel.", 403) from None
            channel_id = resp.channel_id
        if resp.type.startswith("system_"):
            raise invalid_param("post.type")
        if not resp.skip_slack_parsing:
            resp.text = await process_slack_text(self.d, resp.text)
        message = resp.text if resp.skip_slack_parsing else parse_slack_links(resp.text)
        props = dict(resp.props or {})
        if resp.attachments:
            props["attachments"] = resp.attachments
        if resp.response_type == IN_CHANNEL:
            try:
                await posts.do_create_post(self.d, args.actor, {
                    "channel_id": channel_id, "root_id": args.root_id, "message": message, "type": resp.type,
                    "props": props})
            except AppError as err:
                raise create_post_failed(args.trigger, err) from None
        elif resp.response_type in ("", EPHEMERAL) and (resp.text or resp.attachments):
            await send_ephemeral(self.d, args.actor.user_id, channel_id, args.root_id, message, props)

    # --- listing and autocomplete -----------------------------------------------------------------

    async def _team_permissions(self, actor: Actor, team_id: str) -> frozenset[str]:
        async with self.d.db.read() as conn:
            await get_team_row(conn, team_id)
            perms = await team_permissions(self.d, conn, actor, team_id)
        if "view_team" not in perms:
            raise forbidden("view_team")
        return perms

    async def list_commands(self, actor: Actor, team_id: str, custom_only: bool) -> list[dict[str, Any]]:
        """GET /commands: the built-ins (custom commands are not supported, so ``custom_only`` lists none)."""
        if not team_id:
            raise invalid_param("team_id")
        perms = await self._team_permissions(actor, team_id)
        if custom_only:
            if not {"manage_own_slash_commands", "manage_slash_commands"} & perms:
                raise forbidden("manage_own_slash_commands")
            return []
        return [c.to_json() for c in self.commands() if c.auto_complete]

    async def autocomplete_commands(self, actor: Actor, team_id: str) -> list[dict[str, Any]]:
        await self._team_permissions(actor, team_id)
        return [c.to_json() for c in self.commands() if c.auto_complete]

    async def suggestions(self, actor: Actor, team_id: str, user_input: str, channel_id: str,
                          root_id: str) -> list[dict[str, str]]:
        await self._team_permissions(actor, team_id)
        if not user_input:
            raise invalid_param("userInput")
        ctx = SuggestArgs(self.d, actor, team_id, channel_id, root_id)

        async def lister(trigger: str, arg: Arg, parsed: str, to_parse: str) -> list[ListItem]:
            cmd = self._commands.get(trigger)
            if cmd is None or cmd.lister is None:
                raise LookupError(f"no dynamic list for {trigger}")
            return await cmd.lister(ctx, arg, parsed, to_parse)

        role = SYSTEM_ADMIN_ROLE if actor.is_system_admin else SYSTEM_USER_ROLE
        trees = [c.tree() for c in self.commands() if c.auto_complete]
        return await Walker(lister, role).suggest(trees, "", user_input.removeprefix("/"))


# --- delivery helpers -----------------------------------------------------------------------------

async def send_ephemeral(d: Domain, user_id: str, channel_id: str, root_id: str, message: str,
                         props: dict[str, Any] | None = None) -> Post:
    """Mattermost's ``SendEphemeralPost``: an unsaved post pushed to one user's websockets only."""
    now = d.now()
    props = await plugin_components.for_channel(d, channel_id, props or {})  # buttons of a shared channel
    post = Post(id=new_id(), create_at=now, update_at=now, edit_at=0, delete_at=0, is_pinned=False,
                user_id=user_id, channel_id=channel_id, root_id=root_id, original_id="", message=message,
                type="system_ephemeral", props=props, hashtags="", file_ids=[], pending_post_id="",
                has_reactions=False, reply_count=0, last_reply_at=0, participants=[], remote_id=None)
    # Nothing is written, so there is no transaction to wait for; scoped to the user, never the channel.
    await d.bus.publish([Event("ephemeral_message", {"post": dumps(post_json(post))}, user_id=user_id)])
    return post


def parse_slack_links(text: str) -> str:
    """``<url|text>`` → ``[text](url)`` (Mattermost's ``ParseSlackLinksToMarkdown``), in linear time."""
    return slack_links.parse_slack_links(text)


async def process_slack_text(d: Domain, text: str) -> str:
    """``<!channel>`` → ``@channel`` and ``<@userid>`` → ``@username`` (Mattermost's ``ProcessSlackText``)."""
    for slack, ours in _ANNOUNCEMENTS:
        text = text.replace(slack, ours)
    ids = list(dict.fromkeys(_SLACK_USER.findall(text)))
    if ids:
        for user in await users.list_users_by_ids(d, ids[:100]):
            text = text.replace(f"<@{user.id}>", "@" + user.username)
    return text
