"""Slack links in command replies are parsed in linear time (issue 18, Low: ``/me`` + 5,458 × ``<x|`` stalled
every request 0.4 s with the backtracking regex) and give exactly the regex's result."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from isthmus.commands.registry import parse_slack_links
from isthmus.commands.slack_links import parse_slack_links as scan

MATTERMOST = re.compile(r"<([^<|]+)\|([^>]+)>")  # ParseSlackLinksToMarkdown's pattern (RE2 in Go)


def steps_for(text: str) -> int:
    steps: list[int] = []
    scan(text, steps)
    return steps[0]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="<|>x\n ", max_size=40))
def test_same_result_as_the_mattermost_pattern(text: str) -> None:
    assert parse_slack_links(text) == MATTERMOST.sub(r"[\2](\1)", text)


def test_known_links() -> None:
    assert parse_slack_links("see <http://a.b|the site> and <x|y>") == "see [the site](http://a.b) and [y](x)"
    assert parse_slack_links("<a|b<c>") == "[b<c](a)"
    assert parse_slack_links("<<a|b>") == "<[b](a)"
    assert parse_slack_links("no links | <here") == "no links | <here"


def test_hostile_reply_is_linear_work() -> None:
    """50k characters of ``<x|`` (no ``>``): the work grows like the length, not its square. The work is
    counted (characters inspected), not timed."""
    for unit in ("<x|", "<|", "<x|<", "<<|", "<xx|y"):
        text = unit * (50_000 // len(unit))
        half = unit * (25_000 // len(unit))
        work, half_work = steps_for(text), steps_for(half)
        assert work <= 4 * len(text), (unit, work)
        assert work <= 2.2 * half_work, (unit, work, half_work)  # doubling the input about doubles the work
        assert parse_slack_links(text) == text

