"""Each command imports only the libraries it uses (start-up time is most of a short command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("docker", "paramiko", "invoke", "kazoo", "requests", "pydantic", "rich", "yaml")

# Runs the command line, then prints which heavy libraries were imported (whatever the exit).
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps([m for m in {heavy!r} if m in sys.modules]),
                              file=sys.__stderr__))
from mesostack.cli import main
main({argv!r})
"""


def imported(argv: list[str], tmp_path: Path) -> set[str]:
    env = {**os.environ, "NO_COLOR": "1", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
           "MESOSTACK_FILE": ""}
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, argv=argv)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], set()),
        (["up", "--dry-run"], {"pydantic", "yaml"}),
        (["config"], {"pydantic", "yaml"}),
        # A local engine: docker-py without its ssh transport (paramiko, invoke); plain output
        # without rich. The engine does not answer here, so they stop after connecting.
        (["down"], {"docker", "requests", "pydantic", "yaml"}),
        (["status"], {"docker", "requests", "pydantic", "yaml"}),
    ],
)
def test_what_each_command_imports(argv: list[str], expected: set[str], tmp_path: Path) -> None:
    assert imported(argv, tmp_path) == expected


def test_an_ssh_engine_gets_docker_with_its_ssh_transport() -> None:
    code = ("import sys\nfrom mesostack import runtime\nruntime._load_docker(ssh={ssh})\n"
            "print(hasattr(runtime.docker.transport, 'SSHHTTPAdapter'), 'paramiko' in sys.modules,"
            " callable(runtime.docker.DockerClient))")
    for ssh, expected in ((False, "False False True"), (True, "True True True")):
        done = subprocess.run([sys.executable, "-c", code.format(ssh=ssh)], capture_output=True,
                              text=True, check=True)
        assert done.stdout.strip() == expected
