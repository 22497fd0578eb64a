"""Issue 18, Low: a slash-command reply with ``<x|`` repeated stalled every request under the backtracking regex
(the linear parser itself is tested in tests/unit/test_slack_links.py)."""

from __future__ import annotations

from tests.api.channel_support import make_channel, open_team_with
from tests.testlib.clients import Person
from tests.testlib.live import LiveServer


def test_the_reported_me_command_is_posted_as_written(live: LiveServer, user: Person, other: Person) -> None:
    """The finding's own input through ``POST /commands/execute``: ``/me`` + 5,458 × ``<x|``, posted unchanged."""
    team = open_team_with(user, other)
    channel = make_channel(user, team["id"])
    hostile = "<x|" * 5458
    r = user.http.post("/api/v4/commands/execute", json={"channel_id": channel["id"], "command": f"/me {hostile}"})
    assert r.status_code == 200, r.text[:300]
    posts = user.http.get(f"/api/v4/channels/{channel['id']}/posts").json()["posts"]
    assert [p["message"] for p in posts.values() if p["type"] == "me"] == [f"*{hostile}*"]
