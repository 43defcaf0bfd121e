"""Task output and task ends as the real systems have them, through the real CLI on the test bed,
both generations: `task-logs` (and `-f`) reads back exactly a line whose 世 is cut by the
agent's read boundary (0.23's per-byte \\u00XX, 1.x's raw bytes), and `deploy` stops, naming
why, an app whose tasks exit 0 at once (Marathon calls its deployment done at the task's first
TASK_RUNNING and records no lastTaskFailure for TASK_FINISHED).

One stack per generation for both, to keep the suite short."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cut_characters import BOUNDARY, TEXT, expected_output, straddling_command

from stackbed import Stack, one_error
from testbed import wait_until

pytestmark = pytest.mark.docker

AGENT = "http://127.0.0.1:5051"


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def command(stack: Stack, *args: str) -> list[str]:
    return [sys.executable, "-m", "mesostack", "-f", str(stack.file), *args]


def task_logs(stack: Stack, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`mesostack task-logs ...` with its stdout as bytes (no decoding by the test)."""
    return subprocess.run(command(stack, "task-logs", *args), capture_output=True, timeout=60,
                          env=stack.env_of({"PYTHONIOENCODING": "utf-8"}))


def reads_served() -> list[dict[str, Any]]:
    """The agent stand-in's record of the file slices it served (`/standin/reads`)."""
    found: list[dict[str, Any]] = requests.get(f"{AGENT}/standin/reads", timeout=5).json()["reads"]
    return found


def followed(stack: Stack, app: str, until: bytes, *, timeout: float = 30) -> bytes:
    """What `task-logs -f APP` prints until its output is `until` (then it is stopped)."""
    process = subprocess.Popen(command(stack, "task-logs", "-f", app), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env=stack.env_of({"PYTHONIOENCODING": "utf-8"}))
    assert process.stdout is not None
    out = bytearray()

    def pump() -> None:
        assert process.stdout is not None
        while chunk := process.stdout.read1(65536):
            out.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        wait_until(lambda: bytes(out) == until or len(out) > len(until) or None,
                   timeout=timeout, what="task-logs -f to print the task's output")
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
    return bytes(out)


def test_task_output_cut_by_a_read_and_tasks_that_finish(stack: Stack, tmp_path: Path) -> None:
    up = stack.cli("up")
    assert up.returncode == 0, up.stderr

    # 1. Grüße, 世界 with 世 across the first read's end (BOUNDARY bytes)
    app = {"id": "cut", "cmd": straddling_command(), "cpus": 0.1, "mem": 16}
    deployed = stack.cli("deploy", write(tmp_path, "cut.json", app))
    assert deployed.returncode == 0, deployed.stderr
    expected = expected_output()  # the stand-in's executor writes nothing of its own
    wait_until(lambda: task_logs(stack, "cut").stdout.endswith((TEXT + "\n").encode()) or None,
               timeout=30, what="the task's whole output")

    before = len(reads_served())
    logs = task_logs(stack, "cut")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == expected
    served = reads_served()[before:]
    assert (served[0]["offset"], served[0]["length"], served[0]["ends_inside_character"]) == (
        0, BOUNDARY, True), served
    assert served[1]["offset"] == BOUNDARY

    before = len(reads_served())
    assert followed(stack, "cut", expected) == expected
    assert reads_served()[before]["ends_inside_character"]

    # 2. a task that exits 0 at once: Marathon calls the deployment done at its first
    # TASK_RUNNING, relaunches it when it finishes, and records no failure
    once = write(tmp_path, "once.json", {"id": "once", "cmd": "true", "cpus": 0.1, "mem": 16})
    started = time.monotonic()
    stopped = stack.cli("deploy", once, "--timeout", "120")
    took = time.monotonic() - started
    assert stopped.returncode == 1, stopped.stderr
    assert took < 30, f"deploy took {took:.1f} s: it waited for the timeout"
    error = one_error(stopped.stderr)
    assert "app /once: its task exited 0" in error
    assert "after Marathon called the deployment done" in error
    assert "a Marathon app must keep running" in error
    answer = requests.get("http://127.0.0.1:8080/v2/apps/once", timeout=5).json()["app"]
    assert "lastTaskFailure" not in answer
