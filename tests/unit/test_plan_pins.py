"""Pins what a running stack is recognised by: container names, roles, labels and config
hashes of the built-in default's, the tutorial's, the test bed's and the HA example's plans. A
change here makes `up` recreate every stack users already run, so it must be deliberate (and said
in the changelog). The tutorial's hashes are those of the releases whose default it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesostack import __version__
from mesostack.config import StackConfig, parse
from mesostack.plan import Plan, build

ROOT = Path(__file__).resolve().parents[2]

# name, role, config hash, the other labels (endpoint, host, index, data-dir) as written
PINNED: dict[str, list[tuple[str, str, str, dict[str, str]]]] = {
    "default": [
        ("mesostack-zookeeper", "zookeeper", "3b7b9e9c9ac6ec68",
         {"endpoint": "172.31.35.175:2181"}),
        ("mesostack-master", "master", "f604230b72ada870",
         {"endpoint": "172.31.35.175:5050"}),
        ("mesostack-slave", "slave", "18c28dd5809a4fa5",
         {"endpoint": "172.31.35.175:5051", "tasks": "auto"}),
        ("mesostack-marathon", "marathon", "583cb0ecc3a36db9",
         {"endpoint": "172.31.35.175:8080"}),
    ],
    "tutorial": [
        ("mesostack-zookeeper", "zookeeper", "f2680e3a5211c5fc",
         {"endpoint": "172.31.35.175:2181"}),
        ("mesostack-master", "master", "f9e302569f90e528",
         {"endpoint": "172.31.35.175:5050"}),
        ("mesostack-slave", "slave", "9e84c5f31fb5a32a",
         {"endpoint": "172.31.35.175:5051", "tasks": "docker"}),
        ("mesostack-marathon", "marathon", "c8f522ccd9879409",
         {"endpoint": "172.31.35.175:8080"}),
    ],
    "testbed": [
        ("testbed-zookeeper", "zookeeper", "fe3605ad1218b1fc",
         {"endpoint": "127.0.0.1:2181"}),
        ("testbed-master", "master", "17bceaae1d4cfe03",
         {"endpoint": "127.0.0.1:5050"}),
        ("testbed-slave", "slave", "e2daaeea8c07af93",
         {"endpoint": "127.0.0.1:5051", "tasks": "docker"}),
        ("testbed-marathon", "marathon", "afc053e8424acf30",
         {"endpoint": "127.0.0.1:8080"}),
    ],
    "ha": [
        ("ha-zookeeper-1", "zookeeper", "706eea777706e9a1",
         {"endpoint": "10.0.0.11:2181", "host": "node1", "index": "1"}),
        ("ha-zookeeper-2", "zookeeper", "7cba9b3e31d516e5",
         {"endpoint": "10.0.0.12:2181", "host": "node2", "index": "2"}),
        ("ha-zookeeper-3", "zookeeper", "e1df6c51aaf67280",
         {"endpoint": "10.0.0.13:2181", "host": "node3", "index": "3"}),
        ("ha-master-1", "master", "b2f93359ea35c904",
         {"endpoint": "10.0.0.11:5050", "host": "node1", "index": "1"}),
        ("ha-master-2", "master", "65c4c58e69cff897",
         {"endpoint": "10.0.0.12:5050", "host": "node2", "index": "2"}),
        ("ha-master-3", "master", "e8d50a8e13191ad5",
         {"endpoint": "10.0.0.13:5050", "host": "node3", "index": "3"}),
        ("ha-slave-1", "slave", "571b9d3edd7ea932",
         {"endpoint": "10.0.0.11:5051", "host": "node1", "index": "1", "tasks": "auto"}),
        ("ha-slave-2", "slave", "b765d158d90965ba",
         {"endpoint": "10.0.0.12:5051", "host": "node2", "index": "2", "tasks": "auto"}),
        ("ha-slave-3", "slave", "eafbd24bf1224e16",
         {"endpoint": "10.0.0.13:5051", "host": "node3", "index": "3", "tasks": "auto"}),
        ("ha-marathon-1", "marathon", "d409af3ec1817a7a",
         {"endpoint": "10.0.0.11:8080", "host": "node1", "index": "1"}),
        ("ha-marathon-2", "marathon", "0b1a83bcb773dd3c",
         {"endpoint": "10.0.0.12:8080", "host": "node2", "index": "2"}),
    ],
}
STACK_NAMES = {"default": "mesostack", "tutorial": "mesostack", "testbed": "testbed", "ha": "ha"}


def plan_of(which: str) -> Plan:
    if which == "default":
        return build(StackConfig(), "172.31.35.175")
    files = {"tutorial": "examples/tutorial.yaml", "testbed": "examples/testbed.yaml",
             "ha": "examples/ha-stack.yaml"}
    if which == "tutorial":
        return build(parse((ROOT / files[which]).read_text()), "172.31.35.175")
    return build(parse((ROOT / files[which]).read_text()), "127.0.0.1")


@pytest.mark.parametrize("which", sorted(PINNED))
def test_names_roles_labels_and_hashes_are_pinned(which: str) -> None:
    found = []
    for spec in plan_of(which).specs:
        labels = dict(spec.labels)
        assert labels.pop("io.mesostack.stack") == STACK_NAMES[which]
        assert labels.pop("io.mesostack.version") == __version__
        role = labels.pop("io.mesostack.role")
        assert role == spec.role.value
        digest = labels.pop("io.mesostack.config-hash")
        found.append((spec.name, role, digest,
                      {k.removeprefix("io.mesostack."): v for k, v in labels.items()}))
    assert found == PINNED[which]
