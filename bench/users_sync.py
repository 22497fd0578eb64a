"""Global user sync and membership sync between two real ``isthmus serve`` processes (issue 15, SQLite).

    .venv/bin/python bench/users_sync.py                      # 100,000 users, a 5,000-member channel
    .venv/bin/python bench/users_sync.py -n 2000 --members 500  # a quick look

1. alpha is started once (its admin, team and an open channel), stopped, and seeded straight into its SQLite
   file with ``-n`` users (one ``executemany``: creating 100,000 accounts over REST would measure bcrypt, not
   sync), ``--members`` of them members of the channel; ten users share each ``update_at`` (a bulk import has
   ties). alpha and beta then run with ``EnableSyncAllUsersForRemoteCluster`` and member sync on.
2. **global user sync**: from the connection's creation until alpha's ``GET /remotecluster/{id}/sync_users``
   says nothing is pending, and beta holds every one of them (counted in beta's database); users/s.
3. **membership sync**: alpha shares the channel with beta; from the invite until beta's copy has every member
   (the users already exist there, so this is the membership changes alone); members/s.
Peer (beta) peak RSS and both servers' CPU seconds are recorded. Writes ``bench/results/users_sync.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sync.cluster import Node, check, connect, wait_until

HERE = Path(__file__).resolve().parent
TIE = 10  # users per update_at


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--users", type=int, default=100_000)
    p.add_argument("--members", type=int, default=5_000)
    p.add_argument("--batch", type=int, default=200, help="GlobalUserSyncBatchSize (1..200)")
    p.add_argument("--member-batch", type=int, default=200, help="MemberSyncBatchSize")
    p.add_argument("--keep", type=Path, default=None, help="keep the servers' data and logs in this directory")
    p.add_argument("--out", type=Path, default=HERE / "results" / "users_sync.json")
    return p.parse_args(argv)


def _default(decl: str) -> Any:
    t = decl.upper()
    if "JSON" in t:
        return "{}"
    return 0 if any(k in t for k in ("INT", "BOOL", "NUMERIC")) else ""


def seed(db: Path, n: int, members: int, channel_id: str) -> None:
    """``n`` local users (and ``members`` of them in ``channel_id``) written straight into alpha's database."""
    from isthmus.core.ids import new_id

    con = sqlite3.connect(db)
    try:
        cols = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(users)")]
        base = int(time.time() * 1000) - n
        rows = []
        ids = []
        for i in range(n):
            uid = new_id()
            ids.append(uid)
            known = {"id": uid, "create_at": base + i // TIE, "update_at": base + i // TIE, "delete_at": 0,
                     "username": f"bench{i:06d}", "email": f"bench{i:06d}@alpha.example", "first_name": "Bench",
                     "last_name": f"User {i}", "roles": "system_user", "locale": "en", "remote_id": None,
                     "is_bot": 0}
            rows.append(tuple(known[c] if c in known else _default(t) for c, t in cols))
        marks = ",".join("?" for _ in cols)
        con.executemany(f"INSERT INTO users ({','.join(c for c, _ in cols)}) VALUES ({marks})", rows)
        mcols = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(channel_members)")]
        mrows = []
        for uid in ids[:members]:
            known = {"channel_id": channel_id, "user_id": uid, "scheme_user": 1, "notify_props": "{}"}
            mrows.append(tuple(known[c] if c in known else _default(t) for c, t in mcols))
        marks = ",".join("?" for _ in mcols)
        con.executemany(f"INSERT INTO channel_members ({','.join(c for c, _ in mcols)}) VALUES ({marks})", mrows)
        con.commit()
    finally:
        con.close()


def count(db: Path, sql: str, *args: Any) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute(sql, args).fetchone()[0])
    finally:
        con.close()


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = {"MM_FEATUREFLAGS_ENABLESYNCALLUSERSFORREMOTECLUSTER": "true",
           "MM_FEATUREFLAGS_ENABLESHAREDCHANNELSMEMBERSYNC": "true",
           "MM_CONNECTEDWORKSPACESSETTINGS_GLOBALUSERSYNCBATCHSIZE": str(args.batch),
           "MM_CONNECTEDWORKSPACESSETTINGS_MEMBERSYNCBATCHSIZE": str(args.member_batch),
           "MM_TEAMSETTINGS_MAXUSERSPERTEAM": str(args.users + 100)}
    alpha, beta = Node("Alpha", tmp / "alpha", env=env), Node("Beta", tmp / "beta", env=env)
    alpha.start()
    await alpha.bootstrap()
    ch = await check(await alpha.http().post("/api/v4/channels", json={
        "team_id": alpha.team_id, "name": "big", "display_name": "Big", "type": "O"}), 201)
    channel_id = str(ch["id"])
    await alpha.close()
    alpha.stop()
    t0 = time.monotonic()
    seed(tmp / "alpha" / "isthmus.db", args.users, args.members, channel_id)
    seed_s = time.monotonic() - t0
    alpha.start()
    beta.start()
    await beta.bootstrap()
    beta_db = tmp / "beta" / "isthmus.db"
    out: dict[str, Any] = {"users": args.users, "members": args.members, "batch": args.batch,
                           "member_batch": args.member_batch, "seed_s": round(seed_s, 2)}

    t0 = time.monotonic()
    remote_id = await connect(alpha, beta)

    async def all_users_there() -> bool:
        p = await check(await alpha.http().get(f"/api/v4/remotecluster/{remote_id}/sync_users"), 200)
        return bool(p["pending"] == 0) and count(
            beta_db, "SELECT count(*) FROM users WHERE remote_id = ?", remote_id) >= args.users + 1

    await wait_until(all_users_there, 1800, "every user to reach beta", interval=0.25)
    took = time.monotonic() - t0
    out["global_user_sync"] = {"seconds": round(took, 2), "users_per_s": round((args.users + 1) / took),
                               "beta": beta.record_usage(), "alpha": alpha.record_usage()}
    print(f"global user sync: {args.users + 1} users in {took:.1f}s ({(args.users + 1) / took:.0f}/s), "
          f"beta peak RSS {out['global_user_sync']['beta'].get('vmhwm_mib', 0):.0f} MiB", flush=True)

    want = count(tmp / "alpha" / "isthmus.db", "SELECT count(*) FROM channel_members WHERE channel_id = ?", channel_id)
    t0 = time.monotonic()
    await check(await alpha.http().post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite",
                                        json={}), 200)

    async def all_members_there() -> bool:
        return count(beta_db, "SELECT count(*) FROM channel_members m JOIN users u ON u.id = m.user_id "
                     "WHERE m.channel_id = ? AND u.remote_id = ?", channel_id, remote_id) >= want

    await wait_until(all_members_there, 1800, "every member to reach beta", interval=0.25)
    took = time.monotonic() - t0
    out["membership_sync"] = {"members": want, "seconds": round(took, 2), "members_per_s": round(want / took),
                              "beta": beta.record_usage(), "alpha": alpha.record_usage()}
    print(f"membership sync: {want} members in {took:.1f}s ({want / took:.0f}/s)", flush=True)
    await alpha.close()
    await beta.close()
    alpha.stop()
    beta.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="isthmus-users-sync-") as d:
            result = asyncio.run(run(args, Path(d)))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE, check=False).stdout.strip()
    result.update({"command": " ".join([Path(sys.executable).name, "bench/users_sync.py", *(argv or sys.argv[1:])]),
                   "commit": commit, "python": platform.python_version(), "cpus": os.cpu_count(),
                   "loadavg": os.getloadavg(), "database": "sqlite"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
