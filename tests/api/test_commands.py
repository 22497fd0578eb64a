"""Built-in slash commands through the real client (``commands.execute_command``): each command's real
effect (membership, status, posts, channel fields) and the ephemeral answers Mattermost gives.

Bad input, listing/autocomplete and ``/secure-connection`` are in ``test_commands_bad_input.py``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from isthmus.core.events import Event
from tests.api.channel_support import captured_events, make_channel, member_ids, open_team_with
from tests.realtime.wsclient import ws_for
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer

SHRUG = r"¯\\\_(ツ)\_/¯"


@pytest.fixture
def team(user: Person, other: Person) -> dict[str, Any]:
    return open_team_with(user, other)


@pytest.fixture
def chan(user: Person, team: dict[str, Any]) -> dict[str, Any]:
    return make_channel(user, team["id"])


@pytest.fixture
def events(live: LiveServer) -> Iterator[list[Event]]:
    with captured_events(live) as seen:
        yield seen


def run(person: Person, channel_id: str, command: str) -> dict[str, Any]:
    out: dict[str, Any] = person.driver.commands.execute_command(channel_id=channel_id, command=command)
    return out


def ephemerals(events: list[Event], person: Person) -> list[dict[str, Any]]:
    return [json.loads(e.data["post"]) for e in events if e.kind == "ephemeral_message" and e.user_id == person.id]


def said(events: list[Event], person: Person) -> list[str]:
    """Texts of the ephemeral posts the person was shown (in order)."""
    return [p["message"] for p in ephemerals(events, person)]


def posts_in(person: Person, channel_id: str) -> list[dict[str, Any]]:
    got = person.driver.posts.get_posts_for_channel(channel_id)
    return [got["posts"][pid] for pid in got["order"]]


def town_square(person: Person, team_id: str) -> str:
    return str(person.driver.channels.get_channel_by_name(team_id, "town-square")["id"])


# --- /join, /leave ---------------------------------------------------------------------------------

def test_join_by_handle_and_by_name(live: LiveServer, user: Person, other: Person, team: dict[str, Any],
                                    events: list[Event]) -> None:
    first, second = make_channel(other, team["id"]), make_channel(other, team["id"])
    here = town_square(user, team["id"])
    resp = run(user, here, f"/join ~{first['name']}")
    assert resp["goto_location"] == f"{live.url}/{team['name']}/channels/{first['name']}"
    assert resp["response_type"] == "" and resp["text"] == ""
    assert user.id in member_ids(other, first["id"])
    run(user, here, f"/JOIN {second['name']}")  # the trigger is case-insensitive, a bare name works too
    assert user.id in member_ids(other, second["id"])
    assert said(events, user) == []  # a join answers with a location, not a message


def test_join_refusals_change_nothing(user: Person, other: Person, team: dict[str, Any],
                                      events: list[Event]) -> None:
    secret = make_channel(other, team["id"], "P")
    public = make_channel(other, team["id"])
    here = town_square(user, team["id"])
    run(user, here, f"/join ~{unique('nochan')}")
    run(user, here, f"/join ~{secret['name']}")  # private and not a member: as if it did not exist
    run(user, here, f"/join ~{public['name'].upper()}")
    assert said(events, user) == ["An error occurred while listing channels."] * 2 + ["Unable to find the channel."]
    assert user.id not in member_ids(other, secret["id"]) | member_ids(other, public["id"])


def test_leave_goes_back_to_town_square(live: LiveServer, user: Person, team: dict[str, Any],
                                        chan: dict[str, Any], events: list[Event]) -> None:
    resp = run(user, chan["id"], "/leave")
    assert resp["goto_location"] == f"{live.url}/{team['name']}/channels/town-square"
    assert user.id not in member_ids(user, chan["id"])  # public: still listable by team members
    here = town_square(user, team["id"])
    run(user, here, "/leave")
    assert said(events, user) == ["Unable to leave the default channel town-square."]
    assert user.id in member_ids(user, here)


# --- /invite, /kick, /remove -----------------------------------------------------------------------

def test_invite_into_this_and_another_channel(user: Person, other: Person, team: dict[str, Any],
                                              chan: dict[str, Any], events: list[Event]) -> None:
    resp = run(user, chan["id"], f"/invite @{other.username}")
    assert resp["response_type"] == "ephemeral" and resp["text"] == ""
    assert other.id in member_ids(user, chan["id"])
    second = make_channel(user, team["id"])
    resp = run(user, chan["id"], f"/invite @{other.username} ~{second['name']}")
    assert resp["text"] == f"@{other.username} added to {second['name']} channel."
    assert other.id in member_ids(user, second["id"])
    run(user, chan["id"], f"/invite {other.username}")  # the first word is a user even without "@"
    assert said(events, user) == [f"@{other.username} added to {second['name']} channel.",
                                  f"@{other.username} is already in the channel."]


def test_invite_explains_each_refusal(live: LiveServer, admin: Person, user: Person, team: dict[str, Any],
                                      chan: dict[str, Any]) -> None:
    outsider = make_person(live, admin.http)
    cases = {
        "/invite": "Missing Username and/or Channel.",
        "/invite @nobody-here": "We couldn't find the user nobody-here. They may have been deactivated by the "
                                "System Administrator.",
        f"/invite @{outsider.username}": f"You can add @{outsider.username} to this channel once they are members "
                                         f"of the **{team['display_name']}** team.",
        f"/invite @{outsider.username} ~nochan": "Could not find the channel nochan. Please use the [channel handle]"
                                                 "(https://docs.mattermost.com/messaging/managing-channels.html"
                                                 "#naming-a-channel) to identify channels.",
    }
    for command, text in cases.items():
        assert run(user, chan["id"], command)["text"] == text, command
    assert outsider.id not in member_ids(user, chan["id"])


def test_kick_and_remove(user: Person, other: Person, team: dict[str, Any], chan: dict[str, Any],
                         events: list[Event]) -> None:
    user.driver.channels.add_channel_member(chan["id"], user_id=other.id)
    resp = run(user, chan["id"], f"/kick @{other.username}")
    assert resp["response_type"] == "" and resp["text"] == ""
    assert other.id not in member_ids(user, chan["id"])
    run(user, chan["id"], f"/remove @{other.username}")
    run(user, chan["id"], "/kick")
    run(user, town_square(user, team["id"]), f"/remove {other.username}")
    assert said(events, user) == [f"{other.username} is not a member of this channel.",
                                  "A message must be provided with the /remove or /kick command.",
                                  "Unable to remove user from the default channel town-square."]
    assert other.id in member_ids(user, town_square(user, team["id"]))


def test_kick_in_a_direct_channel_is_refused(user: Person, other: Person) -> None:
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    assert run(user, dm["id"], f"/kick @{other.username}")["text"] == \
        "You can't remove someone from a direct message channel."
    assert other.id in member_ids(user, dm["id"])


# --- /msg ------------------------------------------------------------------------------------------

def test_msg_creates_the_dm_and_posts(live: LiveServer, user: Person, other: Person, team: dict[str, Any],
                                      chan: dict[str, Any], events: list[Event]) -> None:
    resp = run(user, chan["id"], f"/msg @{other.username} hello there")
    dm = user.driver.channels.create_direct_channel([user.id, other.id])  # idempotent: the DM /msg made
    assert resp["goto_location"] == f"{live.url}/{team['name']}/channels/{dm['name']}"
    assert [p["message"] for p in posts_in(other, dm["id"])] == ["hello there"]
    run(user, chan["id"], "/msg @nobody-at-all hi")
    run(user, chan["id"], f"/msg @{user.username} hi")
    assert said(events, user) == ["Unable to find the user."] * 2
    assert [p["message"] for p in posts_in(other, dm["id"])] == ["hello there"]


# --- /me, /shrug, /echo ----------------------------------------------------------------------------

def test_me_posts_an_action(user: Person, other: Person, chan: dict[str, Any]) -> None:
    resp = run(user, chan["id"], "/me waves <!channel>")
    assert resp["response_type"] == "in_channel" and resp["type"] == "me" and resp["text"] == "*waves @channel*"
    [post] = posts_in(user, chan["id"])[:1]
    assert (post["type"], post["message"], post["user_id"]) == ("me", "*waves @channel*", user.id)


def test_shrug_with_and_without_text(user: Person, chan: dict[str, Any]) -> None:
    run(user, chan["id"], "/shrug")
    run(user, chan["id"], "/shrug oh <http://example.com|well>")
    assert [p["message"] for p in posts_in(user, chan["id"])[:2]] == [f"oh [well](http://example.com) {SHRUG}",
                                                                       SHRUG]


def test_echo_now_and_later(user: Person, chan: dict[str, Any], events: list[Event]) -> None:
    assert run(user, chan["id"], "/echo hello world") == {
        "response_type": "", "text": "", "username": "", "channel_id": "", "icon_url": "", "type": "",
        "props": None, "goto_location": "", "trigger_id": "", "skip_slack_parsing": False, "attachments": None,
        "extra_responses": None}
    assert posts_in(user, chan["id"])[0]["message"] == "hello world"
    run(user, chan["id"], '/echo "in a second" 1')
    deadline = time.monotonic() + 15
    while posts_in(user, chan["id"])[0]["message"] != "in a second":
        assert time.monotonic() < deadline, "the delayed echo never came"
        time.sleep(0.1)
    run(user, chan["id"], "/echo")
    run(user, chan["id"], "/echo too late 10001")
    assert said(events, user) == ["A message must be provided with the /echo command.",
                                  "Delays must be under 10000 seconds."]
    assert [p["message"] for p in posts_in(user, chan["id"])] == ["in a second", "hello world"]


# --- /header, /purpose -----------------------------------------------------------------------------

def test_header_and_purpose(user: Person, other: Person, chan: dict[str, Any], events: list[Event]) -> None:
    run(user, chan["id"], "/header **Release** day")
    run(user, chan["id"], "/purpose Ship it")
    got = user.driver.channels.get_channel(chan["id"])
    assert (got["header"], got["purpose"]) == ("**Release** day", "Ship it")
    run(user, chan["id"], "/header " + "h" * 1025)
    run(user, chan["id"], "/purpose " + "p" * 251)
    run(user, chan["id"], "/header")
    run(user, chan["id"], "/purpose")
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    run(user, dm["id"], "/purpose nope")
    run(user, dm["id"], "/header between us")
    assert said(events, user) == [
        "The text entered exceeds the character limit. The channel header is limited to 1024 characters.",
        "The text entered exceeds the character limit. The channel purpose is limited to 250 characters.",
        "Text must be provided with the /header command.",
        "A message must be provided with the /purpose command.",
        "Unable to set purpose for direct message channels. Use /header to set the header instead."]
    got = user.driver.channels.get_channel(chan["id"])
    assert (got["header"], got["purpose"]) == ("**Release** day", "Ship it")
    assert user.driver.channels.get_channel(dm["id"])["header"] == "between us"


# --- statuses --------------------------------------------------------------------------------------

def test_status_commands(user: Person, other: Person, chan: dict[str, Any], events: list[Event]) -> None:
    texts = {"away": "You are now away", "dnd": "Do Not Disturb is enabled. You will not receive desktop or "
             "mobile push notifications until Do Not Disturb is turned off.", "offline": "You are now offline",
             "online": "You are now online"}
    for status, text in texts.items():
        resp = run(user, chan["id"], f"/{status}")
        assert resp["response_type"] == "ephemeral" and resp["text"] == text
        assert other.driver.status.get_user_status(user.id)["status"] == status
    assert said(events, user) == list(texts.values())
    [post] = ephemerals(events, user)[:1]
    assert post["type"] == "system_ephemeral" and post["channel_id"] == chan["id"] and post["user_id"] == user.id


def test_ephemeral_reaches_only_the_caller(live: LiveServer, user: Person, other: Person,
                                           chan: dict[str, Any]) -> None:
    user.driver.channels.add_channel_member(chan["id"], user_id=other.id)
    mine, theirs = ws_for(live, user), ws_for(live, other)
    try:
        run(user, chan["id"], "/away")
        frame = mine.wait_event("ephemeral_message")
        post = json.loads(frame["data"]["post"])
        assert post["message"] == "You are now away" and post["type"] == "system_ephemeral"
        assert theirs.barrier() is not None and theirs.seen("ephemeral_message") == []
    finally:
        mine.close()
        theirs.close()
