"""A command's fixed cost: what it imports before its first request (the engine's, or
Marathon's) is only what its path uses; a dry run imports no network library at all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the command line, then prints every module imported (whatever the exit).
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.__stderr__))
from mesostack.cli import main
main({argv!r})
"""

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Nothing of `up`'s (convergence, the readiness probes and their clients), no ZooKeeper client,
# no tables (rich) when there is no table to draw, no stack discovery when -f names the file.
NOT_UP = {"mesostack.convergence", "mesostack.probes", "mesostack.checks", "mesostack.agent_log",
          "kazoo", "rich"}
NOT_MARATHON = {"mesostack.marathon", "mesostack.mesos", "mesostack.apps"}
NOT_DISCOVERY = {"mesostack.discovery"}
NOT_NETWORK = {"requests", "urllib3", "docker", "mesostack.runtime"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def imported(argv: list[str], tmp_path: Path) -> set[str]:
    """The modules loaded by `mesostack -f STACK argv...`, run where no engine answers and
    nothing listens on the stack's Marathon port (so it stops at its first request)."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(f"name: fixed\nhost_ip: 127.0.0.1\nmarathon:\n  port: {free_port()}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "MARATHON_"))}
    env.update({"NO_COLOR": "1", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
                "MESOSTACK_FILE": ""})
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=["-f", str(stack), *argv])],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    return {name for name in modules if isinstance(name, str)}


def top_level(modules: set[str]) -> set[str]:
    """Each module and each package it belongs to (`rich.table` counts as `rich`)."""
    return {part for name in modules
            for part in (".".join(name.split(".")[:i + 1]) for i in range(name.count(".") + 1))}


@pytest.mark.parametrize(
    ("argv", "unused"),
    [
        pytest.param(["status"], NOT_UP | NOT_MARATHON | NOT_DISCOVERY, id="status"),
        pytest.param(["down"], NOT_UP | NOT_MARATHON | NOT_DISCOVERY, id="down"),
        pytest.param(["ls"], NOT_UP | NOT_MARATHON, id="ls"),
        pytest.param(["apps"], NOT_UP | NOT_DISCOVERY | {"mesostack.orchestrator",
                                                         "mesostack.mesos"}, id="apps"),
        pytest.param(["deploy", "--dry-run", str(EXAMPLES / "basic-0.json")],
                     NOT_UP | NOT_DISCOVERY | NOT_NETWORK | {"mesostack.marathon",
                                                             "mesostack.mesos"},
                     id="deploy --dry-run"),
    ],
)
def test_a_command_imports_only_what_its_path_uses(argv: list[str], unused: set[str],
                                                   tmp_path: Path) -> None:
    loaded = top_level(imported(argv, tmp_path))
    assert sorted(loaded & unused) == []


def test_the_stack_model_builds_one_validator() -> None:
    """Only the whole stack's model is validated: its sections' models are built into it,
    not each one on its own as well (they are never validated alone)."""
    code = ("from mesostack import config\n"
            "config.parse('name: x\\n', source='x')\n"
            "print(sorted(m.__name__ for m in (config.Component, config.ZooKeeper, "
            "config.Master, config.Slave, config.Marathon, config.Host, config.StackConfig) "
            "if m.__pydantic_complete__))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "['StackConfig']"
