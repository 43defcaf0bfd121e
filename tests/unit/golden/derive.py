"""Writes tutorial-dry-run.txt from the specification, never from mesostack's own output: the
tutorial's four commands (TUTORIAL in tests/unit/test_plan.py, verbatim from the tutorial) with
only the additions named there (container names, labels (the agent's `tasks` among them),
ZOO_ADMINSERVER_ENABLED, MESOS_WORK_DIR).

Run after changing those inputs:  python tests/unit/golden/derive.py
test_plan.py checks that the file is this derivation and that `up --dry-run` prints it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]  # tests/unit, then tests

from test_plan import GOLDEN, tutorial_golden  # noqa: E402

if __name__ == "__main__":
    GOLDEN.write_text(tutorial_golden())
    print(GOLDEN)
