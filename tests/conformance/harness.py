"""Build and run the Go conformance harness (``tests/conformance/go``).

The binary is built once per source version and cached in the temp dir (keyed by a hash of the Go sources), so
each run after the first costs nothing. Go is Debian's ``golang-go`` (``scripts/test`` installs it); only the
standard library is used, no module is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).parent / "go"


class HarnessUnavailable(RuntimeError):
    pass


def go_binary() -> str:
    go = shutil.which("go") or ("/usr/bin/go" if Path("/usr/bin/go").exists() else None)
    if go is None:
        raise HarnessUnavailable("Go is not installed: the conformance harness needs Debian's golang-go "
                                 "(scripts/test installs it as root; otherwise run `apt-get install golang-go`)")
    return go


def build() -> Path:
    files = sorted(p for p in SOURCE.iterdir() if p.suffix in (".go", ".mod"))
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"isthmus-conformance-{os.getuid()}"
    exe = cache / f"conformance-{digest}"
    if exe.exists():
        return exe
    go = go_binary()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".build-{os.getpid()}"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GO111MODULE": "on",
           "GOCACHE": os.environ.get("GOCACHE") or str(cache / "gocache"), "CGO_ENABLED": "0"}
    done = subprocess.run([go, "build", "-o", str(tmp), "."], cwd=SOURCE, env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise HarnessUnavailable(f"building the Go conformance harness failed:\n{done.stderr}")
    tmp.replace(exe)  # atomic: parallel runs never see a half-written binary
    return exe


def decode(frames: Path) -> tuple[int, str, dict[str, Any]]:
    """Decode a JSON-lines recording; returns (exit code, human-readable report, summary)."""
    exe = build()
    text = subprocess.run([str(exe), "decode", str(frames)], capture_output=True, text=True, timeout=600)
    summary = subprocess.run([str(exe), "decode", "-json", str(frames)], capture_output=True, text=True,
                             timeout=600)
    parsed: dict[str, Any] = json.loads(summary.stdout) if summary.stdout.strip() else {}
    return text.returncode, text.stdout + text.stderr, parsed


def encode(ids: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Mattermost-shaped frames (see ``go/encode.go``), by name: ``{"path": ..., "body": ...}``."""
    exe = build()
    done = subprocess.run([str(exe), "encode"], input=json.dumps(ids), capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise HarnessUnavailable(f"harness encode failed: {done.stderr}")
    out: dict[str, dict[str, str]] = {}
    for line in done.stdout.splitlines():
        rec = json.loads(line)
        out[rec["name"]] = {"path": rec["path"], "body": rec["body"]}
    return out


async def decode_one(direction: str, path: str, topic: str, body: bytes, status: int = 0) -> list[str]:
    """The errors a Mattermost server would find in one frame (empty when it decodes); does not block the loop."""
    import asyncio

    exe = await asyncio.to_thread(build)
    record = json.dumps({"direction": direction, "path": path, "topic": topic, "status": status,
                         "body": body.decode("utf-8", "replace")})
    proc = await asyncio.create_subprocess_exec(str(exe), "decode", "-json", "/dev/stdin",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(record.encode() + b"\n")
    if proc.returncode not in (0, 1):
        raise HarnessUnavailable(f"harness decode failed: {err.decode()}")
    errors: list[str] = json.loads(out).get("errors") or []
    return errors
