"""Fuzzing the live server: hypothesis bodies at the core write endpoints, then schemathesis over the
implemented operations of the Mattermost OpenAPI spec. Neither may ever produce a 5xx, and every
error must be a well-formed AppError.

Bounded so the whole file runs in well under a minute. Config and roles are restored afterwards, and
logins are fuzzed on a server of their own so the shared login limiter stays clean.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from isthmus.api.routes import ROUTERS
from isthmus.config import Config
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer

# The spec lives in shared/ beside the repository clone (CI lays a copy next to its fresh clone);
# ISTHMUS_SHARED_DIR points elsewhere, e.g. for a clone made in another folder by hand.
_SPEC_REL = Path("spec") / "mattermost-openapi-v4.yaml"
_SHARED_DIRS = [Path(p) for p in (os.environ.get("ISTHMUS_SHARED_DIR", ""),) if p] + [
    Path(__file__).resolve().parents[2].parent / "shared"]
SPEC = next((d / _SPEC_REL for d in _SHARED_DIRS if (d / _SPEC_REL).is_file()), _SHARED_DIRS[-1] / _SPEC_REL)
# ISTHMUS_FUZZ_SCALE=10 multiplies every example budget for a deeper, slower hunt.
SCALE = max(1, int(os.environ.get("ISTHMUS_FUZZ_SCALE", "1")))
FUZZ = settings(max_examples=25 * SCALE, deadline=None, database=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))
SCHEMA_EXAMPLES = 3 * SCALE
# Operations schemathesis must not call with the fuzzing admin's token: they end its own session or
# rewrite server-wide config (the hypothesis part covers config with a restore).
SKIP_OPS = re.compile(r"^(POST /api/v4/users/logout|PUT /api/v4/config(/patch)?|POST /api/v4/config/reload)$")
# ISTHMUS_FUZZ_REPORT=path appends one line of figures per fuzz test (cases run, operations covered) for
# the "Deep fuzzing" section of docs/reliability.md; without it the figures are printed (seen with -s).
REPORT = os.environ.get("ISTHMUS_FUZZ_REPORT", "")


def report(line: str) -> None:
    print(line)
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(line + "\n")


@dataclass
class World:
    admin: Person
    user: Person
    team: str
    channel: str
    post: str

    def ids(self) -> list[str]:
        return [self.admin.id, self.user.id, self.team, self.channel, self.post]


@pytest.fixture(scope="module")
def world(live: LiveServer, admin: Person) -> World:
    fuzz_admin = make_person(live, admin.http, system_admin=True)
    user = make_person(live, admin.http)
    r = user.http.post("/api/v4/teams", json={"name": unique("fz"), "display_name": "Fuzz", "type": "O"})
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    assert fuzz_admin.http.post(f"/api/v4/teams/{team}/members",
                                json={"team_id": team, "user_id": fuzz_admin.id}).status_code == 201
    r = user.http.post("/api/v4/channels", json={"team_id": team, "name": unique("fz"), "display_name": "Fuzz",
                                                 "type": "O"})
    assert r.status_code == 201, r.text
    channel = r.json()["id"]
    r = user.http.post("/api/v4/posts", json={"channel_id": channel, "message": "fuzz target"})
    assert r.status_code == 201, r.text
    return World(fuzz_admin, user, team, channel, r.json()["id"])


@pytest.fixture(scope="module", autouse=True)
def restore_config_and_roles(live: LiveServer, admin: Person) -> Iterator[None]:
    config = admin.http.get("/api/v4/config").json()
    roles = admin.http.get("/api/v4/roles").json()
    yield
    assert admin.http.put("/api/v4/config", json=config).status_code == 200
    for role in roles:
        r = admin.http.put(f"/api/v4/roles/{role['id']}/patch", json={"permissions": role["permissions"]})
        assert r.status_code == 200, r.text


def check_answer(status: int, content_type: str, text: str, what: str) -> None:
    assert status < 500 or _feature_disabled(status, text), f"{what} -> {status} {text[:500]}"
    if status >= 400:  # successes may be images or files; every error is AppError JSON
        assert content_type == "application/json", f"{what} -> {content_type!r}"
        body = json.loads(text)
        assert isinstance(body, dict), what
        for key, kind in (("id", str), ("message", str), ("detailed_error", str), ("request_id", str),
                          ("status_code", int)):
            assert isinstance(body.get(key), kind), f"{what} -> {text[:300]}"
        assert body["status_code"] == status


def check_httpx(r: httpx.Response, what: str) -> None:
    check_answer(r.status_code, r.headers.get("content-type", ""), r.text, what)


def _feature_disabled(status: int, text: str) -> bool:
    """501 for a switched-off feature (remote cluster service, public links, access tokens) is what
    Mattermost answers too; any other 5xx is a bug."""
    if status != 501:
        return False
    try:
        error_id = str(json.loads(text).get("id", ""))
    except ValueError:
        return False
    return error_id.endswith(("not_enabled.app_error", "disabled.app_error", ".disabled"))


# ---- hypothesis: arbitrary JSON and bytes at the write endpoints -------------------------------------

NASTY_TEXT = st.sampled_from(["", " ", "\x00", "\ud800", "\udfff", "a\u0000b", "😀", "\u202e", "x" * 70_000,
                              "me", "system_admin", "O", "P", "D", "<script>", "../../etc/passwd", "%00"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), NASTY_TEXT,
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)


def encode(value: Any, ascii_only: bool) -> bytes:
    # surrogatepass lets lone surrogates through as invalid UTF-8, which the server must refuse too.
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


def bodies(keys: tuple[str, ...], real_ids: list[str]) -> st.SearchStrategy[bytes]:
    values = st.one_of(JSON_VALUES, st.sampled_from(real_ids)) if real_ids else JSON_VALUES
    shaped = st.dictionaries(st.sampled_from(keys), values, max_size=len(keys)) if keys else JSON_VALUES
    return st.one_of(
        st.builds(encode, shaped, st.booleans()),
        st.builds(encode, JSON_VALUES, st.booleans()),
        st.binary(max_size=200),
    )


USER_KEYS = ("username", "email", "password", "nickname", "first_name", "last_name", "position", "locale",
             "props", "notify_props", "timezone", "roles", "id", "auth_data", "auth_service")
TEAM_KEYS = ("name", "display_name", "type", "description", "company_name", "allowed_domains",
             "allow_open_invite", "invite_id", "id", "team_id", "user_id")
CHANNEL_KEYS = ("team_id", "name", "display_name", "type", "purpose", "header", "id", "user_id", "user_ids",
                "post_root_id", "group_constrained")
POST_KEYS = ("channel_id", "message", "root_id", "props", "file_ids", "type", "pending_post_id", "metadata",
             "id", "is_pinned", "create_at", "user_id", "hashtags")
REACTION_KEYS = ("user_id", "post_id", "emoji_name", "create_at", "channel_id")
CONFIG_KEYS = tuple(Config.model_fields)
BOOKMARK_KEYS = ("display_name", "type", "link_url", "emoji", "image_url", "file_id", "sort_order", "channel_id",
                 "id", "owner_id")
SEARCH_KEYS = ("terms", "is_or_search", "time_zone_offset", "include_deleted_channels", "page", "per_page")

# (method, path, caller, keys): caller "user" is the fuzz world's plain user, "admin" its system admin.
WRITES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("POST", "/api/v4/users", "admin", USER_KEYS),
    ("PUT", "/api/v4/users/me/patch", "user", USER_KEYS),
    ("PUT", "/api/v4/users/{user}/roles", "admin", ("roles",)),
    ("POST", "/api/v4/users/search", "user", ("term", "team_id", "not_in_team_id", "in_channel_id", "limit",
                                              "allow_inactive", "without_team")),
    ("POST", "/api/v4/users/ids", "user", ()),
    ("POST", "/api/v4/teams", "user", TEAM_KEYS),
    ("PUT", "/api/v4/teams/{team}/patch", "user", TEAM_KEYS),
    ("POST", "/api/v4/teams/{team}/members", "user", TEAM_KEYS),
    ("POST", "/api/v4/channels", "user", CHANNEL_KEYS),
    ("PUT", "/api/v4/channels/{channel}/patch", "user", CHANNEL_KEYS),
    ("POST", "/api/v4/channels/{channel}/members", "user", CHANNEL_KEYS),
    ("POST", "/api/v4/channels/direct", "user", ()),
    ("POST", "/api/v4/channels/group", "user", ()),
    ("POST", "/api/v4/posts", "user", POST_KEYS),
    ("PUT", "/api/v4/posts/{post}/patch", "user", POST_KEYS),
    ("PUT", "/api/v4/posts/{post}", "user", POST_KEYS),
    ("POST", "/api/v4/posts/ids", "user", ()),
    ("POST", "/api/v4/reactions", "user", REACTION_KEYS),
    ("PUT", "/api/v4/config/patch", "admin", CONFIG_KEYS),
    ("PUT", "/api/v4/roles/{role}/patch", "admin", ("permissions",)),
    # Served but not in the spec (so schemathesis cannot reach them): Mattermost's newer write routes.
    ("POST", "/api/v4/channels/{channel}/bookmarks", "user", BOOKMARK_KEYS),
    ("POST", "/api/v4/drafts", "user", ("channel_id", "root_id", "message", "props", "file_ids", "user_id",
                                        "create_at", "update_at", "priority")),
    ("POST", "/api/v4/posts/search", "user", SEARCH_KEYS),
    ("POST", "/api/v4/files/search", "user", SEARCH_KEYS),
    ("POST", "/api/v4/emoji/names", "user", ()),
    ("POST", "/api/v4/custom_profile_attributes/fields", "admin", ("name", "type", "attrs", "target_id",
                                                                   "target_type", "id", "delete_at")),
    ("PATCH", "/api/v4/custom_profile_attributes/values", "user", ()),
    ("PATCH", "/api/v4/roles/{role}/patch", "admin", ("permissions",)),
]


@pytest.mark.parametrize(("method", "path", "caller", "keys"), WRITES, ids=[f"{m} {p}" for m, p, _, _ in WRITES])
def test_write_endpoints_never_5xx(world: World, admin: Person, method: str, path: str, caller: str,
                                   keys: tuple[str, ...]) -> None:
    client = world.admin.http if caller == "admin" else world.user.http
    role = admin.http.get("/api/v4/roles/name/channel_guest").json()["id"]
    url = path.format(user=world.user.id, team=world.team, channel=world.channel, post=world.post, role=role)
    headers = {"Content-Type": "application/json"}

    cases = 0

    @FUZZ
    @given(raw=bodies(keys, world.ids()))
    def run(raw: bytes) -> None:
        nonlocal cases
        cases += 1
        r = client.request(method, url, content=raw, headers=headers)
        check_httpx(r, f"{method} {url} body={raw[:300]!r}")

    run()
    report(f"hypothesis bodies {method} {path}: {cases} cases, 0 x 5xx")
    # The fuzzing user and admin can still act: no fuzz input broke authentication or the server.
    assert world.user.http.get("/api/v4/users/me").status_code == 200


def test_login_fuzz_on_its_own_server(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, extra_env={"MM_RATELIMITSETTINGS_LOGINFAILURESPERMINUTE": "100000"}).start()
    try:
        person = make_person(server, username="fuzzlogin")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            @FUZZ
            @given(raw=bodies(("login_id", "password", "device_id", "token", "ldap_only"), [person.username]))
            def run(raw: bytes) -> None:
                r = client.post("/api/v4/users/login", content=raw, headers={"Content-Type": "application/json"})
                check_httpx(r, f"POST /users/login body={raw[:300]!r}")

            run()
            report(f"hypothesis bodies POST /api/v4/users/login: {FUZZ.max_examples} cases asked, 0 x 5xx")
    finally:
        server.stop()


# ---- schemathesis: the OpenAPI spec, limited to what the server implements ---------------------------

def implemented() -> set[tuple[str, str]]:
    """(METHOD, path with every ``{param}`` blanked) for every route the server serves."""
    out: set[tuple[str, str]] = set()
    for router in ROUTERS:
        for route in router.routes:
            for method in getattr(route, "methods", None) or ():
                out.add((method.upper(), re.sub(r"\{[^}]+\}", "{}", "/api/v4" + getattr(route, "path", ""))))
    return out


@pytest.fixture(scope="module")
def spec_operations() -> list[Any]:
    if not SPEC.is_file():
        pytest.fail(f"Mattermost OpenAPI spec not found at {SPEC}: check out shared/ beside the repository "
                    "(the fuzz pass must not be skipped silently)", pytrace=False)
    schema = schemathesis.openapi.from_path(SPEC)
    ours = implemented()
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()
        key = (op.method.upper(), re.sub(r"\{[^}]+\}", "{}", op.path))
        if key in ours and not SKIP_OPS.match(f"{key[0]} {op.path}"):
            ops.append(op)
    return ops


def test_every_implemented_spec_operation_is_fuzzed(spec_operations: list[Any]) -> None:
    """Schemathesis reaches every operation that is both in the spec and served, except SKIP_OPS (which
    would end the fuzzing session or rewrite server-wide config; the hypothesis part covers config)."""
    spec_keys: dict[tuple[str, str], str] = {}
    total = 0
    for result in schemathesis.openapi.from_path(SPEC).get_all_operations():
        op = result.ok()
        total += 1
        spec_keys[(op.method.upper(), re.sub(r"\{[^}]+\}", "{}", op.path))] = f"{op.method.upper()} {op.path}"
    served = {label for key, label in spec_keys.items() if key in implemented()}
    fuzzed = {f"{op.method.upper()} {op.path}" for op in spec_operations}
    skipped = sorted(served - fuzzed)
    assert all(SKIP_OPS.match(label) for label in skipped), skipped
    assert fuzzed <= served
    report(f"schemathesis coverage: {total} operations in the spec, {len(implemented())} served, "
           f"{len(served)} served and in the spec, {len(fuzzed)} fuzzed, skipped: {', '.join(skipped)}")


def test_spec_covers_the_core_operations(spec_operations: list[Any]) -> None:
    labels = {f"{op.method.upper()} {op.path}" for op in spec_operations}
    for needed in ("POST /api/v4/users", "GET /api/v4/users/{user_id}", "POST /api/v4/teams",
                   "POST /api/v4/channels", "POST /api/v4/posts", "POST /api/v4/reactions",
                   "GET /api/v4/roles/name/{role_name}", "PUT /api/v4/roles/{role_id}/patch",
                   "GET /api/v4/system/ping"):
        assert needed in labels


def schemathesis_pass(token: str, base: str, real: dict[str, str], spec_operations: list[Any]) -> tuple[int, list[str]]:
    """Positive and negative cases for every operation, and positive ones aimed at ``real`` ids: (cases, failures)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    failures: list[str] = []
    calls = 0
    for op in spec_operations:
        names = re.findall(r"\{(\w+)\}", op.path)
        fixed = {n: real[n] for n in names if n in real}
        strategies = [op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)]
        if fixed:
            strategies.append(op.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
        for strategy in strategies:
            @settings(max_examples=SCHEMA_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case: Any) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=base.rstrip("/"), session=session)
                what = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:300]}"
                try:
                    text = response.content.decode("utf-8", "replace")
                    if not _feature_disabled(response.status_code, text):
                        case.validate_response(response, checks=[not_a_server_error])
                    content_type = (response.headers.get("content-type") or [""])[0]
                    check_answer(response.status_code, content_type, text, what)
                except AssertionError as err:
                    failures.append(f"{what}: {str(err)[:300]}")
                except (Exception, BaseExceptionGroup) as err:  # schemathesis raises its own failure types
                    failures.append(f"{what}: {type(err).__name__}: {str(err)[:300]}")

            run()
    return calls, failures


def test_schemathesis_finds_no_server_errors(world: World, spec_operations: list[Any]) -> None:
    """As a system admin, so every operation gets past its permission check to the input handling."""
    real = {"user_id": world.user.id, "team_id": world.team, "channel_id": world.channel, "post_id": world.post}
    calls, failures = schemathesis_pass(world.admin.token, str(world.admin.http.base_url), real, spec_operations)
    report(f"schemathesis as an admin: {calls} cases over {len(spec_operations)} operations "
           f"({SCHEMA_EXAMPLES} examples asked per strategy), {len(failures)} failures")
    assert calls > len(spec_operations) * 2
    assert not failures, "\n".join(failures[:20])
    assert world.admin.http.get("/api/v4/users/me").status_code == 200


def test_schemathesis_as_a_plain_user(live: LiveServer, admin: Person, spec_operations: list[Any]) -> None:
    """As a plain user, in a team and channel of their own (the admin pass may have deleted the world's):
    the permission refusals must be AppErrors too."""
    plain = make_person(live, admin.http)
    r = plain.http.post("/api/v4/teams", json={"name": unique("fz"), "display_name": "Fuzz", "type": "O"})
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    r = plain.http.post("/api/v4/channels", json={"team_id": team, "name": unique("fz"), "display_name": "Fuzz",
                                                  "type": "O"})
    assert r.status_code == 201, r.text
    channel = r.json()["id"]
    r = plain.http.post("/api/v4/posts", json={"channel_id": channel, "message": "fuzz target"})
    assert r.status_code == 201, r.text
    real = {"user_id": plain.id, "team_id": team, "channel_id": channel, "post_id": r.json()["id"]}
    calls, failures = schemathesis_pass(plain.token, str(plain.http.base_url), real, spec_operations)
    report(f"schemathesis as a plain user: {calls} cases over {len(spec_operations)} operations "
           f"({SCHEMA_EXAMPLES} examples asked per strategy), {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])
