"""pytest plugin: record every server-to-server frame of the run and decode them all with the Go harness at the
end, the way a Mattermost peer would. The run fails on any decode error or lost field.

Works for any selection (``-m "not nodb"``, one file, one test): whatever the cluster tests sent is checked at
``pytest_sessionfinish``; a run that sent nothing checks nothing. ``ISTHMUS_WIRE_HARNESS=0`` turns it off (e.g. to
look at other failures first); it is on by default, CI included.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.conformance import harness
from tests.testlib import wirelog

_REPORT = pytest.StashKey[str]()


def _enabled() -> bool:
    return os.environ.get("ISTHMUS_WIRE_HARNESS", "1") != "0"


def pytest_sessionstart(session: pytest.Session) -> None:
    if _enabled():
        # ISTHMUS_WIRE_LOG_DIR: where the recording goes (and stays, when it fails); default the temp dir.
        fd, name = tempfile.mkstemp(prefix="isthmus-wire-", suffix=".jsonl",
                                    dir=os.environ.get("ISTHMUS_WIRE_LOG_DIR") or None)
        os.close(fd)
        wirelog.install(Path(name))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    log = wirelog.LOG
    wirelog.install(None)
    if log is None:
        return
    try:
        if log.frames == 0:
            return
        try:
            code, report, _summary = harness.decode(log.path)
        except harness.HarnessUnavailable as err:
            code, report = 1, f"{err}\n({log.frames} recorded frames could not be checked)"
        if code != 0:
            kept = log.path.with_name(log.path.stem + "-failed.jsonl")
            log.path.replace(kept)
            report += f"\nrecorded frames kept in {kept}\n"
            if session.exitstatus in (0, 5):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        session.config.stash[_REPORT] = report
    finally:
        log.path.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(_REPORT, "")
    if report:
        terminalreporter.section("Mattermost wire conformance (Go harness)")
        terminalreporter.write(report)
