"""Browser tests of the web client: Debian's Chromium driven by Playwright against real live servers.

Playwright's own browser downloads are never used (``playwright install`` cannot run here): Chromium
comes from the distribution (``apt-get install chromium``, see ``.ci/run``). Every person gets their
own browser context, so cookies never leak between people or between the two servers (which share
the host 127.0.0.1 and differ only by port, and cookies ignore ports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.testlib.clients import PASSWORD, Person, make_person, unique
from tests.testlib.live import LiveServer

CHROMIUM = os.environ.get("ISTHMUS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SHARING_ENV = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true",
               "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true"}
DESKTOP = {"width": 1280, "height": 820}
PHONE = {"width": 390, "height": 844}

expect.set_options(timeout=15_000)


@dataclass
class Site:
    """One workspace: a live server, its first (system admin) account and a team."""

    name: str
    live: LiveServer
    admin: Person
    team: dict[str, Any]

    @property
    def url(self) -> str:
        return self.live.url

    def person(self, username: str = "") -> Person:
        """A new user of this site, member of its team."""
        p = make_person(self.live, self.admin.http, username=username or unique("u"))
        r = self.admin.http.post(f"/api/v4/teams/{self.team['id']}/members",
                                 json={"team_id": self.team["id"], "user_id": p.id})
        assert r.status_code == 201, r.text
        return p

    def channel(self, owner: Person, display_name: str, type_: str = "O") -> dict[str, Any]:
        r = owner.http.post("/api/v4/channels", json={"team_id": self.team["id"], "name": unique("ch"),
                                                      "display_name": display_name, "type": type_})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def post(self, who: Person, channel_id: str, message: str, **extra: Any) -> dict[str, Any]:
        r = who.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": message, **extra})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


def make_site(tmp: Path, name: str, env: dict[str, str] | None = None) -> Site:
    live = LiveServer(tmp / name, extra_env={**SHARING_ENV, **(env or {})}).start()
    admin = make_person(live, username=f"admin{name}")
    team = admin.driver.teams.create_team(name=unique(name), display_name=f"{name.title()} Team", type="O")
    return Site(name, live, admin, team)


def connect_sites(inviter: Site, acceptor: Site, password: str = "pw-12345") -> str:
    """``inviter`` invites ``acceptor`` by REST, each naming the other "<Name> Org"; the inviter's connection id."""
    r = inviter.admin.http.post("/api/v4/remotecluster", json={
        "name": acceptor.name, "display_name": f"{acceptor.name.title()} Org", "default_team_id": inviter.team["id"],
        "password": password})
    assert r.status_code == 201, r.text
    remote_id, code = r.json()["remote_cluster"]["remote_id"], r.json()["invite"]
    r = acceptor.admin.http.post("/api/v4/remotecluster/accept_invite", json={
        "name": inviter.name, "display_name": f"{inviter.name.title()} Org", "default_team_id": acceptor.team["id"],
        "invite": code, "password": password})
    assert r.status_code == 201, r.text
    return str(remote_id)


# Per module, not per session: Playwright's sync API keeps an event loop marked running in this thread
# while it is started, which asyncio.run() and pytest-asyncio tests elsewhere in the session must not meet.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def alpha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = make_site(Path(tmp_path_factory.mktemp("web")), "alpha")
    yield site
    site.live.stop()


@pytest.fixture(scope="session")
def beta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = make_site(Path(tmp_path_factory.mktemp("web")), "beta")
    yield site
    site.live.stop()


class PageErrors:
    """Uncaught script errors of every page a test opened: a test fails if the app threw."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.pages: list[Page] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.pages.append(page)
        return page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page_errors(request: pytest.FixtureRequest) -> Iterator[PageErrors]:
    errors = PageErrors()
    yield errors
    if request.node.stash.get(FAILED, False):  # what each browser showed when the test failed
        ARTIFACTS.mkdir(exist_ok=True)
        for i, page in enumerate(errors.pages):
            if not page.is_closed():
                page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}-{i}.png"))
    for page in errors.pages:
        if not page.is_closed():
            page.context.close()
    assert errors.errors == [], errors.errors


def login(browser: Browser, site: Site, person: Person, errors: PageErrors, *,
          viewport: dict[str, int] | None = None, path: str = "/") -> Page:
    """A fresh browser context for ``person`` signed in through the login form; returns the page."""
    context = browser.new_context(viewport=viewport or DESKTOP, base_url=site.url)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = errors.watch(context.new_page())
    page.goto(path)
    page.get_by_label("Username or email").fill(person.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("banner")).to_be_visible()  # the chat's or the console's top bar
    return page


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path
