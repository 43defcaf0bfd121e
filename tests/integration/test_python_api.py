"""README's Python API example, run as it is written, against a stack on the test bed: up by
its context manager, an app given as a dict deployed, its task output read, status, and the
stack taken down by the block's end (nothing left behind: an unfiltered `docker ps -a`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stackbed import Stack

pytestmark = pytest.mark.docker

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- api-example -->", "<!-- /api-example -->"


def readme_example() -> str:
    """The Python block between README's api-example markers, as it is there."""
    marked = README.read_text(encoding="utf-8").split(START, 1)[1].split(END, 1)[0]
    return marked.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs_as_written(stack: Stack, tmp_path: Path) -> None:
    before = stack.ids()
    done = subprocess.run([sys.executable, "-c", readme_example()], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path,
                          env=stack.env_of({"MESOSTACK_FILE": str(stack.file)}))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("deployed /hello-api in deployment"), done.stdout
    assert any("Hello from the API" in line for line in lines[1:-1]), done.stdout
    assert lines[-1] == "ready: True", done.stdout
    assert done.stderr == ""  # the API prints nothing; its logger says nothing unconfigured
    assert stack.containers() == {}
    assert stack.ids() == before
