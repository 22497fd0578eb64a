"""Post search with Mattermost's term syntax, on whichever database the suite runs against.

Every test uses words made unique per test (``unique``), so posts of other tests on the shared
server never match. The same assertions run on SQLite FTS5 and PostgreSQL full-text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions

from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


@dataclass
class World:
    team_id: str
    general: str  # public channel: user + other
    general_name: str
    private: str  # private channel: user only
    private_name: str


def make_world(admin: Person, user: Person, other: Person) -> World:
    team = admin.driver.teams.create_team(name=unique("t"), display_name="Search", type="O")
    for p in (user, other):
        admin.driver.teams.add_team_member(team["id"], user_id=p.id)
    gname, pname = unique("gen"), unique("priv")
    general = user.driver.channels.create_channel(team_id=team["id"], name=gname, display_name="G", type="O")
    user.driver.channels.add_channel_member(general["id"], user_id=other.id)
    private = user.driver.channels.create_channel(team_id=team["id"], name=pname, display_name="P", type="P")
    return World(team["id"], general["id"], gname, private["id"], pname)


@pytest.fixture
def world(admin: Person, user: Person, other: Person) -> World:
    return make_world(admin, user, other)


def say(p: Person, channel_id: str, message: str, **kw: Any) -> str:
    post_id: str = p.driver.posts.create_post(channel_id=channel_id, message=message, **kw)["id"]
    return post_id


def found(p: Person, team_id: str, terms: str, **kw: Any) -> list[str]:
    res = p.driver.posts.search_posts(team_id, terms=terms, is_or_search=kw.pop("is_or_search", False), **kw)
    assert set(res["posts"]) == set(res["order"])
    order: list[str] = res["order"]
    return order


def test_words_are_and_ed_and_or_search_widens(user: Person, world: World) -> None:
    a, b = unique("alpha"), unique("beta")
    both = say(user, world.general, f"{a} and {b} together")
    only_a = say(user, world.general, f"just {a} here")
    only_b = say(user, world.general, f"just {b} here")
    assert found(user, world.team_id, f"{a} {b}") == [both]
    assert found(user, world.team_id, f"{a} {b}", is_or_search=True) == [only_b, only_a, both]  # newest first


def test_quoted_phrase_matches_words_in_order(user: Person, world: World) -> None:
    a, b = unique("red"), unique("fox")
    in_order = say(user, world.general, f"the {a} {b} ran")
    say(user, world.general, f"the {b} was {a}")
    assert found(user, world.team_id, f'"{a} {b}"') == [in_order]


def test_excluded_words_and_phrases(user: Person, world: World) -> None:
    a, b, c = unique("keep"), unique("drop"), unique("also")
    keep = say(user, world.general, f"{a} stays")
    say(user, world.general, f"{a} with {b}")
    say(user, world.general, f"{a} {c} pair")
    assert found(user, world.team_id, f"{a} -{b} -\"{c} pair\"") == [keep]


def test_trailing_star_is_a_prefix(user: Person, world: World) -> None:
    word = unique("prefixword")
    hit = say(user, world.general, f"about {word}")
    assert found(user, world.team_id, f"{word[:12]}*") == [hit]
    assert found(user, world.team_id, word[:12]) == []


def test_english_stemming_on_both_databases(user: Person, world: World) -> None:
    tag = unique("stem")
    post = say(user, world.general, f"{tag} running quickly")
    assert found(user, world.team_id, f"{tag} run") == [post]
    res = user.driver.posts.search_posts(world.team_id, terms=f"{tag} run", is_or_search=False)
    assert "running" in res["matches"][post]
    assert tag in res["matches"][post]


def test_from_and_in_filters(user: Person, other: Person, world: World) -> None:
    word = unique("filter")
    mine = say(user, world.general, f"{word} from user")
    theirs = say(other, world.general, f"{word} from other")
    private = say(user, world.private, f"{word} in private")
    assert found(user, world.team_id, f"{word} from:{other.username}") == [theirs]
    assert found(user, world.team_id, f"{word} -from:{other.username}") == [private, mine]
    assert found(user, world.team_id, f"{word} in:{world.private_name}") == [private]
    assert found(user, world.team_id, f"{word} -in:{world.private_name}") == [theirs, mine]
    assert found(user, world.team_id, f"from:@{other.username} in: {world.general_name}")[:1] == [theirs]


def test_date_filters(user: Person, world: World) -> None:
    word = unique("dated")
    post = say(user, world.general, f"{word} today")
    created = user.driver.posts.get_post(post)["create_at"]
    day = datetime.fromtimestamp(created / 1000, tz=UTC).date()
    today, yesterday, tomorrow = day.isoformat(), (day - timedelta(days=1)).isoformat(), \
        (day + timedelta(days=1)).isoformat()
    assert found(user, world.team_id, f"{word} on:{today}") == [post]
    assert found(user, world.team_id, f"{word} -on:{today}") == []
    assert found(user, world.team_id, f"{word} after:{yesterday}") == [post]
    assert found(user, world.team_id, f"{word} after:{today}") == []
    assert found(user, world.team_id, f"{word} before:{tomorrow}") == [post]
    assert found(user, world.team_id, f"{word} before:{today}") == []
    # A day boundary in the caller's time zone: 14 hours ahead of UTC moves "today" for late posts.
    shifted = datetime.fromtimestamp(created / 1000 + 14 * 3600, tz=UTC).date().isoformat()
    assert found(user, world.team_id, f"{word} on:{shifted}", time_zone_offset=14 * 3600) == [post]


def test_hashtags(user: Person, world: World) -> None:
    tag = "#" + unique("tag")
    post = say(user, world.general, f"release notes {tag}")
    say(user, world.general, f"mentions {tag[1:]} without the hash")
    assert found(user, world.team_id, tag) == [post]


def test_only_member_channels_are_searched(admin: Person, user: Person, other: Person, world: World,
                                           live: LiveServer) -> None:
    word = unique("secret")
    say(user, world.private, f"{word} private")
    public_post = say(user, world.general, f"{word} public")
    assert found(other, world.team_id, word) == [public_post]
    # A team member who never joined the public channel does not search it (Mattermost's rule).
    bystander = make_person(live, admin.http)
    admin.driver.teams.add_team_member(world.team_id, user_id=bystander.id)
    assert found(bystander, world.team_id, word) == []
    assert bystander.driver.posts.search_posts_in_all_teams(terms=word)["order"] == []
    # Not even a system admin sees channels they are not in.
    admin.driver.teams.add_team_member(world.team_id, user_id=admin.id)
    assert found(admin, world.team_id, word) == []
    outsider = make_person(live, admin.http)
    with pytest.raises(NotEnoughPermissions):
        outsider.driver.posts.search_posts(world.team_id, terms=word, is_or_search=False)


def test_deleted_and_edited_posts(user: Person, world: World) -> None:
    old, new, gone = unique("old"), unique("new"), unique("gone")
    edited = say(user, world.general, f"{old} text")
    deleted = say(user, world.general, f"{gone} text")
    assert found(user, world.team_id, gone) == [deleted]
    user.driver.posts.delete_post(deleted)
    assert found(user, world.team_id, gone) == []
    user.driver.posts.patch_post(edited, message=f"{new} text")
    assert found(user, world.team_id, new) == [edited]
    assert found(user, world.team_id, old) == []


def test_all_teams_search_and_direct_messages(admin: Person, user: Person, other: Person,
                                              world: World) -> None:
    word = unique("across")
    second = make_world(admin, user, other)
    p1 = say(user, world.general, f"{word} one")
    p2 = say(user, second.general, f"{word} two")
    dm = user.driver.channels.create_direct_channel([user.id, other.id])
    p3 = say(user, dm["id"], f"{word} direct")
    assert user.driver.posts.search_posts_in_all_teams(terms=word)["order"] == [p3, p2, p1]
    # A team search covers that team plus direct messages, like Mattermost.
    assert found(user, world.team_id, word) == [p3, p1]
    assert found(other, world.team_id, f"{word} in:@{user.username}") == [p3]


def test_paging(user: Person, world: World) -> None:
    word = unique("page")
    ids = [say(user, world.general, f"{word} {i}") for i in range(5)][::-1]
    first = user.driver.posts.search_posts(world.team_id, terms=word, is_or_search=False, page=0, per_page=2)
    assert first["order"] == ids[:2]
    assert first["has_next"] is True
    last = user.driver.posts.search_posts(world.team_id, terms=word, is_or_search=False, page=2, per_page=2)
    assert last["order"] == ids[4:]
    assert last["has_next"] is False


def test_results_carry_files_metadata(user: Person, world: World) -> None:
    word = unique("withfile")
    info = user.driver.files.upload_file(files=("a.txt", b"abc", "text/plain"),
                                         channel_id=world.general)["file_infos"][0]
    post = say(user, world.general, f"{word} attached", file_ids=[info["id"]])
    res = user.driver.posts.search_posts(world.team_id, terms=word, is_or_search=False)
    assert [f["id"] for f in res["posts"][post]["metadata"]["files"]] == [info["id"]]


def test_bad_search_input(user: Person, world: World) -> None:
    h = user.http
    url = f"/api/v4/teams/{world.team_id}/posts/search"
    for body in ({}, {"terms": ""}, {"terms": 5}, {"terms": "x" * 2000}, {"terms": "a", "page": -1},
                 {"terms": "a", "per_page": "many"}, {"terms": "a", "is_or_search": "maybe"},
                 {"terms": "a", "time_zone_offset": 10**9}, {"terms": "a on:2024-13-45"},
                 {"terms": "a before:yesterday"}):
        r = h.post(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"] == "application/json"
    assert h.post(url, content=b"{not json").status_code == 400
    assert h.post("/api/v4/teams/nope/posts/search", json={"terms": "a"}).status_code == 400
    with pytest.raises(InvalidOrMissingParameters):
        user.driver.posts.search_posts_in_all_teams(terms="a on:someday")
    # Terms that are only punctuation find nothing rather than failing.
    assert h.post(url, json={"terms": "!!! ***"}).json()["order"] == []
