"""Pins what a running stack is recognised by: container names, roles, labels and config
hashes of the tutorial's, the test bed's and the HA example's plans. A change here makes `up`
recreate every stack users already run, so it must be deliberate (and said in the changelog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesostack import __version__
from mesostack.config import StackConfig, parse
from mesostack.plan import Plan, build

ROOT = Path(__file__).resolve().parents[2]

# name, role, config hash, the other labels (endpoint, host, index, data-dir) as written
PINNED: dict[str, list[tuple[str, str, str, dict[str, str]]]] = {
    "tutorial": [
        ("mesostack-zookeeper", "zookeeper", "f2680e3a5211c5fc",
         {"endpoint": "172.31.35.175:2181"}),
        ("mesostack-master", "master", "f9e302569f90e528",
         {"endpoint": "172.31.35.175:5050"}),
        ("mesostack-slave", "slave", "9e84c5f31fb5a32a",
         {"endpoint": "172.31.35.175:5051"}),
        ("mesostack-marathon", "marathon", "c8f522ccd9879409",
         {"endpoint": "172.31.35.175:8080"}),
    ],
    "testbed": [
        ("testbed-zookeeper", "zookeeper", "0c40b3cf8bccc4ee",
         {"endpoint": "127.0.0.1:2181"}),
        ("testbed-master", "master", "f8db218a679a6dea",
         {"endpoint": "127.0.0.1:5050"}),
        ("testbed-slave", "slave", "4a241af597cde1e8",
         {"endpoint": "127.0.0.1:5051"}),
        ("testbed-marathon", "marathon", "1cc7b9ba9c4b9927",
         {"endpoint": "127.0.0.1:8080"}),
    ],
    "ha": [
        ("ha-zookeeper-1", "zookeeper", "dd385600aab002ce",
         {"endpoint": "10.0.0.11:2181", "host": "node1", "index": "1"}),
        ("ha-zookeeper-2", "zookeeper", "a166287f676c4abe",
         {"endpoint": "10.0.0.12:2181", "host": "node2", "index": "2"}),
        ("ha-zookeeper-3", "zookeeper", "21abcaa5a3c9cb55",
         {"endpoint": "10.0.0.13:2181", "host": "node3", "index": "3"}),
        ("ha-master-1", "master", "dd67edcc17f6d2a1",
         {"endpoint": "10.0.0.11:5050", "host": "node1", "index": "1"}),
        ("ha-master-2", "master", "600408db08666f47",
         {"endpoint": "10.0.0.12:5050", "host": "node2", "index": "2"}),
        ("ha-master-3", "master", "d73112f53ad9062d",
         {"endpoint": "10.0.0.13:5050", "host": "node3", "index": "3"}),
        ("ha-slave-1", "slave", "522838dc51b1148e",
         {"endpoint": "10.0.0.11:5051", "host": "node1", "index": "1"}),
        ("ha-slave-2", "slave", "d7384300e23a837e",
         {"endpoint": "10.0.0.12:5051", "host": "node2", "index": "2"}),
        ("ha-slave-3", "slave", "361e614f1a9f7dfc",
         {"endpoint": "10.0.0.13:5051", "host": "node3", "index": "3"}),
        ("ha-marathon-1", "marathon", "079d878cd247d348",
         {"endpoint": "10.0.0.11:8080", "host": "node1", "index": "1"}),
        ("ha-marathon-2", "marathon", "b6ff06115ee24a64",
         {"endpoint": "10.0.0.12:8080", "host": "node2", "index": "2"}),
    ],
}
STACK_NAMES = {"tutorial": "mesostack", "testbed": "testbed", "ha": "ha"}


def plan_of(which: str) -> Plan:
    if which == "tutorial":
        return build(StackConfig(), "172.31.35.175")
    files = {"testbed": "examples/testbed.yaml", "ha": "examples/ha-stack.yaml"}
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
