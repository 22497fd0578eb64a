"""Slash-command autocomplete: Mattermost's ``AutocompleteData`` tree and its suggestion walk.

A port of ``model/command_autocomplete.go`` (the data, JSON keys exactly as Go writes them: the
structs have no json tags, so they are CamelCase) and ``app/command_autocomplete.go`` (the walk
that turns ``user_input`` such as ``secure-connection remove --conn`` into suggestions). Only the
built-in dynamic lists exist here (``builtin:<trigger>``); plugins' URL lists do not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

SYSTEM_USER_ROLE, SYSTEM_ADMIN_ROLE = "system_user", "system_admin"
TEXT, STATIC_LIST, DYNAMIC_LIST = "TextInput", "StaticList", "DynamicList"


@dataclass(frozen=True)
class ListItem:
    item: str
    hint: str = ""
    help_text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"Item": self.item, "Hint": self.hint, "HelpText": self.help_text}


@dataclass(frozen=True)
class Arg:
    """A positional (``name == ""``) or named (``--name value``) argument."""

    name: str
    help_text: str
    type: str
    required: bool
    hint: str = ""  # TextInput
    pattern: str = ""  # TextInput
    items: tuple[ListItem, ...] = ()  # StaticList
    fetch_url: str = ""  # DynamicList ("builtin:<trigger>")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any]
        if self.type == TEXT:
            data = {"Hint": self.hint, "Pattern": self.pattern}
        elif self.type == STATIC_LIST:
            data = {"PossibleArguments": [i.to_json() for i in self.items]}
        else:
            data = {"FetchURL": self.fetch_url}
        return {"Name": self.name, "HelpText": self.help_text, "Type": self.type, "Required": self.required,
                "Data": data}


@dataclass
class AutocompleteData:
    trigger: str
    hint: str = ""
    help_text: str = ""
    role_id: str = SYSTEM_USER_ROLE
    arguments: list[Arg] = field(default_factory=list)
    sub_commands: list[AutocompleteData] = field(default_factory=list)

    def add_command(self, sub: AutocompleteData) -> AutocompleteData:
        self.sub_commands.append(sub)
        return self

    def add_named_text(self, name: str, help_text: str, hint: str, required: bool) -> AutocompleteData:
        self.arguments.append(Arg(name, help_text, TEXT, required, hint=hint))
        return self

    def add_named_dynamic_list(self, name: str, help_text: str, url: str, required: bool) -> AutocompleteData:
        self.arguments.append(Arg(name, help_text, DYNAMIC_LIST, required, fetch_url=url))
        return self

    def add_named_static_list(self, name: str, help_text: str, required: bool,
                              items: list[ListItem]) -> AutocompleteData:
        self.arguments.append(Arg(name, help_text, STATIC_LIST, required, items=tuple(items)))
        return self

    def to_json(self) -> dict[str, Any]:
        return {"Trigger": self.trigger, "Hint": self.hint, "HelpText": self.help_text, "RoleID": self.role_id,
                "Arguments": [a.to_json() for a in self.arguments],
                "SubCommands": [s.to_json() for s in self.sub_commands]}


def suggestion(complete: str, sugg: str = "", hint: str = "", description: str = "") -> dict[str, str]:
    """Mattermost's ``AutocompleteSuggestion`` JSON (CamelCase keys, no json tags in Go)."""
    return {"Complete": complete, "Suggestion": sugg, "Hint": hint, "Description": description, "IconData": ""}


# (arg, parsed, to_be_parsed) -> items of a ``builtin:<trigger>`` dynamic list
DynamicLister = Callable[[str, Arg, str, str], Awaitable[list[ListItem]]]
Result = tuple[bool, str, str, list[dict[str, str]]]


class Walker:
    """``getSuggestions`` and friends, with ``lister(trigger, arg, parsed, to_be_parsed)`` for dynamic lists."""

    def __init__(self, lister: DynamicLister, role_id: str) -> None:
        self.lister = lister
        self.role_id = role_id

    def _role_ok(self, command: AutocompleteData) -> bool:
        return self.role_id in ("", SYSTEM_ADMIN_ROLE) or command.role_id == self.role_id

    async def suggest(self, commands: list[AutocompleteData], parsed: str, to_parse: str) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        index = to_parse.find(" ")
        if index == -1:
            for command in commands:
                if command.trigger.startswith(to_parse.lower()) and self._role_ok(command):
                    out.append(suggestion(parsed + command.trigger, command.trigger, command.hint,
                                          command.help_text))
            return out
        for command in commands:
            if command.trigger != to_parse[:index].lower() or not self._role_ok(command):
                continue
            rest, now_parsed = to_parse[index + 1:], parsed + to_parse[:index + 1]
            if not command.arguments:
                out.extend(await self.suggest(command.sub_commands, now_parsed, rest))
                continue
            found, _, _, more = await self._arguments(command.arguments, now_parsed, rest)
            if found:
                out.extend(more)
        return out

    async def _arguments(self, args: list[Arg], parsed: str, to_parse: str) -> Result:
        if not args:
            return False, parsed, to_parse, []
        if args[0].required:
            found, p, t, got = await self._argument(args[0], parsed, to_parse)
            if found:
                return True, p, t, got
            return await self._arguments(args[1:], p, t)
        # An optional argument may be typed or not: walk both ways and merge the suggestions.
        out: list[dict[str, str]] = []
        found_with, p_with, t_with, got = await self._argument(args[0], parsed, to_parse)
        if found_with:
            out.extend(got)
        else:
            found_with, p_with, t_with, got = await self._arguments(args[1:], p_with, t_with)
            if found_with:
                out.extend(got)
        found_without, p_without, t_without, got = await self._arguments(args[1:], parsed, to_parse)
        if found_without:
            out.extend(got)
        if found_with or found_without:
            return True, parsed + to_parse, "", out
        if p_with != parsed and t_with != to_parse:
            return False, p_with, t_with, out
        return found_without, p_without, t_without, out

    async def _argument(self, arg: Arg, parsed: str, to_parse: str) -> Result:
        if arg.name:
            found, parsed, to_parse, got = _named(arg, parsed, to_parse)
            if found:
                return True, parsed, to_parse, got
            if to_parse == "":
                return True, parsed, to_parse, []
            if to_parse == " ":
                to_parse = ""
        if arg.type == TEXT:
            return _text(arg, parsed, to_parse)
        if arg.type == STATIC_LIST:
            return _list_items(list(arg.items), parsed, to_parse)
        trigger = arg.fetch_url.removeprefix("builtin:")
        if not arg.fetch_url.startswith("builtin:"):
            return False, parsed, to_parse, []
        try:
            items = await self.lister(trigger, arg, parsed, to_parse)
        except Exception:  # a failing list (e.g. no permission) means no suggestions, as in Mattermost
            return False, parsed, to_parse, []
        return _list_items(items, parsed, to_parse)


def _named(arg: Arg, parsed: str, to_parse: str) -> Result:
    typed = to_parse.removeprefix(" ")
    flag = "--" + arg.name
    if typed == "":
        return True, parsed + to_parse, "", [suggestion(parsed + to_parse + flag + " ", flag, "", arg.help_text)]
    if flag.lower().startswith(typed.lower()):
        return True, parsed + to_parse, "", [suggestion(parsed + to_parse + flag[len(typed):] + " ", flag, "",
                                                        arg.help_text)]
    if not typed.lower().startswith(flag.lower() + " "):
        return False, parsed + to_parse, "", []
    if typed.lower() == flag.lower() + " ":
        return False, parsed + flag + " ", " ", []
    return False, parsed + flag + " ", typed[len(flag) + 1:], []


def _text(arg: Arg, parsed: str, to_parse: str) -> Result:
    typed = to_parse.removeprefix(" ")
    pending = [suggestion(parsed + to_parse, "", arg.hint, arg.help_text)]
    if typed == "":
        return True, parsed + to_parse, "", pending
    if typed[0] == '"':
        second = typed.find('"', 1) - 1
        if second < 0:  # a quoted value still being typed
            return True, parsed + to_parse, "", pending
        offset = 3 if len(typed) > second + 2 and typed[second + 2] == " " else 2
        return False, parsed + typed[:second + offset], typed[second + offset:], []
    index = typed.find(" ")
    if index == -1:
        return True, parsed + to_parse, "", pending
    return False, parsed + typed[:index + 1], typed[index + 1:], []


def _list_items(items: list[ListItem], parsed: str, to_parse: str) -> Result:
    typed = to_parse.removeprefix(" ")
    longest = ""
    for it in items:
        if typed.lower().startswith(it.item.lower() + " ") and len(longest) < len(it.item) + 1:
            longest = it.item + " "
    if longest:  # this argument is complete
        return False, parsed + typed[:len(longest)], typed[len(longest):], []
    return True, parsed + to_parse, "", [suggestion(parsed + it.item, it.item, it.hint, it.help_text)
                                         for it in items if it.item.lower().startswith(typed.lower())]
