"""Crash loops: three real ``isthmus serve`` processes, ``kill -9`` of a random one mid-sync, round after round.

alpha, beta and gamma are all connected; each homes one channel shared with the other two, so every server
sends and receives. A writer thread posts over REST (with some edits, reactions and a few files) on whichever
servers are up, while the main thread kills a random server with SIGKILL (no shutdown hooks, no flush; a
request the writer had in flight to it is cut) and restarts it on the same database, timing each restart from
process start to ``/api/v4/system/ping`` answering 200. After the last round every server is up (healed), the
channels settle, and then:

* 0 lost: every post the writer got a 201 for is on every server, once, with its acknowledged edit, its
  reactions and its file;
* 0 duplicated: no message appears twice on any server (a duplicate would carry another id), and a post
  whose request was cut by the kill (so the writer never learned its id) is on all three or on none;
* the convergence oracle (``GET /api/v4/sharedchannels/{id}/verify`` on each channel's home, and the
  ``isthmus verify`` CLI run as its own process) reports ``ok``;
* no server logged a traceback or an unhandled error in any of its runs.

CI runs ``ISTHMUS_CRASH_ROUNDS`` (default 3) rounds; the deep run in docs/reliability.md is 50, on SQLite and
on PostgreSQL (``ISTHMUS_TEST_POSTGRES_URL``: each server its own database). ``ISTHMUS_CRASH_REPORT=path``
appends the run's figures as one JSON line; ``ISTHMUS_CRASH_SEED`` replays a run's choice of victims (the seed is
printed); ``ISTHMUS_CRASH_SETTLE_S`` bounds the wait for convergence (default 120 s + 50 ms a post).
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from bench.common import ServerProcess

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import FAST_ENV, Admin, connect, wait_for
from tests.testlib.clients import unique

pytestmark = pytest.mark.loopback

ROUNDS = int(os.environ.get("ISTHMUS_CRASH_ROUNDS", "3"))
SEED = int(os.environ.get("ISTHMUS_CRASH_SEED", "0")) or random.randrange(1, 1 << 30)
ENV = {**FAST_ENV, "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
       "ISTHMUS_SYNC_BACKOFF_BASE_MS": "50", "ISTHMUS_SYNC_BACKOFF_MAX_MS": "500",
       "ISTHMUS_SYNC_SWEEP_INTERVAL_S": "0.5", "MM_CONNECTEDWORKSPACESSETTINGS_MAXPOSTSPERSYNC": "5"}
NAMES = ("alpha", "beta", "gamma")
# The writer's pace: steady enough that every kill lands with sync work in flight, light enough for 2 CPUs.
WRITE_PAUSE_S = 0.03


@dataclass
class Node:
    name: str
    srv: ServerProcess
    admin: Admin
    user_id: str = ""
    up: bool = True
    channel_id: str = ""  # the channel this server homes


@dataclass
class Written:
    channel_id: str
    message: str
    node: str
    file: bytes | None = None
    edit: str | None = None  # acknowledged edit
    edit_uncertain: bool = False  # an edit whose answer the kill cut: either text may have won
    reactions: set[str] = field(default_factory=set)
    maybe_reactions: set[str] = field(default_factory=set)  # adds whose answer the kill cut


class Writer(threading.Thread):
    """Posts, edits, reacts and uploads over REST on the servers that are up, recording what was accepted.

    A request cut by a kill (transport error) is *uncertain*: the server may or may not have committed it.
    Any HTTP answer other than success from a live server is a failure found."""

    def __init__(self, nodes: list[Node], channels: list[str], rng: random.Random) -> None:
        super().__init__(name="crash-writer", daemon=True)
        self.nodes, self.channels, self.rng = nodes, channels, rng
        self.accepted: dict[str, Written] = {}
        self.uncertain: set[tuple[str, str]] = set()  # (channel_id, message) of posts cut by a kill
        self.failures: list[str] = []
        self.ops = {"posts": 0, "edits": 0, "reactions": 0, "files": 0, "cut": 0}
        self.halt = threading.Event()
        self._clients: dict[str, httpx.Client] = {}
        self._n = 0

    def client(self, node: Node) -> httpx.Client:
        if node.name not in self._clients:
            self._clients[node.name] = node.srv.client(node.admin.token, timeout=15)
        return self._clients[node.name]

    def cut(self, node: Node) -> None:
        self.ops["cut"] += 1
        self._clients.pop(node.name).close()  # its pooled connection died with the server

    def run(self) -> None:
        while not self.halt.is_set():
            live = [n for n in self.nodes if n.up]
            if live:
                self.step(self.rng.choice(live))
            time.sleep(WRITE_PAUSE_S)
        for c in self._clients.values():
            c.close()

    def step(self, node: Node) -> None:
        self._n += 1
        n = self._n
        mine = [pid for pid, w in self.accepted.items() if w.node == node.name]
        try:
            if n % 10 == 0 and mine:
                self.edit(node, self.rng.choice(mine))
            elif n % 7 == 0 and mine:
                self.react(node, self.rng.choice(mine))
            else:
                self.post(node, n, with_file=n % 40 == 1)
        except httpx.TransportError:
            self.cut(node)

    def post(self, node: Node, n: int, *, with_file: bool) -> None:
        http = self.client(node)
        channel_id = self.channels[n % len(self.channels)]
        message = f"crash {n} on {node.name}"
        body: dict[str, Any] = {"channel_id": channel_id, "message": message}
        data = None
        if with_file:
            data = os.urandom(16 * 1024)
            r = http.post("/api/v4/files", data={"channel_id": channel_id},
                          files={"files": (f"crash-{n}.bin", data, "application/octet-stream")})
            if r.status_code != 201:
                self.failures.append(f"upload on {node.name}: {r.status_code} {r.text[:300]}")
                return
            body["file_ids"] = [r.json()["file_infos"][0]["id"]]
        self.uncertain.add((channel_id, message))
        r = http.post("/api/v4/posts", json=body)
        if r.status_code != 201:
            self.failures.append(f"post on {node.name}: {r.status_code} {r.text[:300]}")
            return
        self.uncertain.discard((channel_id, message))
        self.accepted[r.json()["id"]] = Written(channel_id, message, node.name, file=data)
        self.ops["posts"] += 1
        self.ops["files"] += data is not None

    def edit(self, node: Node, post_id: str) -> None:
        w = self.accepted[post_id]
        text = f"{w.message}, edited {self._n}"
        w.edit_uncertain = True
        r = self.client(node).put(f"/api/v4/posts/{post_id}/patch", json={"message": text})
        if r.status_code != 200:
            self.failures.append(f"edit on {node.name}: {r.status_code} {r.text[:300]}")
            return
        w.edit, w.edit_uncertain = text, False
        self.ops["edits"] += 1

    def react(self, node: Node, post_id: str) -> None:
        emoji = self.rng.choice(["tada", "rocket", "eyes", "heart"])
        self.accepted[post_id].maybe_reactions.add(emoji)
        r = self.client(node).post("/api/v4/reactions", json={"user_id": node.user_id, "post_id": post_id,
                                                              "emoji_name": emoji})
        if r.status_code != 200:
            self.failures.append(f"reaction on {node.name}: {r.status_code} {r.text[:300]}")
            return
        self.accepted[post_id].reactions.add(emoji)
        self.ops["reactions"] += 1


def _channel_posts(admin: Admin, channel_id: str) -> list[dict[str, Any]]:
    """Every synced post of the channel (system messages are each server's own), as a list: a duplicate
    stored under the same id would be listed once, so uniqueness is checked on the messages."""
    out: list[dict[str, Any]] = []
    page = 0
    while True:
        r = admin.http.get(f"/api/v4/channels/{channel_id}/posts", params={"page": page, "per_page": 200})
        assert r.status_code == 200, r.text
        batch = r.json()["posts"]
        out += [p for p in batch.values() if not p["type"].startswith("system_")]
        if len(batch) < 200:
            return out
        page += 1


def _verified(home: Admin, channel_id: str) -> bool:
    try:
        r = home.http.get(f"/api/v4/sharedchannels/{channel_id}/verify")
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and all(x["status"] == "ok" for x in r.json()["remotes"])


def _differences(nodes: list[Node], channel_id: str) -> list[str]:
    """What the servers disagree on in the channel's posts (id, text, reactions); empty once converged."""
    seen = [{p["id"]: (p["message"], sorted(x["emoji_name"] for x in p.get("metadata", {}).get("reactions") or []))
             for p in _channel_posts(n.admin, channel_id)} for n in nodes]
    out = []
    for node, mine in zip(nodes[1:], seen[1:], strict=True):
        for pid in sorted(set(mine) | set(seen[0])):
            if mine.get(pid) != seen[0].get(pid):
                out.append(f"{pid}: {nodes[0].name} {seen[0].get(pid)} vs {node.name} {mine.get(pid)}")
    return out


def _restart(node: Node) -> float:
    """Start the killed server on its own port and database; seconds from process start to ping OK."""
    started = time.monotonic()
    node.srv.start()
    while node.srv.ping() != 200:
        assert time.monotonic() - started < 60, node.srv.log()[-3000:]
        time.sleep(0.01)
    took = time.monotonic() - started
    node.admin.http = node.srv.client(node.admin.token)
    return took


def _whole_log(srv: ServerProcess) -> str:
    """Every run's output, not just the current one's (``ServerProcess.log`` starts at the last start)."""
    return srv.log_path.read_text(errors="replace")


def test_kill_9_loops_lose_and_duplicate_nothing(spawn: SpawnServer) -> None:
    rng = random.Random(SEED)
    print(f"crash loops: seed {SEED} (ISTHMUS_CRASH_SEED={SEED} replays the choice of victims and waits)")
    nodes = [Node(name, srv := spawn(name, env=ENV).start(), Admin(srv)) for name in NAMES]
    alpha, beta, gamma = nodes
    links = {("alpha", "beta"): connect(alpha.admin, beta.admin, "beta", "alpha"),
             ("alpha", "gamma"): connect(alpha.admin, gamma.admin, "gamma", "alpha"),
             ("beta", "gamma"): connect(beta.admin, gamma.admin, "gamma", "beta")}
    for node in nodes:
        node.user_id = node.admin.http.get("/api/v4/users/me").json()["id"]
        r = node.admin.http.post("/api/v4/channels", json={"team_id": node.admin.team_id, "name": unique("ch"),
                                                           "display_name": f"Crash {node.name}", "type": "O"})
        assert r.status_code == 201, r.text
        node.channel_id = r.json()["id"]
    for home in nodes:
        for peer in nodes:
            if peer is home:
                continue
            remote_id = links.get((home.name, peer.name)) or links[(peer.name, home.name)]
            r = home.admin.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{home.channel_id}/invite")
            assert r.status_code == 200, r.text
            wait_for(lambda p=peer, h=home: p.admin.http.get(f"/api/v4/channels/{h.channel_id}").status_code == 200,
                     within=30)
            r = peer.admin.http.post(f"/api/v4/channels/{home.channel_id}/members", json={"user_id": peer.user_id})
            assert r.status_code == 201, r.text
    channels = [n.channel_id for n in nodes]

    started = time.monotonic()
    writer = Writer(nodes, channels, rng)
    writer.start()
    restarts: list[float] = []
    victims: list[str] = []
    try:
        for _ in range(ROUNDS):
            time.sleep(rng.uniform(0.5, 2.0))  # writes and the sync they cause are flowing
            victim = rng.choice(nodes)
            victims.append(victim.name)
            victim.up = False
            victim.srv.stop(sig=signal.SIGKILL)
            time.sleep(rng.uniform(0.0, 1.0))  # the others keep writing for it meanwhile
            restarts.append(_restart(victim))
            victim.up = True
    finally:
        writer.halt.set()
        writer.join(30)
    wrote_s = time.monotonic() - started
    assert not writer.failures, writer.failures[:10]

    # heal (everyone is up) and settle
    settle_s = float(os.environ.get("ISTHMUS_CRASH_SETTLE_S", "0")) or 120 + len(writer.accepted) * 0.05
    for node in nodes:
        wait_for(lambda n=node: _verified(n.admin, n.channel_id), within=settle_s)
        try:
            wait_for(lambda n=node: not _differences(nodes, n.channel_id), within=settle_s)
        except AssertionError:
            raise AssertionError(f"{node.name}'s channel: {_differences(nodes, node.channel_id)[:20]}") from None

    lost = duplicated = 0
    for channel_id in channels:
        expected = {pid: w for pid, w in writer.accepted.items() if w.channel_id == channel_id}
        cut = {m for c, m in writer.uncertain if c == channel_id}
        for node in nodes:
            got = _channel_posts(node.admin, channel_id)
            by_id = {p["id"]: p for p in got}
            messages = [p["message"].split(", edited")[0] for p in got]
            duplicated += len(messages) - len(set(messages))
            lost += len(set(expected) - set(by_id))
            strays = [p for pid, p in by_id.items() if pid not in expected]
            assert all(p["message"] in cut for p in strays), [p["message"] for p in strays][:10]
            for pid, w in expected.items():
                post = by_id.get(pid)
                if post is None:
                    continue
                if w.edit is not None and not w.edit_uncertain:
                    assert post["message"] == w.edit, (node.name, pid, post["message"], w.edit)
                reactions = {x["emoji_name"] for x in post.get("metadata", {}).get("reactions") or []}
                assert w.reactions <= reactions <= w.reactions | w.maybe_reactions, (node.name, pid, reactions)
                if w.file is not None:
                    [file_id] = post["file_ids"]
                    assert node.admin.http.get(f"/api/v4/files/{file_id}").content == w.file, (node.name, pid)
    assert (lost, duplicated) == (0, 0)

    for node in nodes:  # the oracle once more, as its own process against each home's database
        done = node.srv.cli("verify", "--channel", node.channel_id, "--json")
        assert done.returncode == 0 and '"status": "ok"' in done.stdout, done.stdout + done.stderr
    for node in nodes:
        log = _whole_log(node.srv)
        assert "Traceback" not in log and "unhandled error" not in log, (node.name, log[-5000:])

    report = os.environ.get("ISTHMUS_CRASH_REPORT")  # figures for docs/reliability.md
    if report:
        with open(report, "a") as fh:
            fh.write(json.dumps({
                "database": "postgres" if os.environ.get("ISTHMUS_TEST_POSTGRES_URL") else "sqlite",
                "seed": SEED, "rounds": ROUNDS, "victims": {n: victims.count(n) for n in NAMES},
                **writer.ops, "restart_max_s": round(max(restarts), 2),
                "restart_median_s": round(statistics.median(restarts), 2), "lost": lost, "duplicated": duplicated,
                "writing_s": round(wrote_s, 1), "total_s": round(time.monotonic() - started, 1)}) + "\n")
