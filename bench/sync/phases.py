"""The measured phases of the connected-workspace benchmark (same phases as the Synapse peer's harness).

Every figure comes from real clients: posts are created with ``POST /api/v4/posts`` on A by ordinary
users, arrival on B (or C) is the ``posted`` websocket event seen by B's admin, and the catch-up
verdict (lost / duplicated) is a count by message text over ``GET /channels/{id}/posts`` on B.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from bench.sync.cluster import BenchError, Node, check, connect, new_session, share, wait_until
from bench.sync.listener import Listener


def summarize(values_s: list[float]) -> dict[str, Any]:
    """Milliseconds, with the same percentile method as the Synapse harness (inclusive quantiles)."""
    v = sorted(x * 1000.0 for x in values_s)
    if not v:
        return {"n": 0}
    if len(v) >= 2:
        qs = statistics.quantiles(v, n=100, method="inclusive")
        p50, p95, p99 = qs[49], qs[94], qs[98]
    else:
        p50 = p95 = p99 = v[0]
    return {"n": len(v), "min_ms": round(v[0], 2), "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
            "p99_ms": round(p99, 2), "max_ms": round(v[-1], 2), "mean_ms": round(statistics.fmean(v), 2)}


@dataclass
class Sender:
    user_id: str
    session: aiohttp.ClientSession


@dataclass
class Options:
    workdir: Path
    postgres_url: str | None = None
    latency_msgs: int = 200
    throughput_msgs: int = 10_000
    senders: int = 4
    catchup_msgs: int = 500
    backlog_msgs: int = 0          # the optional big catch-up (e.g. 100,000)
    relay_msgs: int = 100
    warmup: int = 20
    msg_timeout: float = 30.0
    phase_timeout: float = 600.0
    phases: tuple[str, ...] = ("latency", "throughput", "catchup", "relay")
    env: dict[str, str] = field(default_factory=dict)
    profile: tuple[str, ...] = ()  # phases to sample with py-spy (every running server)
    py_spy: str = "py-spy"
    cprofile: bool = False  # run every server under cProfile (slower; for call counts)


class SyncBench:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.run_id = secrets.token_hex(3)
        self.a, self.b, self.c = (Node(name, opts.workdir / name, postgres_url=opts.postgres_url, env=opts.env,
                                       cprofile=opts.cprofile) for name in ("A", "B", "C"))
        self.senders: list[Sender] = []
        self.rid_ab = ""
        self.main_ch = ""
        self.results: dict[str, Any] = {}
        self.listener: Listener | None = None

    def bid(self, phase: str, i: int) -> str:
        return f"bench message {self.run_id}-{phase}-{i}"

    def cpu(self) -> dict[str, float]:
        return {n.name: n.cpu_s() for n in (self.a, self.b, self.c) if n.server.returncode is None
                and n.server.proc is not None}

    @staticmethod
    def cpu_delta(c0: dict[str, float], c1: dict[str, float]) -> dict[str, float]:
        return {k: round(c1[k] - c0[k], 2) for k in c0 if k in c1}

    # -- setup --------------------------------------------------------------------------------

    async def setup(self) -> None:
        ta, tb = await asyncio.gather(asyncio.to_thread(self.a.start), asyncio.to_thread(self.b.start))
        self.results["startup_s"] = {"A": round(ta, 2), "B": round(tb, 2)}
        await asyncio.gather(self.a.bootstrap(), self.b.bootstrap())
        t0 = time.monotonic()
        self.rid_ab = await connect(self.a, self.b)
        self.results["connect_ms"] = round((time.monotonic() - t0) * 1000, 1)
        self.main_ch = await self.a.create_channel(f"bench-{self.run_id}")
        t0 = time.monotonic()
        await share(self.a, self.main_ch, self.b, self.rid_ab)
        self.results["share_ms"] = round((time.monotonic() - t0) * 1000, 1)
        for i in range(self.opts.senders):
            user_id, token = await self.a.add_user(f"alice{i}", self.main_ch)
            self.senders.append(Sender(user_id, new_session(self.a.url, token)))
        self.listener = Listener(self.b.url, self.b.token, {self.main_ch})
        await self.listener.start()
        # Warm-up (not counted): every sender's user reaches B once, connections and caches are warm.
        warm = [await self.post(self.senders[i % len(self.senders)], self.main_ch, self.bid("warm", i))
                for i in range(max(self.opts.warmup, len(self.senders)))]
        if not await self.listener.wait_all(warm, time.monotonic() + 60):
            raise BenchError("warm-up posts never reached B")

    async def post(self, sender: Sender, channel_id: str, text: str) -> str:
        async with sender.session.post("/api/v4/posts", json={"channel_id": channel_id, "message": text}) as r:
            if r.status != 201:
                raise BenchError(f"POST /posts answered {r.status}: {(await r.text())[:300]}")
            await r.read()
        return text

    async def burst(self, channel_id: str, texts: list[str]) -> float:
        """Post ``texts`` from all senders at once (each sender one request at a time); seconds taken."""
        k = len(self.senders)
        t0 = time.monotonic()

        async def worker(j: int) -> None:
            for text in texts[j::k]:
                await self.post(self.senders[j], channel_id, text)

        await asyncio.gather(*(worker(j) for j in range(k)))
        return time.monotonic() - t0

    # -- (a) propagation latency --------------------------------------------------------------

    async def phase_latency(self) -> None:
        assert self.listener is not None
        fed, ack, lost = [], [], 0
        c0 = self.cpu()
        t_phase = time.monotonic()
        for i in range(self.opts.latency_msgs):
            text = self.bid("lat", i)
            t0 = time.monotonic()
            await self.post(self.senders[0], self.main_ch, text)
            t_ack = time.monotonic()
            t_b = await self.listener.wait_for(text, self.opts.msg_timeout)
            if t_b is None:
                lost += 1
                continue
            fed.append(t_b - t0)
            ack.append(t_ack - t0)
        self.results["latency"] = {
            "messages": self.opts.latency_msgs, "lost": lost, "A_to_B_visible": summarize(fed),
            "A_post_ack": summarize(ack), "wall_s": round(time.monotonic() - t_phase, 2),
            "cpu_s": self.cpu_delta(c0, self.cpu())}

    # -- (b) throughput -----------------------------------------------------------------------

    async def phase_throughput(self) -> None:
        assert self.listener is not None
        n = self.opts.throughput_msgs
        texts = [self.bid("tp", i) for i in range(n)]
        before = await channel_count(self.b, self.main_ch)
        c0 = self.cpu()
        t0 = time.monotonic()
        self.listener.expect(self.bid("tp", 0)[:-1])
        accept_s = await self.burst(self.main_ch, texts)
        done = await self.listener.wait_count(n, t0 + self.opts.phase_timeout)
        c1 = self.cpu()
        seen = [self.listener.seen[t] for t in texts if t in self.listener.seen]
        t_all = max(seen) - t0 if done else None
        after = await channel_count(self.b, self.main_ch)
        self.results["throughput"] = {
            "messages": n, "senders": len(self.senders),
            "A_accept_s": round(accept_s, 3), "A_accept_posts_per_s": round(n / accept_s, 1),
            "B_all_visible_s": round(t_all, 3) if t_all else None,
            "B_posts_per_s": round(n / t_all, 1) if t_all else None,
            "B_visible": len(seen), "B_duplicate_events": sum(self.listener.counts[t] - 1 for t in texts
                                                             if self.listener.counts[t] > 1),
            "B_channel_count_delta": after - before,
            "B_lag_after_last_accept_s": round(t_all - accept_s, 3) if t_all else None,
            "B_visible_since_burst_start": summarize([t - t0 for t in seen]),
            "cpu_s": self.cpu_delta(c0, c1),
            "cpu_ms_per_post": {k: round(v * 1000 / n, 2) for k, v in self.cpu_delta(c0, c1).items()},
        }

    # -- (c) catch-up -------------------------------------------------------------------------

    async def phase_catchup(self, m: int, key: str) -> None:
        """B down (SIGTERM), ``m`` posts on A, B up again: time until B shows all of them; lost/dups."""
        ch = await self.a.create_channel(f"catchup-{key}-{self.run_id}")
        await share(self.a, ch, self.b, self.rid_ab)
        for s in self.senders:
            await check(await self.a.http().post(f"/api/v4/channels/{ch}/members", json={"user_id": s.user_id}),
                        201)
        probe = Listener(self.b.url, self.b.token, {ch})
        await probe.start()
        warm = [await self.post(s, ch, self.bid(f"{key}warm", i)) for i, s in enumerate(self.senders)]
        if not await probe.wait_all(warm, time.monotonic() + 60):
            raise BenchError("catch-up warm-up posts never reached B")
        await probe.stop()
        baseline = await channel_count(self.b, ch)
        if self.listener is not None:
            await self.listener.stop()
            self.listener = None
        await asyncio.to_thread(self.b.stop)
        t_down = time.monotonic()
        texts = [self.bid(key, i) for i in range(m)]
        send_s = await self.burst(ch, texts)
        t_start = time.monotonic()
        c0a = self.a.cpu_s()
        up_s = await asyncio.to_thread(self.b.start)
        t_up = self.b.healthy_at
        spies = await self.start_spies(key) if key in self.opts.profile else []  # (costs ~1 s of attach time)
        listener = Listener(self.b.url, self.b.token, {ch, self.main_ch})
        listener.expect(self.bid(key, 0)[:-1])  # "bench message <run>-<key>-"
        await listener.start()
        target = baseline + m
        deadline = t_up + self.opts.phase_timeout
        t_all: float | None = None
        # The websocket gives exact arrival times; the channel counter (polled gently: a GET costs B real CPU,
        # and B is the server being measured) covers posts that landed before the listener connected.
        next_poll = 0.0
        while time.monotonic() < deadline:
            if listener.prefix_seen >= m:
                t_all = max(listener.seen[t] for t in texts)
                break
            if time.monotonic() >= next_poll:
                if await channel_count(self.b, ch) >= target:
                    t_all = time.monotonic()
                    break
                next_poll = time.monotonic() + 0.25
            await asyncio.sleep(0.02)
        if spies:
            await self.stop_spies(key, spies)
        cpu_b = self.b.cpu_s()
        cpu_a = self.a.cpu_s() - c0a
        found = await messages_in(self.b, ch)
        # Visible = listed over REST or announced on B's websocket (a post arriving during the listing may
        # slip between two pages; only happens when the phase timed out with posts still flowing).
        distinct = {t for t in texts if found.get(t, 0) > 0 or t in listener.seen}
        lost = m - len(distinct)
        dups = sum(found.get(t, 1) - 1 for t in distinct)
        if lost and t_all is not None:
            t_all = None  # the counter reached the target but some posts are not there: not "all visible"
        ws_seen = [listener.seen[t] for t in texts if t in listener.seen]
        self.listener = listener
        self.results[key] = {
            "messages": m, "A_send_while_B_down_s": round(send_s, 3),
            "B_down_s": round(t_start - t_down, 2), "B_restart_to_healthy_s": round(up_s, 2),
            "from_B_healthy": {"all_visible_s": round(t_all - t_up, 3) if t_all else None,
                               "first_visible_ws_s": round(min(ws_seen) - t_up, 3) if ws_seen else None,
                               "last_visible_ws_s": round(max(ws_seen) - t_up, 3) if ws_seen else None},
            "B_visible": len(distinct), "lost": lost, "duplicated": dups,
            "timed_out": t_all is None, "phase_timeout_s": self.opts.phase_timeout,
            "posts_per_s_after_healthy": round(m / (t_all - t_up), 1) if t_all else None,
            "ws_events_after_restart": len(ws_seen),
            "cpu_s_during_catchup": {"A": round(cpu_a, 2), "B": round(cpu_b, 2)},
        }

    # -- (d) relay: A -> home -> C ------------------------------------------------------------

    async def phase_relay(self) -> None:
        """A channel homed on B, shared with A and with C; posts on A reach C only through B."""
        await asyncio.to_thread(self.c.start)
        await self.c.bootstrap()
        rid_bc = await connect(self.b, self.c)
        ch = await self.b.create_channel(f"relay-{self.run_id}")
        await share(self.b, ch, self.a, self.rid_ab)
        await share(self.b, ch, self.c, rid_bc)
        listener = Listener(self.c.url, self.c.token, {ch})
        await listener.start()
        poster = new_session(self.a.url, self.a.token)  # A's admin: the member of A's copy of the channel
        sender = Sender(self.a.user_id, poster)
        try:
            warm = [await self.post(sender, ch, self.bid("relaywarm", i)) for i in range(5)]
            if not await listener.wait_all(warm, time.monotonic() + 60):
                raise BenchError("relay warm-up posts never reached C")
            lat, lost = [], 0
            c0 = self.cpu()
            for i in range(self.opts.relay_msgs):
                text = self.bid("relay", i)
                t0 = time.monotonic()
                await self.post(sender, ch, text)
                t_c = await listener.wait_for(text, self.opts.msg_timeout)
                if t_c is None:
                    lost += 1
                    continue
                lat.append(t_c - t0)
            self.results["relay"] = {"messages": self.opts.relay_msgs, "lost": lost,
                                     "A_to_C_via_home_B_visible": summarize(lat),
                                     "cpu_s": self.cpu_delta(c0, self.cpu())}
        finally:
            await poster.close()
            await listener.stop()

    # -- the whole run ------------------------------------------------------------------------

    async def start_spies(self, tag: str) -> list[tuple[Path, subprocess.Popen[bytes]]]:
        """py-spy on every running server (raw collapsed stacks, ``profile-<tag>-<server>.txt``)."""
        spies = []
        for node in (self.a, self.b, self.c):
            if node.server.proc is not None and node.server.returncode is None:
                out = self.opts.workdir / f"profile-{tag}-{node.name}.txt"
                cmd = [self.opts.py_spy, "record", "--pid", str(node.server.proc.pid), "--format", "raw",
                       "--rate", "250", "--output", str(out)]
                spies.append((out, subprocess.Popen(cmd, stdout=subprocess.DEVNULL,  # noqa: ASYNC220 (no wait)
                                                    stderr=subprocess.DEVNULL)))
        await asyncio.sleep(1)  # py-spy attaches
        return spies

    async def stop_spies(self, tag: str, spies: list[tuple[Path, subprocess.Popen[bytes]]]) -> None:
        for _out, spy in spies:
            spy.send_signal(signal.SIGINT)
            await asyncio.to_thread(spy.wait, 60)
        self.results.setdefault("profiles", {})[tag] = [str(o) for o, _ in spies]

    async def profiled(self, phase: str, work: Any) -> None:
        """Run ``work`` (a coroutine); under py-spy on every running server if ``phase`` is in --profile.
        (The catch-up phases profile only their drain, after B restarted: see :meth:`phase_catchup`.)"""
        if phase not in self.opts.profile or phase in ("catchup", "backlog"):
            await work
            return
        spies = await self.start_spies(phase)
        try:
            await work
        finally:
            await self.stop_spies(phase, spies)

    async def run(self) -> dict[str, Any]:
        t_start = time.monotonic()
        try:
            await self.setup()
            if "latency" in self.opts.phases:
                await self.profiled("latency", self.phase_latency())
            if "throughput" in self.opts.phases:
                await self.profiled("throughput", self.phase_throughput())
            if "catchup" in self.opts.phases:
                await self.profiled("catchup", self.phase_catchup(self.opts.catchup_msgs, "catchup"))
            if self.opts.backlog_msgs:
                await self.profiled("backlog", self.phase_catchup(self.opts.backlog_msgs, "backlog"))
            if "relay" in self.opts.phases:
                await self.profiled("relay", self.phase_relay())
        finally:
            if self.listener is not None:
                await self.listener.stop()
            for s in self.senders:
                await s.session.close()
            for node in (self.a, self.b, self.c):
                await node.close()
                if node.server.proc is not None and node.server.returncode is None:
                    node.stop()
        self.results["resources"] = {label: {"vmhwm_MiB": round(u["vmhwm_mib"], 1), "cpu_s": round(u["cpu_s"], 2)}
                                     for n in (self.a, self.b, self.c) for label, u in n.usage.items()}
        self.results["total_wall_s"] = round(time.monotonic() - t_start, 1)
        return self.results


async def channel_count(node: Node, channel_id: str) -> int:
    ch = await check(await node.http().get(f"/api/v4/channels/{channel_id}"), 200)
    return int(ch["total_msg_count"])


async def messages_in(node: Node, channel_id: str) -> dict[str, int]:
    """Every post of the channel on ``node`` over REST: message text -> number of distinct posts carrying it.

    Distinct post ids, because page/per_page paging over a channel that still grows shows a post on two pages
    (that is a paging artifact, not a duplicate; a duplicate is a second post id with the same text)."""
    ids: dict[str, set[str]] = {}
    page = 0
    while True:
        r = await check(await node.http().get(f"/api/v4/channels/{channel_id}/posts",
                                              params={"page": str(page), "per_page": "200"}), 200)
        for post_id in r["order"]:
            ids.setdefault(r["posts"][post_id]["message"], set()).add(post_id)
        if len(r["order"]) < 200:
            return {text: len(found) for text, found in ids.items()}
        page += 1


__all__ = ["Options", "SyncBench", "summarize", "wait_until"]
