"""Login rate limiting per client address and lockout per account.

Each test runs its own server (LiveServer with tight limits) so the shared server's limiter, which
every other test's logins pass through, is never poisoned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mattermostautodriver.exceptions import NoAccessTokenProvided

from tests.api.test_bad_input import assert_app_error
from tests.testlib.clients import PASSWORD, driver, make_person
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
