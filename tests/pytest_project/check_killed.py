"""A test that deploys an app and waits to be killed (SIGKILL: no teardown runs), saying when
it has deployed by writing $MESOSTACK_PROJECT_DEPLOYED."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesostack.pytest_plugin import AppFactory


def test_deploys_then_waits_to_be_killed(mesostack_app: AppFactory) -> None:
    mesostack_app({"id": "pytest-killed", "cmd": "sleep 3600", "cpus": 0.1, "mem": 16})
    Path(os.environ["MESOSTACK_PROJECT_DEPLOYED"]).write_text("deployed\n")
    time.sleep(600)
