"""Items a peer refuses (issue 13, defect 1 and the refusal policy): a file bigger than the peer accepts (or
attachments off there) never blocks the posts after it; the post arrives without the file and says why; the
refusal is recorded per connection and shown in REST and /metrics; limits are exchanged at connect and a
person posting a file that will not reach a workspace is told so."""

from __future__ import annotations

from typing import Any

from isthmus.domain.sharing.refusals import MARKER_KEY
from isthmus.store.schema.refusals import remote_limits
from tests.cluster.test_shared_extras import upload
from tests.testlib.cluster import Cluster, Node
from tests.testlib.sharing import channel, eventually, person, share, share_node

LIMIT = 2000  # bytes beta accepts


async def _set_files(node: Node, **settings: Any) -> None:
    r = await node.http.put("/api/v4/config/patch", json={"FileSettings": settings})
    assert r.status_code == 200, r.text


async def _post_on(node: Node, post_id: str) -> dict[str, Any] | None:
    r = await node.http.get(f"/api/v4/posts/{post_id}")
    return r.json() if r.status_code == 200 else None


async def _limits_known(home: Node, channel_id: str, remote_id: str, max_size: int) -> bool:
    r = await home.http.get(f"/api/v4/sharedchannels/{channel_id}/limits")
    assert r.status_code == 200, r.text
    return any(x["remote_id"] == remote_id and x["limits"] and x["limits"]["max_file_size"] == max_size
               for x in r.json())


async def _setup(cluster: Cluster) -> tuple[Node, Node, str, str, str]:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    await _set_files(b, MaxFileSize=LIMIT)
    ab = await cluster.connect(a, b)
    ch, other = await channel(a), await channel(a)
    await share(a, ch, (b, ab))
    await share(a, other, (b, ab))
    return a, b, ab, ch, other


async def test_a_file_beta_refuses_never_blocks_the_posts_after_it(cluster: Cluster) -> None:
    a, b, ab, ch, other = await _setup(cluster)
    await eventually(lambda: _limits_known(a, ch, ab, LIMIT))
    ann = await person(a, channel_id=ch)
    r = await a.http.post(f"/api/v4/channels/{other}/members", json={"user_id": ann.user_id})
    assert r.status_code == 201, r.text
    big = await upload(ann, ch, "report.pdf", b"x" * (LIMIT * 3), "application/pdf")
    small = await upload(ann, ch, "notes.txt", b"short notes", "text/plain")
    with_files = await ann.post(ch, "the report", file_ids=[big["id"], small["id"]])
    after = await ann.post(ch, "text after the report")
    elsewhere = await ann.post(other, "another channel to beta")

    for post in (after, elsewhere, with_files):
        await eventually(lambda p=post: _post_on(b, p["id"]))  # type: ignore[misc]
    got = await _post_on(b, with_files["id"])
    assert got is not None
    [marker] = got["props"][MARKER_KEY]
    assert (marker["id"], marker["name"], marker["size"], marker["reason"]) == (big["id"], "report.pdf", LIMIT * 3,
                                                                                  "too_large")
    assert "report.pdf" in marker["message"] and "was not transferred" in marker["message"]
    assert [f["name"] for f in got["metadata"].get("files", [])] == ["notes.txt"]  # the small one arrived
    assert (await b.http.get(f"/api/v4/files/{small['id']}")).content == b"short notes"
    assert (await b.http.get(f"/api/v4/files/{big['id']}/info")).status_code == 404
    # alpha knew beta's limit: it never pushed the big file's bytes (only the small one's)
    uploads = [r for r in cluster.net.log if r.url.host == b.host and "/remotecluster/upload/" in r.url.path]
    assert len(uploads) == 1

    # The refusal is recorded on alpha, per connection, and shown in REST and /metrics.
    rc = (await a.http.get(f"/api/v4/remotecluster/{ab}")).json()
    assert rc["name"] == "beta" and rc["token"] == ""  # Mattermost's fields unchanged
    nd = rc["isthmus_not_delivered"]
    assert nd["count"] == 1 and nd["by_kind"] == {"file": 1}
    [recent] = nd["recent"]
    assert (recent["kind"], recent["item_id"], recent["channel_id"], recent["reason"]) == ("file", big["id"], ch,
                                                                                          "too_large")
    assert recent["message"] == "report.pdf (5.9 KB) was not delivered to Beta: it accepts files up to 2 KB"
    assert rc["isthmus_limits"]["max_file_size"] == LIMIT
    listed = {x["remote_id"]: x for x in (await a.http.get("/api/v4/remotecluster")).json()}
    assert listed[ab]["isthmus_not_delivered"] == {"count": 1} and listed[ab]["display_name"] == "Beta"
    metrics = (await a.http.get("/metrics")).text
    assert f'isthmus_sync_items_not_delivered_total{{kind="file",remote_id="{ab}"}} 1.0' in metrics

    # Edits travel on; beta keeps its own note (the sender never has it).
    await ann.edit(with_files["id"], "the report, v2")
    await eventually(lambda: _edited(b, with_files["id"], "the report, v2"))
    got = await _post_on(b, with_files["id"])
    assert got is not None and got["props"][MARKER_KEY] == [marker]

    # The convergence check counts the refusal as the agreed outcome, not as a difference.
    report = (await a.http.get(f"/api/v4/sharedchannels/{ch}/verify")).json()
    [beta] = report["remotes"]
    assert (beta["status"], beta["differences"], beta["files_not_transferred"]) == ("ok", [], 1)


async def _edited(node: Node, post_id: str, message: str) -> bool:
    post = await _post_on(node, post_id)
    return post is not None and post["message"] == message


async def test_an_upload_beta_refuses_without_known_limits_is_recorded_and_skipped(cluster: Cluster) -> None:
    """A peer that announced no limits (a Mattermost server, or ours before the exchange) refuses the upload
    session: before, the batch failed on every pass and nothing after the file ever reached beta."""
    a, b, ab, ch, _other = await _setup(cluster)
    await eventually(lambda: _limits_known(a, ch, ab, LIMIT))
    async with a.server.domain.db.write() as conn:  # alpha forgets what beta announced
        await conn.execute(remote_limits.delete())
    ann = await person(a, channel_id=ch)
    big = await upload(ann, ch, "huge.bin", b"y" * (LIMIT + 1), "application/octet-stream")
    first = await ann.post(ch, "the file", file_ids=[big["id"]])
    after = await ann.post(ch, "and text after it")
    await eventually(lambda: _post_on(b, after["id"]))
    got = await _post_on(b, first["id"])
    assert got is not None and got["props"][MARKER_KEY][0]["reason"] == "too_large"
    nd = (await a.http.get(f"/api/v4/remotecluster/{ab}")).json()["isthmus_not_delivered"]
    assert nd["count"] == 1
    assert nd["recent"][0]["reason"] == "too_large" and "larger than this workspace accepts" in \
        nd["recent"][0]["message"]


async def test_attachments_off_on_beta(cluster: Cluster) -> None:
    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    await _set_files(b, EnableFileAttachments=False)
    ab = await cluster.connect(a, b)
    ch = await channel(a)
    await share(a, ch, (b, ab))
    ann = await person(a, channel_id=ch)

    async def attachments_off_known() -> bool:
        r = await a.http.get(f"/api/v4/sharedchannels/{ch}/limits")
        return any(x["limits"] and x["limits"]["enable_file_attachments"] is False for x in r.json())

    await eventually(attachments_off_known)
    doc = await upload(ann, ch, "agenda.txt", b"the agenda", "text/plain")
    post = await ann.post(ch, "agenda attached", file_ids=[doc["id"]])
    [warning] = post["isthmus_file_warnings"]
    assert warning["message"] == "agenda.txt (10 bytes) will not reach Beta: it does not accept file attachments"
    after = await ann.post(ch, "see above")
    await eventually(lambda: _post_on(b, after["id"]))
    got = await _post_on(b, post["id"])
    assert got is not None
    [marker] = got["props"][MARKER_KEY]
    assert marker["reason"] == "attachments_off"
    assert marker["message"] == ("A file (agenda.txt, 10 bytes) was not transferred: this workspace does not "
                                 "accept file attachments")
    nd = (await a.http.get(f"/api/v4/remotecluster/{ab}")).json()["isthmus_not_delivered"]
    assert nd["by_kind"] == {"file": 1} and nd["recent"][0]["reason"] == "attachments_off"


async def test_limits_are_exchanged_and_the_poster_is_warned(cluster: Cluster) -> None:
    a, b, ab, ch, _other = await _setup(cluster)
    ba = (await b.remotes())[0]["remote_id"]
    await eventually(lambda: _limits_known(a, ch, ab, LIMIT))
    await eventually(lambda: _limits_known(b, ch, ba, 100 * 1024 * 1024))  # beta learnt alpha's in the answer
    ann = await person(a, channel_id=ch)
    big = await upload(ann, ch, "report.pdf", b"z" * (3 * LIMIT), "application/pdf")
    small = await upload(ann, ch, "ok.txt", b"fits", "text/plain")
    r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": "two files",
                                                   "file_ids": [big["id"], small["id"]]})
    assert r.status_code == 201, r.text  # the post still goes
    [warning] = r.json()["isthmus_file_warnings"]
    assert (warning["file_id"], warning["workspace"], warning["reason"]) == (big["id"], "Beta", "too_large")
    assert warning["message"] == "report.pdf (5.9 KB) will not reach Beta: it accepts files up to 2 KB"
    plain = await ann.post(ch, "no files, no warning")
    assert "isthmus_file_warnings" not in plain

    # Beta raises its limit: alpha learns it without a restart, and the same file would now go.
    await _set_files(b, MaxFileSize=10 * LIMIT)
    await eventually(lambda: _limits_known(a, ch, ab, 10 * LIMIT))
    r = await ann.http.post("/api/v4/posts", json={"channel_id": ch, "message": "again",
                                                   "file_ids": [(await upload(ann, ch, "r2.pdf", b"z" * (3 * LIMIT),
                                                                              "application/pdf"))["id"]]})
    assert r.status_code == 201 and "isthmus_file_warnings" not in r.json()


async def test_limits_read_needs_channel_access(cluster: Cluster) -> None:
    a, _b, _ab, ch, _other = await _setup(cluster)
    outsider = await person(a)
    r = await outsider.http.get("/api/v4/sharedchannels/nonsense/limits")
    assert r.status_code == 400 and r.json()["id"] and "request_id" in r.json()
    private = await channel(a, type_="P")
    r = await outsider.http.get(f"/api/v4/sharedchannels/{private}/limits")
    assert r.status_code == 403 and r.json()["status_code"] == 403
    member = await person(a, channel_id=ch)
    r = await member.http.get(f"/api/v4/sharedchannels/{ch}/limits")
    assert r.status_code == 200 and [x["display_name"] for x in r.json()] == ["Beta"]


async def test_items_the_home_lists_in_post_errors_are_recorded_with_its_reason(cluster: Cluster) -> None:
    """A read-only share: a (misbehaving) beta posts anyway and alpha refuses the post. Beta's cursor moves on
    (the next post is not held back) and beta records what alpha refused and why."""
    from isthmus.store.repo import shared as shared_repo

    a, b = await share_node(cluster, "alpha"), await share_node(cluster, "beta")
    ab = await cluster.connect(a, b)
    ba = (await b.remotes())[0]["remote_id"]
    ch = await channel(a)
    await share(a, ch, (b, ab), readonly=True)
    async with b.server.db.write() as conn:
        await shared_repo.update_shared_channel(conn, ch, {"readonly": False})
    bob = await person(b, channel_id=ch)
    sneaky = await bob.post(ch, "beta posts anyway")

    async def recorded() -> bool:
        r = await b.http.get(f"/api/v4/remotecluster/{ba}")
        return bool(r.json()["isthmus_not_delivered"]["count"])

    await eventually(recorded)
    nd = (await b.http.get(f"/api/v4/remotecluster/{ba}")).json()["isthmus_not_delivered"]
    assert nd["by_kind"] == {"post": 1}
    [item] = nd["recent"]
    assert (item["kind"], item["item_id"], item["channel_id"]) == ("post", sneaky["id"], ch)
    assert item["message"] == "Alpha did not accept a message: read-only channel: remotes may not post"
    metrics = (await b.http.get("/metrics")).text
    assert f'isthmus_sync_items_not_delivered_total{{kind="post",remote_id="{ba}"}} 1.0' in metrics
    assert await _cursor_at_end(b, ch, ba)


async def _cursor_at_end(node: Node, channel_id: str, remote_id: str) -> bool:
    from isthmus.federation.sync.send import pending_channels

    async with node.server.db.read() as conn:
        return not [r for r in await pending_channels(conn, remote_id) if r["channel_id"] == channel_id]


async def test_a_home_that_refuses_a_file_relays_the_post_without_it(cluster: Cluster) -> None:
    """The channel is homed on beta (small limit) and shared with alpha and gamma: alpha's big file stops at
    beta, the post still reaches gamma through beta, and gamma's copy says a workspace on the way refused it."""
    a, b, c = (await share_node(cluster, "alpha"), await share_node(cluster, "beta"),
               await share_node(cluster, "gamma"))
    await _set_files(b, MaxFileSize=LIMIT)
    ba, bc = await cluster.connect(b, a), await cluster.connect(b, c)
    ch = await channel(b)
    await share(b, ch, (a, ba), (c, bc))
    ann = await person(a, channel_id=ch)
    big = await upload(ann, ch, "slides.pdf", b"s" * (LIMIT * 2), "application/pdf")
    post = await ann.post(ch, "the slides", file_ids=[big["id"]])
    after = await ann.post(ch, "and a note")
    await eventually(lambda: _post_on(c, after["id"]))
    on_beta, on_gamma = await _post_on(b, post["id"]), await _post_on(c, post["id"])
    assert on_beta is not None and on_gamma is not None
    assert on_beta["props"][MARKER_KEY][0]["reason"] == "too_large"
    [note] = on_gamma["props"][MARKER_KEY]  # gamma's own note, not beta's (never relayed)
    assert note["reason"] == "not_received" and note["id"] == big["id"]
    assert note["message"] == "A file was not transferred: a workspace on the way did not accept it"
    ab = (await a.remotes())[0]["remote_id"]
    nd = (await a.http.get(f"/api/v4/remotecluster/{ab}")).json()["isthmus_not_delivered"]
    assert nd["by_kind"] == {"file": 1}
