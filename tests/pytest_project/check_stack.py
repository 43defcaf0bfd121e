"""Two tests on the session's one stack: an app deployed for one of them, and the stack's
readiness. Each records what it saw (the stack's containers, Marathon's apps and their labels)
in $MESOSTACK_PROJECT_RECORD, for the test that runs this project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesostack import Stack
    from mesostack.pytest_plugin import AppFactory


def record(test: str, stack: Stack) -> None:
    containers = sorted(c.id for c in stack.engines().containers(stack=stack.name))
    apps = {a["id"]: a.get("labels") or {} for a in stack.marathon_client().apps()}
    seen = {"test": test, "containers": containers, "apps": apps}
    with Path(os.environ.get("MESOSTACK_PROJECT_RECORD", "record.jsonl")).open("a") as out:
        out.write(json.dumps(seen) + "\n")


def test_an_app_runs(mesostack_stack: Stack, mesostack_app: AppFactory) -> None:
    record("test_an_app_runs", mesostack_stack)
    deployed = mesostack_app({"id": "pytest-hello", "cmd": "sleep 3600", "cpus": 0.1,
                              "mem": 16})
    assert deployed.app_ids == ("/pytest-hello",)
    rows = {row.id: row for row in mesostack_stack.apps()}
    assert rows["/pytest-hello"].running == 1


def test_the_stack_is_ready(mesostack_stack: Stack) -> None:
    record("test_the_stack_is_ready", mesostack_stack)
    assert mesostack_stack.status().ready
