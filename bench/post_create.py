"""Benchmark: ``POST /api/v4/posts`` latency and throughput on one real ``isthmus serve`` process.

    .venv/bin/python bench/post_create.py [-n 2000] [--postgres URL] [--profile py-spy]

Starts a server on a free loopback port with a temp data dir (SQLite unless ``--postgres``), creates
a user, team and channel through REST, warms up, then measures N sequential posts on one keep-alive
connection and N posts spread over 4 concurrent clients. Prints a table and writes
bench/results/post_create.json. Goal (issue 3): p50 <= 5 ms sequential on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench.common` importable
    sys.path.insert(0, str(ROOT))

from bench.common import ServerProcess, server_usage  # noqa: E402

GOAL_P50_MS = 5.0


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_ms:
        return float("nan")
    k = max(0, min(len(sorted_ms) - 1, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


def summarize(latencies_ms: list[float], wall_s: float) -> dict[str, float]:
    s = sorted(latencies_ms)
    return {"count": len(s), "p50_ms": percentile(s, 50), "p95_ms": percentile(s, 95),
            "p99_ms": percentile(s, 99), "mean_ms": statistics.fmean(s), "max_ms": s[-1],
            "posts_per_s": len(s) / wall_s, "wall_s": wall_s}


def setup_channel(base: str) -> tuple[str, str]:
    """Create the first (admin) account, a team and a channel; return (token, channel_id)."""
    with httpx.Client(base_url=base, timeout=30) as c:
        user = {"username": "benchuser", "email": "bench@example.com", "password": "Passw0rd!long"}
        r = c.post("/api/v4/users", json=user)
        r.raise_for_status()
        r = c.post("/api/v4/users/login", json={"login_id": user["username"], "password": user["password"]})
        r.raise_for_status()
        token = r.headers["Token"]
        c.cookies.clear()  # a session cookie would win over the header and demand a CSRF header
        c.headers["Authorization"] = f"Bearer {token}"
        r = c.post("/api/v4/teams", json={"name": "bench", "display_name": "Bench", "type": "O"})
        r.raise_for_status()
        r = c.post("/api/v4/channels", json={"team_id": r.json()["id"], "name": "bench",
                                             "display_name": "Bench", "type": "O"})
        r.raise_for_status()
        return token, str(r.json()["id"])


def post_body(channel_id: str, i: int) -> dict[str, Any]:
    return {"channel_id": channel_id, "message": f"benchmark message number {i} with a little text"}


def run_sequential(base: str, token: str, channel_id: str, n: int, start: int = 0) -> dict[str, Any]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        began = time.perf_counter()
        for i in range(start, start + n):
            t0 = time.perf_counter_ns()
            r = c.post("/api/v4/posts", json=post_body(channel_id, i))
            latencies.append((time.perf_counter_ns() - t0) / 1e6)
            if r.status_code != 201:
                raise RuntimeError(f"POST /posts answered {r.status_code}: {r.text}")
        wall = time.perf_counter() - began
    return summarize(latencies, wall)


def run_concurrent(base: str, token: str, channel_id: str, n: int, clients: int) -> dict[str, Any]:
    async def worker(k: int, count: int, out: list[float]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
            for i in range(count):
                t0 = time.perf_counter_ns()
                r = await c.post("/api/v4/posts", json=post_body(channel_id, 1_000_000 * (k + 1) + i))
                out.append((time.perf_counter_ns() - t0) / 1e6)
                if r.status_code != 201:
                    raise RuntimeError(f"POST /posts answered {r.status_code}: {r.text}")

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        per = n // clients
        began = time.perf_counter()
        await asyncio.gather(*(worker(k, per, latencies) for k in range(clients)))
        return summarize(latencies, time.perf_counter() - began)

    return asyncio.run(main())


def count_posts(base: str, token: str, channel_id: str) -> int:
    """The channel's total_msg_count, a cheap check that every post was really stored (-1 if unknown)."""
    r = httpx.get(f"{base}/api/v4/channels/{channel_id}", headers={"Authorization": f"Bearer {token}"})
    if r.status_code == 200 and "total_msg_count" in r.json():
        return int(r.json()["total_msg_count"])
    return -1


def start_profiler(kind: str, pid: int, out_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    if kind != "py-spy":
        raise SystemExit(f"unknown profiler {kind!r}")
    out = out_dir / "post_create.pyspy.txt"
    spy = os.environ.get("PY_SPY", "py-spy")
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "500", "--format", "raw",
                             "--threads", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let py-spy attach before the measured phase
    return proc, out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(f"\n{'phase':<24}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}{'posts/s':>10}"
          f"{'srv CPU ms/post':>17}")
    for name, r in results.items():
        print(f"{name:<24}{r['count']:>7}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['mean_ms']:>9.2f}{r['max_ms']:>9.1f}{r['posts_per_s']:>10.0f}{r['server_cpu_ms_per_post']:>17.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="posts per measured phase (default 2000)")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured posts first (default 200)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients in the second phase (default 4)")
    ap.add_argument("--postgres", metavar="URL", help="admin URL of a PostgreSQL server; a fresh database is made")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/post_create.json")
    ap.add_argument("--profile", choices=["py-spy"], help="sample the server during the sequential phase")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir (server log, database)")
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="isthmus-bench-"))
    srv = ServerProcess(tmp / "server", postgres_url=args.postgres)
    driver = srv.env["MM_SQLSETTINGS_DRIVERNAME"]
    print(f"isthmus serve ({driver}) on {srv.url}, data in {tmp}")
    srv.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        token, channel_id = setup_channel(srv.url)
        run_sequential(srv.url, token, channel_id, args.warmup, start=-args.warmup)
        profiler = start_profiler(args.profile, srv.proc.pid, tmp) if args.profile and srv.proc else None
        cpu0 = server_usage(srv).get("cpu_s", 0.0)
        results["sequential"] = run_sequential(srv.url, token, channel_id, args.n)
        # Server CPU per post barely depends on what else the machine runs, unlike latency.
        results["sequential"]["server_cpu_ms_per_post"] = (server_usage(srv).get("cpu_s", 0.0) - cpu0) * 1000 / args.n
        if profiler is not None:
            profiler[0].send_signal(signal.SIGINT)
            profiler[0].wait(60)
            print(f"py-spy samples: {profiler[1]}")
        cpu0 = server_usage(srv).get("cpu_s", 0.0)
        conc = results[f"concurrent x{args.clients}"] = run_concurrent(srv.url, token, channel_id, args.n, args.clients)
        conc["server_cpu_ms_per_post"] = (server_usage(srv).get("cpu_s", 0.0) - cpu0) * 1000 / conc["count"]
        stored = count_posts(srv.url, token, channel_id)
    finally:
        code = srv.stop()
    if code != 0:
        print(f"warning: server exited with {code}\n{srv.log()[-2000:]}", file=sys.stderr)

    print_table(results)
    p50 = results["sequential"]["p50_ms"]
    verdict = "meets" if p50 <= GOAL_P50_MS else "MISSES"
    load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    print(f"\nsequential p50 {p50:.2f} ms {verdict} the goal of <= {GOAL_P50_MS} ms ({driver})")
    if max(load) > (os.cpu_count() or 1) * 0.75:
        print(f"note: machine was busy (1-min load {load[0]} -> {load[1]} on {os.cpu_count()} CPUs); "
              "latencies are inflated, rerun on a quiet machine")
    doc = {
        "benchmark": "post_create", "endpoint": "POST /api/v4/posts", "database": driver,
        "goal_p50_ms": GOAL_P50_MS, "meets_goal": p50 <= GOAL_P50_MS, "warmup": args.warmup,
        "posts_in_channel": stored, "results": results, "commit": git_commit(),
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(), "loadavg_1m": load,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not args.keep and not args.profile:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
