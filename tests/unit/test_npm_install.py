"""Two pytest processes asking for the same npm packages at once install them once (CI's two passes did twice,
and the second ``npm ci`` deleted node_modules under the first pass's running Node script)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

# A stand-in for npm: a slow install that logs each run, so overlapping installs would show as two lines.
_FAKE_NPM = """#!/bin/sh
echo run >> "$NPM_LOG"
rm -rf node_modules
sleep 1
mkdir -p node_modules/pkg
"""

_CALL = ("import sys; from pathlib import Path; from tests.testlib.npm import ensure_node_modules; "
         "ensure_node_modules(Path(sys.argv[1])); "
         "assert (Path(sys.argv[1]) / 'node_modules' / 'pkg').is_dir()")


def _env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    npm = bin_dir / "npm"
    npm.write_text(_FAKE_NPM)
    npm.chmod(0o755)
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NPM_LOG": str(tmp_path / "npm.log"),
            "PYTHONPATH": root}


def test_simultaneous_installs_run_npm_once_and_both_find_the_packages(tmp_path: Path) -> None:
    folder = tmp_path / "node"
    folder.mkdir()
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3}')
    env = _env(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", _CALL, str(folder)], env=env) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert (tmp_path / "npm.log").read_text().splitlines() == ["run"]


def test_a_changed_lock_file_installs_again(tmp_path: Path) -> None:
    folder = tmp_path / "node"
    folder.mkdir()
    lock = folder / "package-lock.json"
    lock.write_text('{"lockfileVersion": 3}')
    env = _env(tmp_path)
    for text in ('{"lockfileVersion": 3}', '{"lockfileVersion": 3}', '{"lockfileVersion": 3, "x": 1}'):
        lock.write_text(text)
        subprocess.run([sys.executable, "-c", _CALL, str(folder)], env=env, check=True, timeout=60)
    assert (tmp_path / "npm.log").read_text().splitlines() == ["run", "run"]
