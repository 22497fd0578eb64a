"""Shared-channel sync between two real ``isthmus serve`` processes through a fault-injecting proxy.

Beta's SiteURL is the proxy (tests/testlib/faultproxy.py), so every frame, file upload and ping alpha sends
beta crosses it and suffers the mode under test: dropped, delayed 0–2 s, reset half-sent, reset after beta
applied it, delivered twice, answered with a truncated body, or swallowed by a blackhole. Each mode syncs a
fresh channel of ``ISTHMUS_FAULT_POSTS`` posts (default 200; docs/reliability.md's deep run uses 5000) with
edits, reactions and a file: beta must end with every post exactly once, and the convergence oracle
(domain/snapshot.py, through the ``verify`` REST call and the ``isthmus verify`` CLI) must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from bench.common import ServerProcess, free_port

from tests.loopback.test_connections import Admin, connect, wait_for
from tests.loopback.test_sync_kill import ENV, _posts, _verified
from tests.testlib.clients import unique
from tests.testlib.faultproxy import FaultPlan, FaultProxy

pytestmark = pytest.mark.loopback

POSTS = int(os.environ.get("ISTHMUS_FAULT_POSTS", "200"))
# Converging waits scale with the run: the deep run (5000 posts, delays of up to 2 s) needs minutes.
WITHIN_S = 90 + POSTS * 0.2
FAST = {**ENV, "MM_CONNECTEDWORKSPACESSETTINGS_MAXPOSTSPERSYNC": "50"}

PLANS = {
    "drop": FaultPlan("drop", rate=0.3),
    "delay": FaultPlan("delay", rate=0.5, max_delay_s=2.0),
    "reset_mid": FaultPlan("reset_mid", rate=0.3),
    "reset_after": FaultPlan("reset_after", rate=0.3),
    "duplicate": FaultPlan("duplicate", rate=0.5),
    "truncate": FaultPlan("truncate", rate=0.3),
    "blackhole": FaultPlan("blackhole", rate=0.2, blackhole_s=float(os.environ.get("ISTHMUS_FAULT_BLACKHOLE_S", "3"))),
}


@dataclass
class Pair:
    alpha: Admin
    beta: Admin
    remote_id: str
    proxy: FaultProxy
    alpha_srv: ServerProcess
    beta_srv: ServerProcess


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    pg = os.environ.get("ISTHMUS_TEST_POSTGRES_URL") or None
    beta_port = free_port()
    proxy = FaultProxy(beta_port).start()
    alpha_srv = ServerProcess(tmp_path_factory.mktemp("alpha"), env=FAST, postgres_url=pg)
    beta_srv = ServerProcess(tmp_path_factory.mktemp("beta"), env={**FAST, "MM_SERVICESETTINGS_SITEURL": proxy.url},
                             port=beta_port, postgres_url=pg)
    try:
        alpha_srv.start()
        beta_srv.start()
        alpha, beta = Admin(alpha_srv), Admin(beta_srv)
        remote_id = connect(alpha, beta)
        # alpha reaches beta only through the proxy
        assert alpha.http.get(f"/api/v4/remotecluster/{remote_id}").json()["site_url"] == proxy.url
        yield Pair(alpha, beta, str(remote_id), proxy, alpha_srv, beta_srv)
    finally:
        for srv in (alpha_srv, beta_srv):
            if srv.returncode is None and srv.proc is not None:
                srv.stop()
        proxy.stop()


def _write(alpha: Admin, channel_id: str) -> tuple[list[str], dict[str, str], bytes]:
    """POSTS posts, every 10th edited, every 7th with a reaction, one with a file: (ids, edits, file bytes)."""
    data = os.urandom(48 * 1024)
    r = alpha.http.post("/api/v4/files", data={"channel_id": channel_id},
                        files={"files": ("faults.bin", data, "application/octet-stream")})
    assert r.status_code == 201, r.text
    file_id = r.json()["file_infos"][0]["id"]
    r = alpha.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": "with a file",
                                               "file_ids": [file_id]})
    assert r.status_code == 201, r.text
    ids = [r.json()["id"]]
    me = alpha.http.get("/api/v4/users/me").json()["id"]
    edits: dict[str, str] = {}
    for i in range(POSTS - 1):
        r = alpha.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": f"post {i}"})
        assert r.status_code == 201, r.text
        post_id = r.json()["id"]
        ids.append(post_id)
        if i % 10 == 3:
            r = alpha.http.put(f"/api/v4/posts/{post_id}/patch", json={"message": f"post {i}, edited"})
            assert r.status_code == 200, r.text
            edits[post_id] = f"post {i}, edited"
        if i % 7 == 5:
            r = alpha.http.post("/api/v4/reactions", json={"user_id": me, "post_id": post_id, "emoji_name": "tada"})
            assert r.status_code == 200, r.text
    return ids, edits, data


@pytest.mark.parametrize("mode", list(PLANS))
def test_sync_through_fault_loses_and_duplicates_nothing(pair: Pair, mode: str) -> None:
    alpha, beta, proxy = pair.alpha, pair.beta, pair.proxy
    proxy.set_plan(FaultPlan(**{k: getattr(PLANS[mode], k) for k in
                                ("mode", "rate", "max_delay_s", "blackhole_s", "seed")}))
    r = alpha.http.post("/api/v4/channels", json={"team_id": alpha.team_id, "name": unique("ch"),
                                                  "display_name": f"Faults {mode}", "type": "O"})
    channel_id = r.json()["id"]
    r = alpha.http.post(f"/api/v4/remotecluster/{pair.remote_id}/channels/{channel_id}/invite")
    assert r.status_code == 200, r.text
    wait_for(lambda: beta.http.get(f"/api/v4/channels/{channel_id}").status_code == 200, within=WITHIN_S)

    started = time.monotonic()
    written, edits, data = _write(alpha, channel_id)
    wait_for(lambda: _verified(alpha, channel_id), within=WITHIN_S)
    assert proxy.stats[mode] > 0, dict(proxy.stats)  # the fault really fired

    got: dict[str, Any] = {k: v for k, v in _posts(beta, channel_id).items()
                           if not str(v.get("type", "")).startswith("system_")}
    assert sorted(got) == sorted(written)  # every post, once: a duplicate would carry another id
    assert len({(p["message"], p["create_at"]) for p in got.values()}) == POSTS
    for post_id, message in edits.items():
        assert got[post_id]["message"] == message
    [file_id] = got[written[0]]["file_ids"]
    assert beta.http.get(f"/api/v4/files/{file_id}").content == data

    # The oracle once more, as its own process against alpha's database, with the faults still on.
    def cli_ok() -> bool:
        done = subprocess.run([sys.executable, "-m", "isthmus", "verify", "--channel", channel_id, "--json",
                               "--config", str(pair.alpha_srv.config)], env=pair.alpha_srv.env, capture_output=True,
                              text=True, timeout=120, check=False, cwd=pair.alpha_srv.data_dir)
        return done.returncode == 0 and '"status": "ok"' in done.stdout

    wait_for(cli_ok, within=WITHIN_S)
    report = os.environ.get("ISTHMUS_FAULT_REPORT")  # figures for docs/reliability.md
    if report:
        with open(report, "a") as fh:
            fh.write(json.dumps({"mode": mode, "posts": POSTS, "edits": len(edits), "faults": dict(proxy.stats),
                                 "seconds": round(time.monotonic() - started, 1)}) + "\n")
    # A peer cut off mid-request is not a server bug: no 500, no traceback in either log.
    for srv in (pair.alpha_srv, pair.beta_srv):
        assert "unhandled error" not in srv.log() and "Traceback" not in srv.log(), srv.log()[-3000:]
