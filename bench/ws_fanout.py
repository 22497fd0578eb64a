"""Benchmark: websocket fan-out, from ``POST /api/v4/posts`` to the ``posted`` event at N clients.

    .venv/bin/python bench/ws_fanout.py [--clients 100] [-n 200] [--interval-ms 20] [--postgres URL]

Starts one real ``isthmus serve`` process (free loopback port, temp data dir, SQLite unless
``--postgres``), creates N users who all belong to one channel, and connects one websocket per
user from a few worker *processes* (so reading 100 sockets does not compete with the poster for
one Python event loop). The main process then creates posts one at a time, ``--interval-ms``
apart, and every worker notes when each ``posted`` event arrives (CLOCK_MONOTONIC, comparable
across processes). Reports, in milliseconds:

* delivery: POST sent → event received, over every (post, client) pair;
* all-clients: POST sent → the *last* of the N clients received it, per post;
* post_response: POST sent → HTTP 201 received.

Prints a table and writes bench/results/ws_fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench.common` importable
    sys.path.insert(0, str(ROOT))

from bench.common import ServerProcess  # noqa: E402

PASSWORD = "Passw0rd!long"


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_ms:
        return float("nan")
    k = max(0, min(len(sorted_ms) - 1, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


def summarize(values_ms: list[float]) -> dict[str, float]:
    s = sorted(values_ms)
    return {"count": len(s), "p50_ms": percentile(s, 50), "p90_ms": percentile(s, 90),
            "p99_ms": percentile(s, 99), "mean_ms": statistics.fmean(s) if s else float("nan"),
            "max_ms": s[-1] if s else float("nan")}


# ---- setup -----------------------------------------------------------------------------------

def setup(base: str, clients: int) -> tuple[str, str, list[str]]:
    """Admin + ``clients`` users in one team and channel; returns (admin token, channel id, user tokens)."""
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/api/v4/users", json={"username": "benchadmin", "email": "benchadmin@example.com",
                                          "password": PASSWORD})
        r.raise_for_status()
        admin_token = _login(c, "benchadmin")
        auth = {"Authorization": f"Bearer {admin_token}"}
        team = c.post("/api/v4/teams", json={"name": "fanout", "display_name": "Fanout", "type": "O"},
                      headers=auth).json()
        channel = c.post("/api/v4/channels", json={"team_id": team["id"], "name": "fanout",
                                                   "display_name": "Fanout", "type": "O"}, headers=auth).json()
        ids, tokens = [], []
        for i in range(clients):
            r = c.post("/api/v4/users", json={"username": f"fan{i:04d}", "email": f"fan{i:04d}@example.com",
                                              "password": PASSWORD}, headers=auth)
            r.raise_for_status()
            ids.append(r.json()["id"])
            tokens.append(_login(c, f"fan{i:04d}"))
        for start in range(0, len(ids), 200):
            batch = [{"team_id": team["id"], "user_id": uid} for uid in ids[start:start + 200]]
            c.post(f"/api/v4/teams/{team['id']}/members/batch", json=batch, headers=auth).raise_for_status()
        c.post(f"/api/v4/channels/{channel['id']}/members", json={"user_ids": ids}, headers=auth).raise_for_status()
        return admin_token, str(channel["id"]), tokens


def _login(c: httpx.Client, username: str) -> str:
    r = c.post("/api/v4/users/login", json={"login_id": username, "password": PASSWORD})
    r.raise_for_status()
    c.cookies.clear()  # a session cookie would win over the header and demand a CSRF header
    return r.headers["Token"]


# ---- websocket workers (separate processes) --------------------------------------------------

def worker(ws_url: str, tokens: list[str], expected: int, ready: Any, results: Any) -> None:
    asyncio.run(_worker(ws_url, tokens, expected, ready, results))


async def _worker(ws_url: str, tokens: list[str], expected: int, ready: Any, results: Any) -> None:
    from websockets.asyncio.client import connect

    arrivals: list[tuple[str, float]] = []
    sockets = []
    for token in tokens:
        ws = await connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=1 << 24)
        hello = json.loads(await ws.recv())
        assert hello["event"] == "hello" and hello["seq"] == 0, hello
        sockets.append(ws)

    async def read(ws: Any) -> None:
        got = 0
        seq = 1
        while got < expected:
            raw = await ws.recv()
            now = time.monotonic()
            frame = json.loads(raw)
            if "seq" in frame:
                assert frame["seq"] == seq, (frame["seq"], seq)  # the contract holds under load too
                seq += 1
            if frame.get("event") == "posted":
                arrivals.append((json.loads(frame["data"]["post"])["id"], now))
                got += 1

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    ready.put(len(sockets))
    try:
        await asyncio.wait_for(asyncio.gather(*readers), timeout=max(120.0, expected * 0.5))
    finally:
        for ws in sockets:
            await ws.close()
        results.put(arrivals)


# ---- the measured run ------------------------------------------------------------------------

async def post_all(base: str, token: str, channel_id: str, n: int, interval_s: float) -> dict[str, tuple[float, float]]:
    """Create ``n`` posts ``interval_s`` apart; post id → (sent, answered) monotonic times."""
    sent: dict[str, tuple[float, float]] = {}
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        next_at = time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            t0 = time.monotonic()
            r = await c.post("/api/v4/posts", json={"channel_id": channel_id, "message": f"fan-out {i}"})
            t1 = time.monotonic()
            r.raise_for_status()
            sent[r.json()["id"]] = (t0, t1)
            next_at = t0 + interval_s
    return sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("-n", "--posts", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--postgres", default=os.environ.get("ISTHMUS_BENCH_POSTGRES_URL", ""))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ws_fanout.json"))
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="isthmus-wsbench-") as tmp:
        env = {"MM_TEAMSETTINGS_MAXUSERSPERTEAM": str(args.clients + 10)}
        with ServerProcess(Path(tmp), env=env, postgres_url=args.postgres or None) as server:
            token, channel_id, tokens = setup(server.url, args.clients)
            ws_url = server.url.replace("http://", "ws://") + "/api/v4/websocket"
            ctx = mp.get_context("spawn")
            ready, results = ctx.Queue(), ctx.Queue()
            chunks = [tokens[i::args.workers] for i in range(args.workers)]
            procs = [ctx.Process(target=worker, args=(ws_url, chunk, args.posts, ready, results))
                     for chunk in chunks if chunk]
            for p in procs:
                p.start()
            connected = sum(ready.get(timeout=120) for _ in procs)
            assert connected == args.clients, connected
            began = time.monotonic()
            sent = asyncio.run(post_all(server.url, token, channel_id, args.posts, args.interval_ms / 1000))
            arrivals = [a for _ in procs for a in results.get(timeout=300)]
            wall = time.monotonic() - began
            for p in procs:
                p.join(30)

    delivery: list[float] = []
    last: dict[str, float] = {}
    for post_id, t in arrivals:
        t0 = sent[post_id][0]
        delivery.append((t - t0) * 1000)
        last[post_id] = max(last.get(post_id, 0.0), t)
    complete = [pid for pid in sent if pid in last]
    report: dict[str, Any] = {
        "benchmark": "ws_fanout",
        "clients": args.clients, "posts": args.posts, "interval_ms": args.interval_ms, "workers": len(procs),
        "database": "postgres" if args.postgres else "sqlite",
        "deliveries": len(arrivals), "expected_deliveries": args.clients * args.posts,
        "delivery": summarize(delivery),
        "all_clients": summarize([(last[pid] - sent[pid][0]) * 1000 for pid in complete]),
        "post_response": summarize([(t1 - t0) * 1000 for t0, t1 in sent.values()]),
        "wall_s": wall,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_1min_before": load_before,
                    "load_1min_after": os.getloadavg()[0]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"websocket fan-out: {args.clients} clients, {args.posts} posts every {args.interval_ms:g} ms "
          f"({report['database']}), {len(arrivals)}/{args.clients * args.posts} deliveries")
    print(f"{'':16}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  (ms)")
    for name in ("delivery", "all_clients", "post_response"):
        s = report[name]
        print(f"{name:16}{s['p50_ms']:9.2f}{s['p90_ms']:9.2f}{s['p99_ms']:9.2f}{s['max_ms']:9.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    cpus = os.cpu_count() or 1
    if max(load_before, os.getloadavg()[0]) > cpus:
        print(f"note: machine was busy (1-min load {load_before:.2f} -> {os.getloadavg()[0]:.2f} on {cpus} CPUs); "
              "latencies are inflated, rerun on a quiet machine")
    print(f"wrote {out}")
    if len(arrivals) != args.clients * args.posts:
        sys.exit("some events were not delivered")


if __name__ == "__main__":
    main()
