"""Login rate limiting per client address and lockout per account.

Each test runs its own server (LiveServer with tight limits) so the shared server's limiter, which
every other test's logins pass through, is never poisoned.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from mattermostautodriver.exceptions import NoAccessTokenProvided
from sqlalchemy import text

from tests.api.test_bad_input import assert_app_error
from tests.testlib.clients import PASSWORD, Person, driver, make_person
from tests.testlib.live import LiveServer


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, extra_env={"MM_RATELIMITSETTINGS_LOGINFAILURESPERMINUTE": "4",
                                             "MM_SERVICESETTINGS_MAXIMUMLOGINATTEMPTS": "100"}).start()
    yield server
    server.stop()


@pytest.fixture
def lockout_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, extra_env={"MM_RATELIMITSETTINGS_LOGINFAILURESPERMINUTE": "1000",
                                             "MM_SERVICESETTINGS_MAXIMUMLOGINATTEMPTS": "3"}).start()
    yield server
    server.stop()


def login(live: LiveServer, login_id: str, password: str) -> httpx.Response:
    return httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": login_id, "password": password})


def test_failed_logins_per_address_are_limited(strict_server: LiveServer) -> None:
    live = strict_server
    person = make_person(live, username="limited")
    for i in range(4):
        r = login(live, f"nobody{i}", "wrong-password")
        assert_app_error(r, 401, "api.user.login.invalid_credentials_email_username")
    r = login(live, "nobody9", "wrong-password")
    body = assert_app_error(r, 429, "api.context.rate_limited.app_error")
    assert "try again" in body["message"]
    retry = int(r.headers["Retry-After"])
    assert 0 < retry <= 60
    # While limited, even the right password is refused from this address: no guessing oracle.
    assert_app_error(login(live, person.username, PASSWORD), 429)
    # Sessions that already exist are untouched by the login limiter.
    assert person.http.get("/api/v4/users/me").json()["id"] == person.id


def test_successful_logins_are_not_counted(strict_server: LiveServer) -> None:
    live = strict_server
    person = make_person(live, username="often")
    for _ in range(10):
        assert login(live, person.username, PASSWORD).status_code == 200


def test_account_locks_after_maximum_attempts(lockout_server: LiveServer) -> None:
    live = lockout_server
    victim = make_person(live, username="victim")
    bystander = make_person(live, username="bystander")
    for _ in range(3):
        assert_app_error(login(live, victim.username, "wrong-password"), 401,
                         "api.user.login.invalid_credentials_email_username")
    locked = login(live, victim.username, PASSWORD)
    assert_app_error(locked, 401, "api.user.check_user_login_attempts.too_many.app_error")
    assert "Token" not in locked.headers
    with pytest.raises(NoAccessTokenProvided):
        driver(live, victim.username)
    # Other accounts from the same address still log in: the lockout is per account.
    assert login(live, bystander.username, PASSWORD).status_code == 200
    assert driver(live, bystander.username).users.get_user("me")["id"] == bystander.id


def test_success_resets_the_failure_count(lockout_server: LiveServer) -> None:
    live = lockout_server
    person = make_person(live, username="forgetful")
    for _ in range(2):
        assert login(live, person.username, "wrong-password").status_code == 401
    assert login(live, person.username, PASSWORD).status_code == 200
    for _ in range(2):
        assert login(live, person.username, "wrong-password").status_code == 401
    assert login(live, person.username, PASSWORD).status_code == 200


def _parallel(n: int, send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: send(), range(n)))


def test_parallel_guesses_from_one_address_are_all_counted(strict_server: LiveServer) -> None:
    live = strict_server
    person = make_person(live, username="target")
    got = _parallel(40, lambda: login(live, person.username, "wrong-password"))
    codes = sorted(r.status_code for r in got)
    assert codes.count(401) <= 4 and codes.count(429) >= 36, codes  # the limit is 4 a minute
    for r in got:
        if r.status_code == 429:
            assert 0 < int(r.headers["Retry-After"]) <= 60


def test_parallel_guesses_on_one_account_are_all_counted(lockout_server: LiveServer) -> None:
    live = lockout_server
    victim = make_person(live, username="parallel")
    got = _parallel(40, lambda: login(live, victim.username, "wrong-password"))
    ids = [r.json()["id"] for r in got]
    assert ids.count("api.user.login.invalid_credentials_email_username") <= 3, ids
    assert ids.count("api.user.check_user_login_attempts.too_many.app_error") >= 37
    assert_app_error(login(live, victim.username, PASSWORD), 401,
                     "api.user.check_user_login_attempts.too_many.app_error")


def test_a_pause_lapses_and_says_nothing_about_existence(lockout_server: LiveServer) -> None:
    live = lockout_server
    person = make_person(live, username="paused")
    for name in (person.username, "nobody-by-that-name"):
        for _ in range(3):
            assert_app_error(login(live, name, "wrong-password"), 401,
                             "api.user.login.invalid_credentials_email_username")
    real = login(live, person.username, PASSWORD).json()
    ghost = login(live, "nobody-by-that-name", PASSWORD).json()
    assert real["id"] == ghost["id"] == "api.user.check_user_login_attempts.too_many.app_error"
    assert real["message"] == ghost["message"] and "paused" in real["message"]

    async def pass_time() -> None:  # the pause lapses 15 minutes after the last failure
        async with live.server.domain.db.write() as conn:
            await conn.execute(text("UPDATE login_failures SET last_at = last_at - :ms"), {"ms": 16 * 60_000})

    live.run(pass_time())
    assert login(live, person.username, PASSWORD).status_code == 200


def test_an_admin_password_reset_lifts_the_pause(lockout_server: LiveServer) -> None:
    live = lockout_server
    admin = make_person(live, username="boss")
    person = make_person(live, admin.http, username="forgot")
    for _ in range(4):
        login(live, person.username, "wrong-password")
    assert login(live, person.username, PASSWORD).status_code == 401
    r = admin.http.put(f"/api/v4/users/{person.id}/password", json={"new_password": "Another-pass-9"})
    assert r.status_code == 200, r.text
    assert login(live, person.username, "Another-pass-9").status_code == 200


def test_login_takes_only_json(live: LiveServer, user: Person) -> None:
    body = json.dumps({"login_id": user.username, "password": PASSWORD})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", ""):
        r = httpx.post(f"{live.url}/api/v4/users/login", content=body, headers={"Content-Type": ctype})
        assert_app_error(r, 400, "api.context.invalid_body_param.app_error")
        assert "Token" not in r.headers and "MMAUTHTOKEN" not in r.headers.get("set-cookie", "")
    ok = httpx.post(f"{live.url}/api/v4/users/login", content=body,
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_bodies_over_the_payload_limit_are_refused_before_reading(live: LiveServer) -> None:
    # 400 kB is under the old 1 MiB JSON cap (answered 401 after reading it) but over
    # ServiceSettings.MaximumPayloadSizeBytes (300,000), which the edge now applies to every JSON route.
    r = httpx.post(f"{live.url}/api/v4/users/login", json={"login_id": "x", "password": "p" * 400_000})
    assert_app_error(r, 413, "api.context.request_body_too_large.app_error")
    # An 80 MB body is refused from its declared length alone: the answer comes before any of it is sent.
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v4/users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 80000000\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def test_cookies_are_secure_under_an_https_site_url(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, extra_env={"MM_SERVICESETTINGS_SITEURL": "https://chat.example.com"}).start()
    try:
        person = make_person(server, username="secure")
        r = login(server, person.username, PASSWORD)
        cookies = r.headers.get_list("set-cookie")
        assert len(cookies) == 3 and all("Secure" in c for c in cookies), cookies
    finally:
        server.stop()
