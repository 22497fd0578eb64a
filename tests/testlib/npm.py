"""Installs a test tier's npm packages (``npm ci``) once, however many pytest processes ask at the same time.

CI runs its SQLite and PostgreSQL passes side by side. ``npm ci`` begins by deleting ``node_modules``, so a
second install started while the first pass's Node script was running pulled the packages from under it.
An exclusive lock serialises the installs, and a stamp written only after a successful install (holding the
lock file's digest) tells the waiter that nothing is left to do, where a half-filled folder would not.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path


def ensure_node_modules(folder: Path) -> None:
    lock_file = folder / "package-lock.json"
    digest = hashlib.sha256(lock_file.read_bytes()).hexdigest()
    stamp = folder / "node_modules" / ".isthmus-installed"
    with open(folder / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until the with block ends; the waiter then reads the stamp
        if stamp.is_file() and stamp.read_text() == digest:
            return
        npm = shutil.which("npm")
        assert npm, f"npm is required for the tests in {folder.parent.name} (Debian: apt-get install npm)"
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, timeout=300,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"npm ci in {folder} failed:\n{done.stdout}\n{done.stderr}"
        stamp.write_text(digest)
