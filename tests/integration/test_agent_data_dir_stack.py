"""An agent restarted on its data_dir with other resources, end to end on the test bed, both
generations: the agent stand-in refuses to recover the agent it checkpointed there and exits 1,
as 0.23.0 slave.cpp and 1.7.1 compatibility.cpp (`--reconfiguration_policy=equal`) do, and
`up` names that cause and its fix at once instead of its crashes; the old settings put back,
the agent recovers with its old id."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from stackbed import Stack, one_error

pytestmark = pytest.mark.docker


def agent_ids(stack: Stack) -> list[str]:
    path = "/master/state" if "modern" in stack.name else "/master/state.json"
    state = requests.get(f"http://127.0.0.1:5050{path}", timeout=5).json()
    return [s["id"] for s in state["slaves"] if s.get("active")]


def test_an_agent_on_its_data_dir_with_other_resources_is_named(
        stack: Stack, tmp_path: Path) -> None:
    data = tmp_path / "agent"
    stack.config["slave"]["data_dir"] = str(data)
    stack.write()
    first = stack.cli("up")
    assert first.returncode == 0, first.stderr
    (agent,) = agent_ids(stack)
    latest = data / "meta" / "slaves" / "latest"

    stack.config["slave"]["resources"] = "cpus:1;mem:2048"
    stack.write()
    started = time.monotonic()
    refused = stack.cli("up", "--timeout", "240")
    took = time.monotonic() - started
    assert refused.returncode == 1, refused.stderr
    assert took < 90, f"up took {took:.0f} s"
    error = one_error(refused.stderr)
    assert (f"Mesos refuses to recover the agent checkpointed in {latest}, as its resources "
            "changed (cpus from 2 to 1)") in error, error
    assert f"rm -f {latest}" in refused.stderr and "put back slave.resources" in refused.stderr

    stack.config["slave"]["resources"] = "cpus:2;mem:2048"
    stack.write()
    back = stack.cli("up")
    assert back.returncode == 0, back.stderr
    assert agent_ids(stack) == [agent]  # recovered, not a new agent
    down = stack.cli("down", "--purge")
    assert down.returncode == 0, down.stderr
