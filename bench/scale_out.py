"""Benchmark: scale-out. Posts/s accepted by workspace A and visible on workspace B with 1, 2 and 4 ``isthmus
serve`` processes of A on one PostgreSQL database behind haproxy (round-robin), same machine, same run.

    .venv/bin/python bench/scale_out.py --postgres postgresql://postgres@127.0.0.1:5432/postgres [-n 1500] [-c 8]

For each process count: a fresh database for A, the processes (ClusterSettings.Enable), haproxy in front, B (one
process, SQLite), a secure connection and a shared channel; then ``-n`` posts from ``-c`` concurrent clients
through the balancer. Measured: posts/s accepted (all answered 201), posts/s visible on B (until B's copy of the
channel holds every post), CPU ms per post of each A process and of all of them together (from /proc), and each
figure's ratio to one process. Writes bench/results/scale_out.json. Everything (clients, haproxy, A, B, PostgreSQL)
shares this machine's CPUs: read the ratios against ``cpus`` in the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench.*` importable
    sys.path.insert(0, str(ROOT))

from bench.balancer import Balancer  # noqa: E402
from bench.common import ServerProcess, create_postgres_database, free_port, server_usage  # noqa: E402

PASSWORD = "Passw0rd!long"
COMMON = {"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE": "true",
          "MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS": "true",
          "ISTHMUS_REMOTE_PING_INTERVAL_S": "1", "ISTHMUS_REMOTE_OFFLINE_AFTER_MS": "60000"}


def wait(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def admin(url: str, name: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/v4/users", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
    r.raise_for_status()
    r = c.post("/api/v4/users/login", json={"login_id": name, "password": PASSWORD})
    r.raise_for_status()
    c.cookies.clear()
    c.headers["Authorization"] = f"Bearer {r.headers['Token']}"
    r = c.post("/api/v4/teams", json={"name": f"{name}team", "display_name": "Bench", "type": "O"})
    r.raise_for_status()
    return c, str(r.json()["id"])


def link(a: httpx.Client, a_team: str, b: httpx.Client, b_team: str) -> tuple[str, str]:
    """A secure connection A→B and a channel of A shared with B; returns (remote id, channel id)."""
    r = a.post("/api/v4/remotecluster", json={"name": "beta", "display_name": "Beta", "default_team_id": a_team,
                                              "password": "pw-123456"})
    r.raise_for_status()
    remote_id, code = r.json()["remote_cluster"]["remote_id"], r.json()["invite"]
    r = b.post("/api/v4/remotecluster/accept_invite", json={"name": "alpha", "default_team_id": b_team,
                                                            "invite": code, "password": "pw-123456"})
    r.raise_for_status()

    def online() -> bool:
        rows = a.get("/api/v4/remotecluster", params={"exclude_offline": "true"}).json()
        return remote_id in {x["remote_id"] for x in rows}
    wait(online, 60, "the connection to come online")
    r = a.post("/api/v4/channels", json={"team_id": a_team, "name": "bench", "display_name": "Bench", "type": "O"})
    r.raise_for_status()
    channel_id = str(r.json()["id"])
    r = a.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite")
    r.raise_for_status()
    wait(lambda: b.get(f"/api/v4/channels/{channel_id}").status_code == 200, 60, "B's copy of the channel")
    return remote_id, channel_id


async def post_all(url: str, token: str, channel_id: str, n: int, clients: int) -> tuple[float, int]:
    """``n`` posts over ``clients`` concurrent keep-alive connections; (wall seconds, failures)."""
    failures = 0
    counter = iter(range(n))

    async def worker() -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
            for i in counter:
                r = await c.post("/api/v4/posts", json={"channel_id": channel_id,
                                                        "message": f"scale-out message {i} with a little text"})
                failures += r.status_code != 201

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - began, failures


def b_count(b: httpx.Client, channel_id: str) -> int:
    r = b.get(f"/api/v4/channels/{channel_id}")
    return int(r.json().get("total_msg_count", 0)) if r.status_code == 200 else 0


def run_one(procs_n: int, pg: str, work: Path, n: int, clients: int) -> dict[str, Any]:
    dsn = create_postgres_database(pg, prefix="isthmus_scale_bench_")
    lb_port = free_port()
    env = {**COMMON, "MM_SQLSETTINGS_DRIVERNAME": "postgres", "MM_SQLSETTINGS_DATASOURCE": dsn,
           "MM_CLUSTERSETTINGS_ENABLE": "true", "MM_SERVICESETTINGS_SITEURL": f"http://127.0.0.1:{lb_port}"}
    procs = [ServerProcess(work / f"a{procs_n}-{i}", env=env) for i in range(procs_n)]
    beta = ServerProcess(work / f"b{procs_n}", env=COMMON)
    balancer = Balancer(work / f"haproxy{procs_n}", lb_port, [p.port for p in procs])
    try:
        for p in procs:
            p.start()
        balancer.start()
        beta.start()
        a, a_team = admin(balancer.url, "benchalpha")
        b, b_team = admin(beta.url, "benchbeta")
        _remote_id, channel_id = link(a, a_team, b, b_team)
        base = b_count(b, channel_id)
        token = a.headers["Authorization"].split()[1]
        asyncio.run(post_all(balancer.url, token, channel_id, 50, clients))  # warm-up, not measured
        wait(lambda: b_count(b, channel_id) >= base + 50, 120, "the warm-up posts on B")
        base = b_count(b, channel_id)
        cpu0 = [server_usage(p).get("cpu_s", 0.0) for p in procs]
        b_cpu0 = server_usage(beta).get("cpu_s", 0.0)
        began = time.perf_counter()
        wall, failures = asyncio.run(post_all(balancer.url, token, channel_id, n, clients))
        wait(lambda: b_count(b, channel_id) >= base + n - failures, 600, "every post on B")
        visible_s = time.perf_counter() - began
        cpu = [server_usage(p).get("cpu_s", 0.0) - c0 for p, c0 in zip(procs, cpu0, strict=True)]
        b_cpu = server_usage(beta).get("cpu_s", 0.0) - b_cpu0
        a.close()
        b.close()
        return {"processes": procs_n, "posts": n, "clients": clients, "failures": failures,
                "accepted_posts_per_s": n / wall, "visible_on_b_posts_per_s": n / visible_s,
                "accept_wall_s": wall, "visible_wall_s": visible_s,
                "cpu_ms_per_post_each": [c * 1000 / n for c in cpu], "cpu_ms_per_post_all_a": sum(cpu) * 1000 / n,
                "cpu_ms_per_post_b": b_cpu * 1000 / n}
    finally:
        balancer.stop()
        for p in [*procs, beta]:
            try:
                p.stop()
            except RuntimeError:
                pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--postgres", required=True, help="any database URL on the PostgreSQL server to use")
    ap.add_argument("-n", type=int, default=1500, help="measured posts per process count")
    ap.add_argument("-c", "--clients", type=int, default=8, help="concurrent posting clients")
    ap.add_argument("--processes", default="1,2,4")
    args = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="isthmus-scale-") as tmp:
        for k in [int(x) for x in args.processes.split(",")]:
            print(f"== {k} process(es) of A", flush=True)
            runs.append(run_one(k, args.postgres, Path(tmp), args.n, args.clients))
            print(json.dumps(runs[-1]), flush=True)
    one = runs[0]
    for r in runs:
        r["accepted_ratio_to_one"] = r["accepted_posts_per_s"] / one["accepted_posts_per_s"]
        r["visible_ratio_to_one"] = r["visible_on_b_posts_per_s"] / one["visible_on_b_posts_per_s"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT, check=False).stdout.strip()
    out = {"commit": commit, "python": platform.python_version(), "cpus": os.cpu_count(),
           "load_avg_1m": os.getloadavg()[0], "runs": runs}
    path = ROOT / "bench" / "results" / "scale_out.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print("\n| A processes | accepted posts/s | ratio | visible on B posts/s | ratio | A CPU ms/post (each) | "
          "A CPU ms/post (all) | B CPU ms/post |\n|---|---|---|---|---|---|---|---|")
    for r in runs:
        each = ", ".join(f"{c:.2f}" for c in r["cpu_ms_per_post_each"])
        print(f"| {r['processes']} | {r['accepted_posts_per_s']:.0f} | {r['accepted_ratio_to_one']:.2f} | "
              f"{r['visible_on_b_posts_per_s']:.0f} | {r['visible_ratio_to_one']:.2f} | {each} | "
              f"{r['cpu_ms_per_post_all_a']:.2f} | {r['cpu_ms_per_post_b']:.2f} |")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
