"""README's "What runs where" table says what `doctor` finds on each kind of engine: its rows
are checked against doctor's verdicts on fake engines of those kinds (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FakeEngine
from fakes import engine_facts as facts
from mesostack import checks
from mesostack.checks import Verdict
from mesostack.config import parse
from mesostack.plan import Plan, build
from mesostack.runtime import EngineFacts, Engines

README = Path(__file__).resolve().parents[2] / "README.md"

ENGINES: dict[tuple[str, str], EngineFacts] = {
    ("20.10", "v1"): facts(server_version="20.10.24", api_version="1.41", min_api_version="1.12"),
    ("26.1", "v1"): facts(server_version="26.1.5", api_version="1.45", min_api_version="1.24"),
    ("28.5", "v2"): facts(server_version="28.5.1", api_version="1.51", min_api_version="1.24",
                          cgroup_version="2"),
    ("29.1", "v2"): facts(server_version="29.1.3", api_version="1.52", min_api_version="1.44",
                          cgroup_version="2", containerd_store=True),
}
IMAGES = {  # by role: the current images, and the tutorial's
    "zookeeper": ("zookeeper:3.9.3", "mesoscloud/zookeeper:3.4.6-ubuntu-14.04"),
    "master": ("mesosphere/mesos-master:1.7.1", "mesoscloud/mesos-master:0.23.0-ubuntu-14.04"),
    "slave": ("mesosphere/mesos-slave:1.7.1", "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04"),
    "marathon": ("mesosphere/marathon:v1.11.24", "mesosphere/marathon:v0.11.1"),
}
DOCKER_APPS = "  privileged: true\n  env: {MESOS_CONTAINERIZERS: 'docker,mesos'}\n"
COMMAND_APPS = ("  privileged: false\n  env: {MESOS_CONTAINERIZERS: mesos, MESOS_LAUNCHER: posix, "
                "MESOS_ISOLATION: 'posix/cpu,posix/mem', MESOS_SYSTEMD_ENABLE_SUPPORT: 'false'}\n")
ON_THIS_MACHINE = ("port", "host", "disk")  # doctor's look at the machine running the test


def table() -> dict[tuple[str, str], tuple[str, str]]:
    """The table's rows: (engine, cgroup) -> (current images, the tutorial's), each cell's
    verdict without its parenthesis."""
    text = README.read_text(encoding="utf-8").split("## What runs where", 1)[1]
    lines = [line for line in text.split("\n## ", 1)[0].splitlines() if line.startswith("| ")]
    rows = {}
    for line in lines[1:]:  # the header
        engine, cgroup, current, tutorial = (cell.strip() for cell in line.strip("|").split("|"))
        rows[(engine, cgroup)] = (current.split(" (")[0], tutorial.split(" (")[0])
    return rows


def stack(agent: str, *, tutorial: bool) -> Plan:
    images = {role: pair[tutorial] for role, pair in IMAGES.items()}
    text = "host_ip: 127.0.0.1\n" + "".join(
        f"{role}: {{image: '{image}'}}\n" for role, image in images.items() if role != "slave")
    text += f"slave:\n  image: '{images['slave']}'\n" + agent
    return build(parse(text), "127.0.0.1")


def passes(info: EngineFacts, plan: Plan) -> bool:
    """Whether doctor finds nothing blocking on an engine with these facts (images not pulled
    yet, its registry answering for every one)."""
    rows = checks.doctor(plan, Engines({None: FakeEngine(info=info)}))
    return not any(r.verdict is Verdict.FAIL for r in rows if not r.name.startswith(
        ON_THIS_MACHINE))


def what_runs(info: EngineFacts, *, tutorial: bool) -> str:
    if passes(info, stack(DOCKER_APPS, tutorial=tutorial)):
        return "Docker apps"
    if passes(info, stack(COMMAND_APPS, tutorial=tutorial)):
        return "command apps only"
    return "nothing"


def test_the_table_has_a_row_for_each_kind_of_engine() -> None:
    assert list(table()) == list(ENGINES)


@pytest.mark.parametrize("kind", list(ENGINES), ids=lambda kind: "/".join(kind))
def test_each_row_is_what_doctor_says(kind: tuple[str, str]) -> None:
    current, tutorial = table()[kind]
    assert what_runs(ENGINES[kind], tutorial=False) == current
    assert what_runs(ENGINES[kind], tutorial=True) == tutorial
