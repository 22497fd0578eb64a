"""Fresh workspaces as ``scripts/serve`` starts them (a real ``isthmus serve`` process, a first admin made
by ``isthmus user create --if-empty --random-password``, nothing else), for the newcomer browser tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.common import ServerProcess
from playwright.sync_api import Browser, Page, expect

from tests.webui.conftest import DESKTOP, PageErrors


@dataclass
class Fresh:
    """A just-installed workspace: its server process and the first admin's printed password."""

    server: ServerProcess
    password: str

    @property
    def url(self) -> str:
        return self.server.url


def fresh_workspace(data_dir: Path) -> Fresh:
    # Built in a worker thread: with PostgreSQL it creates a database with asyncio.run(), and Playwright's sync
    # API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        server = pool.submit(ServerProcess, data_dir,
                             postgres_url=os.environ.get("ISTHMUS_TEST_POSTGRES_URL") or None).result()
    out = subprocess.run([sys.executable, "-m", "isthmus", "user", "create", "--if-empty", "--system-admin",
                          "--random-password", "--username", "admin", "--email", "admin@localhost",
                          "--config", str(server.config)],
                         cwd=data_dir, env=server.env, capture_output=True, text=True, timeout=120, check=True)
    found = re.search(r"password: (\S+)", out.stdout)
    assert found, out.stdout + out.stderr
    server.start()
    return Fresh(server, found.group(1))


def first_login(browser: Browser, site: Fresh, errors: PageErrors, path: str = "/") -> Page:
    context = browser.new_context(viewport=DESKTOP, base_url=site.url)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = errors.watch(context.new_page())
    page.goto(path)
    page.get_by_label("Username or email").fill("admin")
    page.get_by_label("Password", exact=True).fill(site.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("banner")).to_be_visible()
    return page


def create_first_team(page: Page, display_name: str, url_name: str) -> None:
    """The first-run screen: name the team, check the URL it proposes, land in Town Square."""
    expect(page.get_by_role("heading", name="Create your first team")).to_be_visible()
    page.get_by_label("Team name").fill(display_name)
    expect(page.get_by_label("Team URL")).to_have_value(url_name)
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Town Square"))).to_be_visible()
    expect(page).to_have_url(re.compile(f"/{url_name}/channels/town-square$"))


def post(page: Page, channel: str, text: str) -> None:
    page.get_by_role("textbox", name=f"Write to {channel}").fill(text)
    page.keyboard.press("Enter")
    expect(page.get_by_role("article").filter(has_text=text)).to_be_visible()


def open_console(page: Page) -> None:
    page.get_by_role("link", name="System Console").click()
    expect(page.get_by_role("heading", level=1, name="Connected Workspaces")).to_be_visible()


def switch_on(page: Page, *labels: str) -> None:
    """Connected workspaces settings on the console's list page: tick the switches and save."""
    for label in labels:
        page.get_by_label(label).check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()


def create_channel(page: Page, display_name: str) -> None:
    page.get_by_role("button", name="Browse channels").click()
    dialog = page.get_by_role("dialog", name="Browse channels")
    dialog.get_by_label("New channel name").fill(display_name)
    dialog.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(display_name))).to_be_visible()


def open_shared_copy(page: Page, channel: str) -> None:
    """Open the copy of a channel shared with this workspace: the admin who accepted the connection is its
    creator here, so it appears in their sidebar (wait for it, as the invite takes a moment)."""
    page.get_by_role("link", name=re.compile(channel)).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(channel))).to_be_visible()
