"""haproxy (Debian's /usr/sbin/haproxy) in front of several ``isthmus serve`` processes, for bench/scale_out.py and the
loopback tier: round-robin per request, no sticky sessions, websocket upgrades passed through, dead servers skipped
(health check every 0.5 s; a request whose connection was refused is sent to another server)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

HAPROXY = "/usr/sbin/haproxy"

CONFIG = """global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    option redispatch
    retries 3
frontend isthmus
    bind 127.0.0.1:{port}
    default_backend processes
backend processes
    balance roundrobin
    option httpchk GET /api/v4/system/ping
{servers}
"""


class Balancer:
    def __init__(self, data_dir: Path, port: int, backends: list[int]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config = data_dir / "haproxy.cfg"
        servers = "\n".join(f"    server p{i} 127.0.0.1:{p} check inter 500 fall 2 rise 1"
                            for i, p in enumerate(backends, 1))
        self.config.write_text(CONFIG.format(port=port, servers=servers))
        self.log_path = data_dir / "haproxy.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> Balancer:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/api/v4/system/ping", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{self.log_path.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def client(self, token: str | None = None, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
