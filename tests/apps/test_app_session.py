"""Mattermost's apps against Isthmus: the startup sequence and a short session with @mattermost/client,
each answer type-checked against @mattermost/types (tsc --noEmit).

The npm packages live in tests/apps/node (package.json + package-lock.json committed, node_modules not);
``npm ci`` installs them on first run. ``NOT_YET`` is the exact list of app calls Isthmus does not answer
yet: the test fails when one of them starts working (shrink the list) or when anything else stops working.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.realtime.wsclient import make_channel, make_team
from tests.testlib.clients import PASSWORD, Person
from tests.testlib.live import LiveServer
from tests.testlib.npm import ensure_node_modules

NODE_DIR = Path(__file__).parent / "node"

NOT_YET: set[str] = set()


# Where @mattermost/types is stricter than what Mattermost's own server sends, the same answer from a real
# Mattermost would fail too; these deviations are allowed, nothing else is.
_ERROR = re.compile(r"^(?:.*/)?answers\.ts\((\d+),(\d+)\): error (TS\d+): (.*)$")
# TypeScript string enums of @mattermost/types and their values (a JSON string never has an enum's type).
_STRING_ENUMS = {"CategorySorting": ("", "alpha", "recent", "manual"),
                 "CollapsedThreads": ("disabled", "default_on", "default_off", "always_on"),
                 "PostPriority": ("important", "urgent")}
_GO_NULL_KEYS = {"scheme_id", "props"}  # Go encodes a nil *string / nil map as null (Channel.SchemeId, Props)
_OMITTED_METADATA = {"embeds", "emojis", "files", "images", "reactions"}  # PostMetadata fields are omitempty
_NOT_DEFAULT_NOTIFY = {"calls_desktop_sound", "mark_unread", "highlight_keys"}  # not in SetDefaultNotifications


def _key_at(line: str, column: int) -> str:
    """The JSON key tsc points at (it reports the property's position)."""
    found = re.match(r'"([A-Za-z_]+)":', line[column - 1:])
    return found[1] if found else ""


def type_errors(tsc_output: str, source: str) -> tuple[list[str], dict[str, int]]:
    """(errors that matter, counts of allowed deviations by reason)."""
    lines = source.splitlines()
    bad: list[str] = []
    allowed: dict[str, int] = {}
    for raw in tsc_output.splitlines():
        m = _ERROR.match(raw.strip())
        if not m:
            if "error TS" in raw:
                bad.append(f"unparsed tsc line: {raw}")  # never let an error slip by unread
            continue
        row, col, code, msg = int(m[1]), int(m[2]), m[3], m[4]
        line = lines[row - 1] if row <= len(lines) else ""
        reason = ""
        if code == "TS2353":
            reason = "extra keys (Mattermost sends keys its types do not declare too)"
        elif (e := re.match(r"Type '\"([a-z_]*)\"' is not assignable to type '([^']+)'\.", msg)) \
                and any(e[1] in _STRING_ENUMS.get(name, ()) for name in re.findall(r"\w+", e[2])):
            reason = "a string enum cannot be matched by JSON"
        elif msg.startswith("Type 'null' is not assignable") and _key_at(line, col) in _GO_NULL_KEYS:
            reason = "Go's null for a nil pointer or map"
        elif "from type 'PostMetadata':" in msg and set(re.split(r",\s*", msg.split(":")[-1].strip(" ."))) \
                <= _OMITTED_METADATA:
            reason = "omitempty post metadata"
        elif "from type 'UserNotifyProps':" in msg and (msg.startswith("Type '{}'") or set(
                re.split(r",\s*", msg.split(":")[-1].strip(" ."))) <= _NOT_DEFAULT_NOTIFY):
            reason = "notify props as Mattermost fills them (others' cleared, defaults without these keys)"
        if reason:
            allowed[reason] = allowed.get(reason, 0) + 1
        else:
            bad.append(f"{lines[row - 2] if row > 1 else ''}: {msg}")
    return bad, allowed


def _node_modules() -> None:
    ensure_node_modules(NODE_DIR)


def run_session(live: LiveServer, person: Person, team_id: str, channel_id: str, other_id: str,
                out: Path) -> dict[str, Any]:
    _node_modules()
    node = shutil.which("node")
    assert node, "node is required for the app tests"
    proc = subprocess.run([node, "app_session.mjs", live.url, person.username, PASSWORD, team_id, channel_id,
                           other_id, str(out)], cwd=NODE_DIR, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_app_startup_and_session(live: LiveServer, admin: Person, user: Person, other: Person,
                                 tmp_path: Path) -> None:
    team = make_team(user, other)
    chan = make_channel(user, team["id"], other)
    other.http.post("/api/v4/posts", json={"channel_id": chan["id"], "message": "welcome"})
    result = run_session(live, user, team["id"], chan["id"], other.id, tmp_path)
    calls = result["calls"]
    table = "\n".join(f"{c['step']:8} {c['call']:40} {'answered' if c['ok'] else 'NOT answered'} "
                      f"{'' if c['ok'] else c['status']}" for c in calls)
    print("\n" + table)  # the list for the closing note (pytest -s)
    failing = {c["call"] for c in calls if not c["ok"]}
    assert failing == NOT_YET, table
    # What was not answered is refused the way the apps expect: a JSON AppError, not an HTML 404.
    for c in calls:
        if not c["ok"]:
            assert c["status"] in (404, 501) and c["id"], c
    bad, allowed = type_errors(result["tsc"]["output"], (tmp_path / "answers.ts").read_text())
    assert result["tsc"]["ok"] or bad or allowed, result["tsc"]["output"]
    print("allowed deviations from @mattermost/types:", allowed)
    assert not bad, "\n".join(bad)
    assert len(calls) >= 40
    # The session had effects the app relies on.
    posts = user.http.get(f"/api/v4/channels/{chan['id']}/posts").json()
    messages = [p["message"] for p in posts["posts"].values()]
    assert "hello from the app session" in messages and "a reply" in messages
    cats = user.http.get(f"/api/v4/users/{user.id}/teams/{team['id']}/channels/categories").json()
    by_type = {c["type"]: c for c in cats["categories"]}
    assert chan["id"] in by_type["favorites"]["channel_ids"] and by_type["channels"]["collapsed"] is True
    important = next(p for p in posts["posts"].values() if p["message"] == "please confirm")
    assert important["metadata"]["priority"] == {"priority": "important", "requested_ack": True,
                                                 "persistent_notifications": False}
    member = user.http.get(f"/api/v4/channels/{chan['id']}/members/me").json()
    assert member["msg_count"] == posts_total(user, chan["id"])


def posts_total(user: Person, channel_id: str) -> int:
    channel = user.http.get(f"/api/v4/channels/{channel_id}").json()
    total: int = channel["total_msg_count"]
    return total


def test_type_check_catches_a_wrong_shape(tmp_path: Path) -> None:
    """The tsc check is not vacuous: a Team without its required keys does not compile."""
    _node_modules()
    node = shutil.which("node")
    assert node
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "answers.ts").write_text(
        "import type {Team} from '@mattermost/types/teams';\n"
        "const is = <T,>() => <U extends T>(u: U): U => u;\n"
        "export const a0 = is<Team>()({\"id\": \"x\", \"type\": \"Q\"});\n")
    types = NODE_DIR / "node_modules" / "@mattermost" / "types" / "lib" / "*"
    (bad / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "skipLibCheck": True, "target": "es2022", "module": "es2022",
        "moduleResolution": "bundler", "baseUrl": ".", "typeRoots": [],
        "paths": {"@mattermost/types/*": [str(types)]}}, "files": ["answers.ts"]}))
    proc = subprocess.run([node, str(NODE_DIR / "node_modules" / "typescript" / "bin" / "tsc"), "-p", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Team" in proc.stdout, proc.stdout


def test_only_known_deviations_are_allowed() -> None:
    source = "// getPost\nexport const a0 = is<Post>()({\"scheme_id\":null,\"message\":null});\n"
    out = ("answers.ts(2,31): error TS2322: Type 'null' is not assignable to type 'string'.\n"
           "answers.ts(2,48): error TS2322: Type 'null' is not assignable to type 'string'.\n"
           "answers.ts(2,20): error TS2741: Property 'id' is missing in type '{}' but required in type 'Post'.\n"
           "answers.ts(2,20): error TS2739: Type '{}' is missing the following properties from type "
           "'PostMetadata': embeds, priority\n")
    bad, allowed = type_errors(out, source)
    assert allowed == {"Go's null for a nil pointer or map": 1}
    assert len(bad) == 3 and all(b.startswith("// getPost:") for b in bad)
