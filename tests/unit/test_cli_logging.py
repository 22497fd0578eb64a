"""``isthmus serve``'s logging setup keeps the database drivers quiet, and the CLI imports the server lazily."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from isthmus.cli import QUIET_LOGGERS, configure_logging

pytestmark = pytest.mark.nodb


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without handlers (so basicConfig applies, as in a fresh ``serve``), restored afterwards.

    Entered inside the test body: pytest adds its own capture handlers to the root for the call phase.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    root.handlers.clear()
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def test_debug_console_level_keeps_sql_parameters_out_of_the_log() -> None:
    records = Records()
    with bare_root() as root:
        configure_logging("DEBUG")
        assert root.level == logging.DEBUG and root.handlers  # basicConfig did apply
        assert logging.getLogger("aiosqlite").level == logging.WARNING
        assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING
        root.handlers = [records]  # only ours, so the test prints nothing
        logging.getLogger("aiosqlite").debug("executing %s with %s", "SELECT", "session-token-secret")
        logging.getLogger("sqlalchemy.engine.Engine").info("[generated] ('password-hash',)")
        logging.getLogger("isthmus.anything").debug("ours")
        logging.getLogger("aiosqlite").warning("a real problem")
    assert [r.getMessage() for r in records.records] == ["ours", "a real problem"]


@pytest.mark.parametrize(("console", "root_level", "quiet_level"), [
    ("INFO", logging.INFO, logging.WARNING),
    ("WARN", logging.WARNING, logging.WARNING),
    ("ERROR", logging.ERROR, logging.ERROR),  # never louder than the console level either
])
def test_other_console_levels(console: str, root_level: int, quiet_level: int) -> None:
    with bare_root() as root:
        configure_logging(console)
        assert root.level == root_level
        for name in QUIET_LOGGERS:
            assert logging.getLogger(name).level == quiet_level


def test_importing_the_cli_does_not_import_the_server() -> None:
    code = ("import sys, isthmus.cli\n"
            "print(sorted(m for m in ('isthmus.server', 'isthmus.api.app') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
