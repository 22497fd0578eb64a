"""Model-based test of shared-channel sync (issue 13): random topologies, configurations, operations and
faults over 3–5 in-process servers; after every "heal all and settle" the convergence oracle must agree on
every server sharing each channel, every accepted post exists exactly once where it should, nothing is
echoed, and content changes from a server other than the author's are refused (tests/testlib/model_state.py).

A few examples by default (CI); ``ISTHMUS_MODEL_EXAMPLES=N`` for a deep run, e.g.
``ISTHMUS_MODEL_EXAMPLES=2000 python -m pytest -q tests/model/test_sync_model.py``. Every failing example
hypothesis finds is kept as a named regression test below, replaying its steps.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, Verbosity, settings

from tests.model.sync_machine import SyncMachine

DEEP = "ISTHMUS_MODEL_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("ISTHMUS_MODEL_EXAMPLES", "6"))
STEPS = int(os.environ.get("ISTHMUS_MODEL_STEPS", "25"))
# ISTHMUS_MODEL_SHRINK=0: report a failing example as found (shrinking a cluster run can take many minutes)
SHRINK = os.environ.get("ISTHMUS_MODEL_SHRINK", "1") != "0"

TestSyncModel = SyncMachine.TestCase
TestSyncModel.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None, print_blob=True,
    verbosity=Verbosity.verbose if os.environ.get("ISTHMUS_MODEL_VERBOSE") else Verbosity.normal,
    suppress_health_check=list(HealthCheck),
    # A deep run also shrinks what it finds; the CI run only explores (shrinking a cluster run takes minutes).
    phases=([Phase.generate, Phase.target] + ([Phase.shrink] if SHRINK else [])) if DEEP else [Phase.generate],
    derandomize=not DEEP,  # CI explores the same few examples every run; deep runs are random
)


def teardown_module() -> None:
    from tests.model.sync_machine import STATS

    print("\nmodel operations:", dict(sorted(STATS.items())))
