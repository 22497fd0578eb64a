"""Helpers shared by the channel test modules (fixtures stay in each module so pytest finds them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from isthmus.core.events import Event
from isthmus.store.repo import channels as channels_repo
from tests.testlib.clients import Person, unique
from tests.testlib.live import LiveServer


@contextmanager
def captured_events(live: LiveServer) -> Iterator[list[Event]]:
    """Every event the live server publishes meanwhile (the domain publishes before the HTTP answer)."""
    seen: list[Event] = []
    live.server.bus.subscribe(seen.append)
    try:
        yield seen
    finally:
        live.server.bus.unsubscribe(seen.append)


def open_team_with(owner: Person, *joiners: Person) -> dict[str, Any]:
    created: dict[str, Any] = owner.driver.teams.create_team(name=unique("t"), display_name="Team", type="O")
    for person in joiners:
        person.driver.teams.add_team_member(created["id"], user_id=person.id)
    return created


def make_channel(person: Person, team_id: str, type_: str = "O", **extra: Any) -> dict[str, Any]:
    ch: dict[str, Any] = person.driver.channels.create_channel(team_id=team_id, name=unique("c"),
                                                               display_name="Chan", type=type_, **extra)
    return ch


def member_ids(person: Person, channel_id: str) -> set[str]:
    return {m["user_id"] for m in person.driver.channels.get_channel_members(channel_id, per_page=200)}


def set_counters(live: LiveServer, channel_id: str, total: int, total_root: int | None = None) -> None:
    """Stand-in for posts: the posts module bumps these counters when a message is created."""
    async def go() -> None:
        async with live.server.db.write() as conn:
            await channels_repo.update_channel(conn, channel_id, {
                "total_msg_count": total, "total_msg_count_root": total if total_root is None else total_root})

    live.run(go())


def error_id(r: Any) -> str:
    """The AppError id of a response, after checking it is a well-formed Mattermost error."""
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["request_id"] and body["message"]
    return str(body["id"])
