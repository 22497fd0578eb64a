"""System Console › Users, Teams and Site (issue 19): the admin creates and manages accounts, teams and their
members, hands out a team's invite link and turns open sign-up off; a newcomer signs up with the link."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.testlib.clients import PASSWORD, unique
from tests.webui.conftest import DESKTOP, PageErrors, Site, login, shot


def test_console_users_teams_and_invite_link(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    for _ in range(21):  # enough people for a second page
        r = alpha.admin.http.post("/api/v4/users", json={"username": unique("pg"), "email": f"{unique('pg')}@ex.com",
                                                         "password": PASSWORD})
        assert r.status_code == 201, r.text
    page = login(browser, alpha, alpha.admin, page_errors, path="/console/users")
    expect(page.get_by_role("heading", level=1, name="Users")).to_be_visible()
    users = page.get_by_role("navigation", name="Users pages")
    expect(users.get_by_text("Page 1")).to_be_visible()
    users.get_by_role("button", name="Next").click()
    expect(users.get_by_text("Page 2")).to_be_visible()

    # Create a user, find them, make them admin and back, reset the password, deactivate.
    name = unique("newbie")
    page.get_by_role("button", name="Create user").click()
    dialog = page.get_by_role("dialog", name="Create a user")
    dialog.get_by_label("Username").fill(name)
    dialog.get_by_label("Email").fill(f"{name}@example.com")
    dialog.get_by_label("Password", exact=True).fill(PASSWORD)
    dialog.get_by_role("button", name="Create user").click()
    expect(dialog).to_have_count(0)
    page.get_by_label("Search users").fill(name)
    # The search answers after a 250 ms pause: wait for its table (header + the one user), so its re-render
    # cannot land later and close a menu opened meanwhile (one CI run under load timed out on that).
    expect(page.get_by_role("row")).to_have_count(2)
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name))
    expect(row).to_contain_text("Member")
    page.get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("menuitem", name="Make system admin").click()
    expect(row).to_contain_text("System admin")
    page.get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("menuitem", name="Remove system admin").click()
    expect(row).to_contain_text("Member")
    page.get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("menuitem", name="Reset password").click()
    reset = page.get_by_role("dialog", name=f"Reset the password of {name}")
    reset.get_by_label("New password").fill("Other-pass-123")
    reset.get_by_role("button", name="Reset password").click()
    expect(reset).to_have_count(0)
    r = httpx.post(f"{alpha.url}/api/v4/users/login", json={"login_id": name, "password": "Other-pass-123"})
    assert r.status_code == 200, r.text
    page.get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("menuitem", name="Deactivate").click()
    page.get_by_role("dialog", name=f"Deactivate {name}?").get_by_role("button", name="Deactivate").click()
    expect(row).to_contain_text("Deactivated")
    shot(page, "console-users.png")

    # Teams: create an invite-only team, add a member by username, read its invite link.
    page.get_by_role("navigation", name="System Console").get_by_role("link", name="Teams").click()
    expect(page.get_by_role("heading", level=1, name="Teams")).to_be_visible()
    page.get_by_role("button", name="Create team").click()
    dialog = page.get_by_role("dialog", name="Create a team")
    team_name = unique("Docs")
    dialog.get_by_label("Team name").fill(team_name)
    dialog.get_by_label("Anyone on this server can join").uncheck()
    dialog.get_by_role("button", name="Create team").click()
    expect(dialog).to_have_count(0)
    page.get_by_role("link", name=f"Members of {team_name}").click()
    expect(page.get_by_role("heading", level=1, name=team_name)).to_be_visible()
    page.get_by_label("Username").fill("nobody-here")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("main").get_by_role("alert")).to_have_text("There is no user named nobody-here.")
    friend = alpha.person()
    page.get_by_label("Username").fill(friend.username)
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("rowheader", name=friend.username)).to_be_visible()
    link = page.get_by_role("textbox", name="Invite link").input_value()
    assert re.fullmatch(rf"{re.escape(alpha.url)}/signup_user_complete/\?id=[a-z0-9]{{26}}", link), link
    shot(page, "console-team.png")

    # Site: open sign-up off; the invite link still lets a newcomer in, straight into the team.
    page.get_by_role("link", name="Site and sign-up").click()
    page.get_by_label("Enable open sign-up").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    try:
        assert alpha.admin.http.get("/api/v4/config").json()["TeamSettings"]["EnableOpenServer"] is False
        guest = page_errors.watch(browser.new_context(viewport=DESKTOP).new_page())  # type: ignore[arg-type]
        guest.goto(link)
        expect(guest.get_by_role("heading", name=f"Join {team_name}")).to_be_visible()
        newcomer = unique("nc")
        guest.get_by_label("Email").fill(f"{newcomer}@example.com")
        guest.get_by_label("Username").fill(newcomer)
        guest.get_by_label("Password", exact=True).fill(PASSWORD)
        guest.get_by_role("button", name="Create account").click()
        expect(guest.get_by_role("heading", level=1, name=re.compile("Town Square"))).to_be_visible()
        expect(guest.get_by_role("complementary").or_(guest.get_by_role("navigation", name="Channels"))
               .first).to_contain_text(team_name)
    finally:
        r = alpha.admin.http.put("/api/v4/config/patch", json={"TeamSettings": {"EnableOpenServer": True}})
        assert r.status_code == 200, r.text


def test_errors_are_put_in_words(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    """What js/errors.js makes of server errors: what to do, never an error id or a 26-character id."""
    page = page_errors.watch(browser.new_context(viewport=DESKTOP, base_url=alpha.url).new_page())  # type: ignore[arg-type]
    page.goto("/login")
    said = page.evaluate("""import('/static/js/errors.js').then(({ inWords }) => [
        inWords({ status: 403, id: "api.context.permissions.app_error",
                  message: "You do not have the appropriate permissions." }, "create teams"),
        inWords({ status: 400, id: "app.team.save.existing.app_error",
                  message: "A team with that name already exists." }),
        inWords({ status: 400, id: "x", message: "Invalid channel id abcdefghijklmnopqrstuvwxyz." }),
        inWords({ status: 0, message: "" }),
        inWords({ status: 500, id: "app.sql", message: "pq: duplicate key" }),
    ])""")
    assert said == [
        "You are not allowed to create teams. Ask a system admin.",
        "A team already uses that URL. Choose another team URL.",
        "Invalid channel id this item.",
        "The server could not be reached. Check that it is running, then try again.",
        "The server ran into a problem. Try again; if it keeps happening, check the server's log.",
    ]
