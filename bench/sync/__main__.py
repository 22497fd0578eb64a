"""Connected-workspace sync benchmark, side by side with the Synapse peer measured in the same run.

    .venv/bin/python -m bench.sync [--quick] [--no-synapse | --synapse-quick] [--postgres URL]
                                   [--throughput-msgs N] [--backlog 100000] [--phases ...]

Starts real ``isthmus serve`` processes (A and B; C for the relay phase) on free loopback ports, each
with its own SQLite database (or a fresh PostgreSQL database with ``--postgres``), connects them with
the REST invite/accept flow and shares channels, then measures propagation latency, throughput,
catch-up after B restarts (lost/duplicated counted by message text), relay through a home server and
peak RSS / CPU seconds per process. Then runs ``../shared/peers/synapse/run.sh`` (two federating
Synapse servers, same phases) and prints one table: metric, Isthmus, Synapse, ratio, goal. Everything
is written to ``bench/results/sync.json`` (and the peer's own figures to ``bench/results/synapse.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.sync.phases import Options, SyncBench
from bench.sync.report import build_rows, render

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT.parent / "shared" / "peers" / "synapse" / "run.sh"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency-msgs", type=int, default=200)
    p.add_argument("--throughput-msgs", type=int, default=10_000)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--catchup-msgs", type=int, default=500)
    p.add_argument("--backlog", type=int, default=0, metavar="N",
                   help="also run a second catch-up with N posts written while B is down (e.g. 100000)")
    p.add_argument("--relay-msgs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--phases", default="latency,throughput,catchup,relay")
    p.add_argument("--phase-timeout", type=float, default=600.0)
    p.add_argument("--quick", action="store_true", help="smoke test: 20 / 500 / 50 / 20 posts")
    p.add_argument("--postgres", metavar="URL", default=None,
                   help="admin URL of a PostgreSQL server; every server gets a fresh database there")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for every isthmus serve (e.g. ISTHMUS_SYNC_BACKOFF_BASE_MS=100)")
    p.add_argument("--profile", default="", metavar="PHASES",
                   help="sample every server with py-spy during these phases (raw collapsed stacks in the workdir)")
    p.add_argument("--py-spy", default=os.environ.get("PY_SPY", "py-spy"), help="py-spy executable")
    p.add_argument("--cprofile", action="store_true",
                   help="run every server under cProfile (cprofile-<server>#<n>.out in its data dir; implies --keep)")
    p.add_argument("--no-synapse", action="store_true", help="skip the peer (table shows Isthmus only)")
    p.add_argument("--synapse-quick", action="store_true", help="run the peer with --quick")
    p.add_argument("--synapse-results", type=Path, default=None,
                   help="use this peer results file instead of running the peer (not same-run: marked so)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sync.json")
    p.add_argument("--synapse-out", type=Path, default=ROOT / "bench" / "results" / "synapse.json")
    p.add_argument("--keep", action="store_true", help="keep the servers' data dirs and logs")
    args = p.parse_args(argv)
    if args.quick:
        args.latency_msgs, args.throughput_msgs, args.catchup_msgs, args.relay_msgs = 20, 500, 50, 20
        args.warmup = 5
    return args


def run_peer(args: argparse.Namespace) -> tuple[dict[str, Any] | None, str]:
    if args.synapse_results is not None:
        return json.loads(args.synapse_results.read_text()), f"read from {args.synapse_results} (not this run)"
    if args.no_synapse:
        return None, "skipped (--no-synapse)"
    cmd = ["bash", str(PEER), "--out", str(args.synapse_out)] + (["--quick"] if args.synapse_quick else [])
    print(f"\n== reference peer: {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0 or not args.synapse_out.exists():
        return None, f"FAILED (exit {done.returncode})"
    return json.loads(args.synapse_out.read_text()), f"ran in this invocation ({time.monotonic() - t0:.0f} s)"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(kv.split("=", 1) for kv in args.env)
    workdir = Path(tempfile.mkdtemp(prefix="isthmus-syncbench-"))
    opts = Options(workdir=workdir, postgres_url=args.postgres, latency_msgs=args.latency_msgs,
                   throughput_msgs=args.throughput_msgs, senders=args.senders, catchup_msgs=args.catchup_msgs,
                   backlog_msgs=args.backlog, relay_msgs=args.relay_msgs, warmup=args.warmup,
                   phase_timeout=args.phase_timeout, phases=tuple(args.phases.split(",")), env=env,
                   profile=tuple(p for p in args.profile.split(",") if p), py_spy=args.py_spy,
                   cprofile=args.cprofile)
    load = [round(os.getloadavg()[0], 2)]
    print(f"== Isthmus: servers under {workdir} ({'postgres' if args.postgres else 'sqlite'})", flush=True)
    bench = SyncBench(opts)
    failed: BaseException | None = None
    try:
        ist = asyncio.run(bench.run())
    except BaseException as err:  # still report what was measured, and where the logs are
        failed, ist = err, bench.results
        print(f"Isthmus run failed: {err!r}; logs under {workdir}", file=sys.stderr)
    load.append(round(os.getloadavg()[0], 2))
    print(json.dumps(ist, indent=1)[:4000], flush=True)
    syn, peer_note = run_peer(args) if failed is None or args.synapse_results else (None, "not run")
    load.append(round(os.getloadavg()[0], 2))

    rows = build_rows(ist, syn)
    print(f"\nIsthmus ({'postgres' if args.postgres else 'sqlite'}) vs Synapse ({peer_note}); "
          f"1-min load before/after Isthmus/after peer: {load}")
    print(render(rows))
    doc = {
        "benchmark": "connected workspaces sync (bench.sync)", "command": " ".join(["python -m bench.sync",
                                                                                  *(argv or sys.argv[1:])]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git_commit(),
        "python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_1m": load,
        "database": "postgres" if args.postgres else "sqlite", "peer": peer_note,
        "table": [r.to_obj() for r in rows], "isthmus": ist,
        "synapse": syn, "error": repr(failed) if failed else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    if failed is None and not args.keep and not opts.profile and not opts.cprofile:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
