"""Fuzzing the server-to-server endpoints with a connection's VALID credentials (issue 18 item 4).

Beta is fuzzed with alpha's real connection id and token, so every frame gets past authentication and reaches
the frame parser and the sync listeners: raw garbage, invalid UTF-8, deep nesting, huge arrays, every field of
a real sync payload replaced by a value of the wrong type, ids of channels not shared with alpha, and replays of
frames alpha really sent earlier (older than later edits). Then the upload endpoint, with sessions opened for a
shared and an unshared channel, and ``POST /api/v4/files`` with hostile multipart bodies from a local user.

Every answer: no 5xx, every HTTP error a well-formed AppError. A refused frame (HTTP error or ``FAIL``) and a
replay write nothing at all (the whole database is compared before and after, minus the liveness columns the
pinger keeps moving); a frame that is accepted never changes a channel alpha does not share.

ISTHMUS_FUZZ_SCALE multiplies the example budget (CI runs the small one); ISTHMUS_FUZZ_REPORT appends figures.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from isthmus.core.ids import new_id
from isthmus.store.schema import metadata
from tests.api.test_image_limits import header_only_png
from tests.testlib import wirelog
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, person, posts_of, share, share_node, snapshot, wait_converged
from tests.testlib.wire_check import FrameRecorder

SCALE = max(1, int(os.environ.get("ISTHMUS_FUZZ_SCALE", "1")))
REPORT = os.environ.get("ISTHMUS_FUZZ_REPORT", "")
T = TypeVar("T")

# Columns that move on their own while the test runs (pings, session activity), not because of a frame.
VOLATILE = {("remote_clusters", "last_ping_at"), ("sessions", "last_activity_at"), ("statuses", "last_activity_at"),
            # beta's sender moving its cursor past what an earlier accepted frame queued (never echoed back)
            ("shared_channel_remotes", "outbox_cursor"), ("shared_channel_remotes", "update_at"),
            ("shared_channel_remotes", "unsent_since")}
# Tables the background machinery writes whether or not a frame arrives.
VOLATILE_TABLES: set[str] = {"leases", "cluster_nodes"}  # a process renewing its leases and heartbeat


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))


def report(line: str) -> None:
    print(line)
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(line + "\n")


async def db_state(node: Node) -> dict[str, list[str]]:
    """Every row of every table, as sorted text, without the volatile columns."""
    out: dict[str, list[str]] = {}
    async with node.server.domain.db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            cols = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            rows = (await conn.execute(select(*cols))).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
    return out


async def settled(node: Node) -> None:
    """Wait until the background sync has nothing left to write (two reads a second apart agree)."""
    last = await db_state(node)
    for _ in range(30):
        await asyncio.sleep(1.0)
        now = await db_state(node)
        if now == last:
            return
        last = now
    raise AssertionError("beta's database never settled")


def state_diff(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    out = []
    for name in before:
        gone, new = set(before[name]) - set(after[name]), set(after[name]) - set(before[name])
        if name == "sync_outbox":  # pruned in the background once every peer has a change: only additions count
            gone = set()
        if gone or new:
            out.append(f"{name}: -{sorted(gone)[:2]} +{sorted(new)[:2]}"[:3000])
    return out


def check_http(status: int, headers: httpx.Headers, body: bytes, what: str) -> None:
    assert status < 500, f"{what} -> {status} {body[:400]!r}"
    if status >= 400:
        assert headers.get("content-type", "").startswith("application/json"), what
        err = json.loads(body)
        for key, kind in (("id", str), ("message", str), ("request_id", str), ("status_code", int)):
            assert isinstance(err.get(key), kind), f"{what} -> {body[:300]!r}"
        assert err["status_code"] == status, what


def run_fuzz(loop: asyncio.AbstractEventLoop, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on the cluster's loop from hypothesis' thread."""
    return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=120)


# ---- payload strategies ----------------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(allow_nan=False), st.text(max_size=30),
                    st.sampled_from(["", "\x00", "\ud800", "😀", "x" * 70_000, "O", "D", "-1", "1e400"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                    max_leaves=10)


def encode(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


def mutate(template: Any, data: st.DataObject) -> Any:
    """The template with one value somewhere inside replaced by an arbitrary JSON value (or a huge list)."""
    paths: list[tuple[Any, ...]] = []

    def walk(v: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(v, dict):
            for k, sub in v.items():
                walk(sub, (*path, k))
        elif isinstance(v, list):
            for i, sub in enumerate(v):
                walk(sub, (*path, i))

    walk(template, ())
    path = data.draw(st.sampled_from(paths))
    value = data.draw(st.one_of(JSON, st.builds(lambda n, v: [v] * n, st.sampled_from([1000, 20_000]), JSON)))
    if not path:
        return value
    out = json.loads(json.dumps(template))
    holder = out
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return out


async def admin_post(node: Node, channel_id: str) -> dict[str, Any]:
    r = await node.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": "after the fuzzing"})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def nested(depth: int, list_: bool) -> str:
    return ("[" * depth + "]" * depth) if list_ else ('{"a":' * depth + "1" + "}" * depth)


# ---- the test ----------------------------------------------------------------------------------------------

async def test_hostile_frames_with_valid_credentials(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    shared = await channel(a)
    await share(a, shared, (b, ab))
    ann = await person(a, channel_id=shared)
    rec = FrameRecorder.install(cluster, b)
    first = await ann.post(shared, "first")
    await ann.react(first["id"], "smile")
    await wait_converged([a, b], shared, min_posts=1)
    await ann.edit(first["id"], "first, edited")  # the frames recorded above are now older than this edit
    await wait_converged([a, b], shared, min_posts=1)
    replays = [(f.topic, f.payload) for f in rec.frames]
    assert any(t == "sharedchannel_sync" for t, _ in replays)
    cluster.net.handlers.pop(b.host)

    private_on_b = await channel(b)  # never shared
    bob = await person(b, channel_id=private_on_b)
    await bob.post(private_on_b, "beta's own")
    unshared_on_a = await channel(a)
    targets = [private_on_b, unshared_on_a, shared, new_id()]
    not_alphas = targets[:2] + targets[3:]
    template: dict[str, Any] = next(p for t, p in replays if t == "sharedchannel_sync" and p.get("posts"))
    await wait_converged([a, b], shared, min_posts=1)
    await settled(b)
    rc = await a.row(ab)
    headers = {"X-RemoteCluster-Id": ab, "X-RemoteCluster-Token": rc.remote_token,
               "Content-Type": "application/json"}
    raw = httpx.AsyncClient(transport=httpx.ASGITransport(app=b.app), base_url=b.url, timeout=60)
    loop = asyncio.get_running_loop()
    counts = {"frames": 0, "refused": 0, "accepted": 0, "uploads": 0, "files": 0, "images": 0}

    def frame_bytes(topic: str, payload_json: str, msg_id: str = "") -> bytes:
        return (f'{{"remote_id":"{ab}","msg":{{"id":"{msg_id or new_id()}","topic":{json.dumps(topic)},'
                f'"create_at":1,"payload":{payload_json}}}}}').encode("utf-8", "surrogatepass")

    async def deliver(body: bytes, *, replay: bool = False) -> None:
        before = await db_state(b)
        private_before = await snapshot(b, private_on_b)
        with wirelog.hand_made():
            r = await raw.post("/api/v4/remotecluster/msg", content=body, headers=headers)
        what = f"/msg {body[:300]!r}"
        check_http(r.status_code, r.headers, r.content, what)
        counts["frames"] += 1
        refused = r.status_code >= 400 or json.loads(r.content).get("status") != "OK"
        if refused or replay:
            counts["refused" if refused else "accepted"] += 1
            diff = state_diff(before, await db_state(b))
            assert not diff, f"{body[:3000]!r} -> {r.content[:500]!r} wrote: {diff}"
        else:
            counts["accepted"] += 1
            assert await snapshot(b, private_on_b) == private_before, what

    # replays first, while beta holds exactly what alpha's real frames made: every frame alpha really sent,
    # again, is idempotent (nothing written) and the older ones do not roll back the later edit.
    for _ in range(SCALE):
        for topic, payload in replays:
            await deliver(frame_bytes(topic, json.dumps(payload)), replay=True)
    assert (await posts_of(b, shared))[first["id"]]["message"] == "first, edited"

    @fuzz_settings(40)
    @given(data=st.data())
    def garbage(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(["bytes", "utf8", "nest", "huge", "wrongtype", "channel", "topic"]))
        topic = data.draw(st.sampled_from(["sharedchannel_sync", "sharedchannel_upload", "sharedchannel_membership",
                                           "sharedchannel_global_user_sync", "sharedchannel_unshare",
                                           "sharedchannel_invite", "isthmus_channel_snapshot",
                                           "isthmus_channel_resend", "isthmus_sync_hello", "isthmus_limits",
                                           "isthmus_typing", "ping", "nonsense"]))
        if topic == "sharedchannel_unshare" and kind != "channel":
            topic = "sharedchannel_sync"  # alpha is the home of `shared`: its unshare of it is legitimate
        if kind == "bytes":
            body = data.draw(st.binary(max_size=300))
        elif kind == "utf8":
            bad = data.draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xf4\x90\x80\x80"]))
            body = frame_bytes(topic, '{"channel_id":"' + shared + '","posts":[{"id":"') + bad + b'"}]}}}'
        elif kind == "nest":
            depth = data.draw(st.sampled_from([64, 1000, 100_000]))
            body = frame_bytes(topic, nested(depth, data.draw(st.booleans())))
        elif kind == "huge":
            n = data.draw(st.sampled_from([10_000, 100_000]))
            item = data.draw(st.sampled_from(['{}', '1', '"x"', f'{{"id":"{new_id()}","channel_id":"{shared}"}}']))
            field = data.draw(st.sampled_from(["posts", "reactions", "users", "attachments", "statuses"]))
            items = ",".join([item] * n)
            body = frame_bytes(topic, f'{{"channel_id":"{shared}","{field}":[{items}]}}')
        elif kind == "wrongtype":
            body = frame_bytes(topic, encode(mutate(template, data)).decode("utf-8", "surrogatepass"))
        elif kind == "channel":
            target = data.draw(st.sampled_from(not_alphas if topic == "sharedchannel_unshare" else targets))
            payload = json.loads(json.dumps(template))
            payload["channel_id"] = target if topic == "sharedchannel_unshare" else data.draw(
                st.sampled_from([target, shared]))
            for post in payload.get("posts") or []:
                post["id"] = data.draw(st.sampled_from([post["id"], new_id()]))
                post["channel_id"] = target
            body = frame_bytes(topic, json.dumps(payload))
        else:
            payload_text = encode(data.draw(JSON)).decode("utf-8", "surrogatepass")
            body = frame_bytes(data.draw(st.text(max_size=20)), payload_text)
        run_fuzz(loop, lambda: deliver(body))

    await asyncio.to_thread(garbage)

    # uploads: a session opened for the shared channel and one for a channel not shared, then hostile bytes
    async def open_session(channel_id: str, size: int) -> str:
        session = {"id": new_id(), "type": "attachment", "create_at": 1, "user_id": ann.user_id,
                   "channel_id": channel_id, "filename": "f.txt", "path": "", "thumb_path": "", "file_size": size,
                   "file_offset": 0, "remote_id": ab, "req_file_id": new_id()}
        with wirelog.hand_made():
            r = await raw.post("/api/v4/remotecluster/msg", headers=headers,
                               content=frame_bytes("sharedchannel_upload", json.dumps(session)))
        check_http(r.status_code, r.headers, r.content, "open upload session")
        return str(session["id"])

    @fuzz_settings(15)
    @given(data=st.data())
    def uploads(data: st.DataObject) -> None:
        size = data.draw(st.sampled_from([0, 1, 10, 100_000]))
        target = data.draw(st.sampled_from([shared, private_on_b]))
        use_real = data.draw(st.booleans())
        content = data.draw(st.one_of(st.binary(max_size=64), st.builds(lambda n: b"z" * n,
                                                                         st.sampled_from([size, size + 1, 200_000]))))

        fake_id = data.draw(st.sampled_from([new_id(), "..%2F..%2Fetc", "x" * 300, "%00"]))

        async def go() -> None:
            upload_id = await open_session(target, size) if use_real else fake_id
            before = await db_state(b)
            r = await raw.post(f"/api/v4/remotecluster/upload/{upload_id}", content=content,
                               headers={k: v for k, v in headers.items() if k != "Content-Type"})
            check_http(r.status_code, r.headers, r.content, f"upload {upload_id} {len(content)}")
            counts["uploads"] += 1
            if r.status_code >= 400:
                diff = [d for d in state_diff(before, await db_state(b)) if not d.startswith("upload_sessions")]
                assert not diff, f"refused upload wrote {diff}"
            else:
                assert target == shared and use_real

        run_fuzz(loop, go)

    await asyncio.to_thread(uploads)

    # profile pictures pushed by the connection: only for its own (synthetic) users, only real small images
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tiny, "PNG")
    pictures = [tiny.getvalue(), header_only_png(100_000, 100_000), b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a"]

    @fuzz_settings(10)
    @given(data=st.data())
    def images(data: st.DataObject) -> None:
        target = data.draw(st.sampled_from([ann.user_id, bob.user_id, new_id(), "me", "x" * 26]))
        picture = data.draw(st.sampled_from(pictures))
        field = data.draw(st.sampled_from(["image", "file", ""]))
        truncated = data.draw(st.booleans())
        body = (f'--bnd\r\nContent-Disposition: form-data; name="{field}"; filename="p.png"\r\n'
                "Content-Type: image/png\r\n\r\n").encode() + picture + (b"" if truncated else b"\r\n--bnd--\r\n")

        async def go() -> None:
            before = await db_state(b)
            r = await raw.post(f"/api/v4/remotecluster/{target}/image", content=body, headers={
                **{k: v for k, v in headers.items() if k != "Content-Type"},
                "Content-Type": "multipart/form-data; boundary=bnd"})
            check_http(r.status_code, r.headers, r.content, f"image for {target} {body[:120]!r}")
            counts["images"] += 1
            if r.status_code >= 400:
                assert not state_diff(before, await db_state(b)), f"refused picture wrote {body[:120]!r}"
            else:
                assert target == ann.user_id and picture == pictures[0]

        run_fuzz(loop, go)

    await asyncio.to_thread(images)

    # POST /api/v4/files from a local user of beta: hostile multipart bodies and channels not the user's
    names = st.sampled_from(["f.txt", "", "../../x", "\x00.png", "a" * 300, "😀.gif", "x.png"])

    @fuzz_settings(15)
    @given(data=st.data())
    def files(data: st.DataObject) -> None:
        target = data.draw(st.sampled_from([private_on_b, shared, new_id(), "", "x" * 30]))
        boundary = data.draw(st.sampled_from(["bnd", "", "x" * 100]))
        name = data.draw(names)
        blob = data.draw(st.binary(max_size=100))
        form = data.draw(st.sampled_from(["good", "nofile", "truncated", "garbage"]))
        if form == "garbage":
            body = data.draw(st.binary(max_size=200))
        else:
            parts = f'--{boundary}\r\nContent-Disposition: form-data; name="channel_id"\r\n\r\n{target}\r\n'
            if form != "nofile":
                parts += (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                          "Content-Type: application/octet-stream\r\n\r\n")
            body = parts.encode("utf-8", "surrogatepass") + (blob if form != "nofile" else b"")
            if form != "truncated":
                body += f"\r\n--{boundary}--\r\n".encode()
        ctype = data.draw(st.sampled_from([f"multipart/form-data; boundary={boundary}", "multipart/form-data",
                                           "application/json", "text/plain"]))

        async def go() -> None:
            before = await db_state(b)
            r = await bob.http.post("/api/v4/files", content=body, headers={"Content-Type": ctype})
            check_http(r.status_code, r.headers, r.content, f"/files {ctype} {body[:200]!r}")
            counts["files"] += 1
            if r.status_code >= 400:
                assert not state_diff(before, await db_state(b)), f"refused /files wrote {body[:200]!r}"
            else:
                assert target == private_on_b  # the only channel bob may upload to

        run_fuzz(loop, go)

    await asyncio.to_thread(files)
    await raw.aclose()

    # the connection still works: a channel shared now syncs. (`shared` itself may legitimately have been
    # changed by accepted frames: alpha is its home, so its membership and hello frames are its own to send.)
    fresh = await channel(a)
    await share(a, fresh, (b, ab))
    after = await admin_post(a, fresh)
    await wait_converged([a, b], fresh, min_posts=1)
    assert after["id"] in await posts_of(b, fresh)
    report(f"msg fuzz: {counts['frames']} frames ({counts['refused']} refused, {counts['accepted']} accepted, "
           f"{len(replays) * SCALE} of them replays), {counts['uploads']} remote uploads, "
           f"{counts['files']} /files bodies, {counts['images']} pushed profile pictures; 0 x 5xx")
