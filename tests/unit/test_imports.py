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


# Connects engines in the given order with the server's answers stood in for (no engine runs
# here): the first connection loads docker-py, as a command's first engine does.
CONNECT = """
import sys
from mesostack import runtime
runtime._load_docker(ssh={endpoints[0]!r}.startswith("ssh://"))
runtime.docker.api.client.APIClient._retrieve_server_version = lambda self: "1.44"
runtime.docker.DockerClient.ping = lambda self: True
for endpoint in {endpoints!r}:
    engine = runtime.Engine.connect(endpoint)
    print(endpoint, type(engine._client.api.get_adapter(engine._client.api.base_url)).__name__)
print("paramiko", "paramiko" in sys.modules)
"""

LOCAL = "unix:///nonexistent/docker.sock"
SSH = "ssh://root@127.0.0.1:1"


@pytest.mark.parametrize("endpoints", [[LOCAL, SSH], [SSH, LOCAL]], ids=" then ".join)
def test_a_local_and_an_ssh_engine_connect_in_either_order(endpoints: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", CONNECT.format(endpoints=endpoints)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    adapters = {LOCAL: "UnixHTTPAdapter", SSH: "SSHHTTPAdapter"}
    assert done.stdout.splitlines() == [f"{e} {adapters[e]}" for e in endpoints] + [
        "paramiko True"]


REACH = """
import sys
from mesostack import runtime
runtime._load_docker(ssh=False)  # a local engine connected earlier in the process
runtime.docker.api.client.APIClient._retrieve_server_version = lambda self: "1.44"
runtime.docker.DockerClient.ping = lambda self: True
reached = runtime.Engines.reach({endpoints!r}, timeout=5)  # side by side, in threads
for endpoint, engine in reached.items():
    print(endpoint, type(engine).__name__)
print("paramiko", "paramiko" in sys.modules)
"""


def test_a_stack_mixing_local_and_ssh_engines_reaches_both_side_by_side() -> None:
    done = subprocess.run([sys.executable, "-c", REACH.format(endpoints=[LOCAL, SSH])],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{LOCAL} Engine", f"{SSH} Engine", "paramiko True"]


def test_engines_without_ssh_never_load_paramiko(tmp_path: Path) -> None:
    code = ("import sys\nfrom mesostack import runtime\n"
            f"reached = runtime.Engines.reach([{LOCAL!r}, 'tcp://127.0.0.1:1', None], timeout=5)\n"
            "print(sorted(type(e).__name__ for e in reached.values()),"
            " [m for m in ('paramiko', 'invoke') if m in sys.modules])")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)
    unreachable = "'EngineUnreachable'"
    assert done.stdout.strip() == f"[{unreachable}, {unreachable}, {unreachable}] []"
