"""Persistent notifications in the browser (issue 15 item 4): an urgent message that names dave reminds him in a
band under the top bar when the server's reminder job runs (driven here with the time played forward); "View
message" opens it, his acknowledgement takes the reminder away and the server stops sending them; a second
reminder is dismissed with the keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from isthmus.domain.persistent_notifications import send_due
from tests.testlib.clients import unique
from tests.webui.conftest import PageErrors, Site, login, shot

URGENT = {"priority": "urgent", "requested_ack": True, "persistent_notifications": True}
FIVE_MINUTES = 5 * 60_000


def _run_job(site: Site, at: int) -> int:
    return site.live.run(send_due(site.live.server.domain, now=at))


def test_reminder_shown_and_stopped_by_acknowledging(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    carol, dave = alpha.person(unique("carol")), alpha.person(unique("dave"))
    room = alpha.channel(carol, "Pager Room")
    other = alpha.channel(carol, "Quiet Room")
    for ch in (room, other):
        r = carol.http.post(f"/api/v4/channels/{ch['id']}/members", json={"user_id": dave.id})
        assert r.status_code == 201, r.text
    page = login(browser, alpha, dave, page_errors)
    page.get_by_role("link", name=re.compile("Quiet Room")).click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Quiet Room"))).to_be_visible()

    post = alpha.post(carol, room["id"], f"database is down @{dave.username}", metadata={"priority": URGENT})
    assert _run_job(alpha, post["create_at"] + FIVE_MINUTES) == 1
    band = page.get_by_role("region", name="Reminders")
    reminder = band.get_by_role("group", name=f"Urgent message from @{carol.username}")
    expect(reminder).to_contain_text("database is down")
    expect(reminder).to_contain_text("Pager Room")
    expect(reminder).to_contain_text("Acknowledge, react or reply to stop these reminders.")
    shot(page, "persistent-reminder.png")

    # "View message" opens the channel and the thread; dave acknowledges there and the band goes away.
    reminder.get_by_role("button", name="View message").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Pager Room"))).to_be_visible()
    expect(band).to_be_hidden()
    article = page.get_by_role("article").filter(has_text="database is down").first
    article.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(article.get_by_role("button", name=re.compile("^Acknowledged"))).to_be_visible()
    assert _run_job(alpha, post["create_at"] + 2 * FIVE_MINUTES) == 0  # the server stopped too

    # A second reminder, dismissed with the keyboard: focus moves on, nothing is left in the band.
    again = alpha.post(carol, room["id"], f"and the backups @{dave.username}", metadata={"priority": URGENT})
    assert _run_job(alpha, again["create_at"] + FIVE_MINUTES) == 1
    second = band.get_by_role("group", name=f"Urgent message from @{carol.username}")
    expect(second).to_contain_text("and the backups")
    dismiss = second.get_by_role("button", name=f"Dismiss the reminder from @{carol.username}")
    dismiss.focus()
    page.keyboard.press("Enter")
    expect(band).to_be_hidden()
