"""Benchmark: CPU per ``POST /api/v4/posts`` inside one process, hot route against the FastAPI route.

    .venv/bin/python bench/post_stack.py [-n 1500] [--rounds 3]

No HTTP server and no client: the ASGI app is called directly with a ready request, so the figure is
the server's own work per post (edge middleware, routing, the endpoint, SQLite, the websocket hub with
no listener) and the difference between the two ways in is all that changes between the paired rounds.
Each round measures N posts through ``api/hot_routes.py`` and N with its table emptied, which sends the
same request through FastAPI's router. Writes bench/results/post_stack.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ISTHMUS_BCRYPT_COST", "4")
os.environ.setdefault("ISTHMUS_TESTING", "1")

import httpx
from asgi_lifespan import LifespanManager

from isthmus.api import hot_routes
from isthmus.api.app import create_app
from isthmus.config import ConfigStore
from isthmus.server import Server

ROOT = Path(__file__).resolve().parents[1]


async def setup(client: httpx.AsyncClient) -> tuple[str, str]:
    """First user (an admin), a team and a channel; returns (token, channel id)."""
    user = {"username": "bench", "email": "bench@example.com", "password": "Passw0rd!long"}
    assert (await client.post("/api/v4/users", json=user)).status_code == 201
    r = await client.post("/api/v4/users/login", json={"login_id": "bench", "password": user["password"]})
    token = r.headers["token"]
    client.cookies.clear()  # a cookie session would need the CSRF header on every POST
    client.headers["Authorization"] = f"Bearer {token}"
    team = (await client.post("/api/v4/teams", json={"name": "benchteam", "display_name": "b", "type": "O"})).json()
    channel = (await client.post("/api/v4/channels", json={"team_id": team["id"], "name": "benchchannel",
                                                           "display_name": "b", "type": "O"})).json()
    return token, channel["id"]


def poster(app: Any, token: str, channel_id: str) -> Any:
    body = json.dumps({"channel_id": channel_id, "message": "hello from the stack benchmark"}).encode()
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode()),
               (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def one() -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/v4/posts", "raw_path": b"/api/v4/posts", "query_string": b"",
                 "headers": headers, "client": ("127.0.0.1", 1), "server": ("bench", 80), "root_path": ""}
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.sleep(3600)  # the app never waits for a disconnect on this route
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status != [201]:
            raise SystemExit(f"POST /posts answered {status}")
    return one


async def run(n: int, rounds: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="isthmus-poststack-"))
    os.environ["MM_SQLSETTINGS_DRIVERNAME"] = "sqlite"
    os.environ["MM_SQLSETTINGS_DATASOURCE"] = str(data / "isthmus.db")
    app = create_app(Server(ConfigStore(data / "config.json")))
    table = dict(hot_routes.HOT)
    figures: dict[str, list[float]] = {"hot": [], "routed": []}
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            token, channel_id = await setup(client)
        one = poster(app, token, channel_id)
        for _ in range(200):
            await one()
        for i in range(rounds):
            for label, hot in (("hot", table), ("routed", {})):
                hot_routes.HOT = hot
                started = time.process_time()
                for _ in range(n):
                    await one()
                figures[label].append((time.process_time() - started) / n * 1000)
                print(f"round {i + 1}: {label:6} {figures[label][-1]:.3f} ms CPU per post", flush=True)
        hot_routes.HOT = table
    hot_ms, routed_ms = statistics.mean(figures["hot"]), statistics.mean(figures["routed"])
    return {"benchmark": "post_stack", "posts_per_round": n, "rounds": rounds, "cpu_ms_per_post": figures,
            "mean_hot_ms": round(hot_ms, 3), "mean_routed_ms": round(routed_ms, 3),
            "saved_pct": round(100 * (1 - hot_ms / routed_ms), 1), "loadavg_1m": os.getloadavg()[0],
            "python": sys.version.split()[0], "cpus": os.cpu_count()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=1500, help="posts per way per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "post_stack.json")
    args = p.parse_args()
    result = asyncio.run(run(args.n, args.rounds))
    print(f"hot {result['mean_hot_ms']} ms, routed {result['mean_routed_ms']} ms per post: "
          f"{result['saved_pct']} % less CPU through the hot route")
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
