"""The component table: every role described once, and a new image family as one addition."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mesostack import components
from mesostack.components import KINDS, Family, Where
from mesostack.config import StackConfig, parse
from mesostack.plan import Role, build
from mesostack.roles import order_of, role_named


def test_every_role_is_described_and_takes_any_image_last() -> None:
    assert list(KINDS) == list(Role)
    for role, kind in KINDS.items():
        assert kind.role is role
        assert kind.families[-1].matches("registry.example:5000/anything/at-all:1")
        assert all(dep.order < role.order for dep in kind.depends_on)


def test_roles_are_named_by_value_and_alias() -> None:
    assert role_named("agent") is Role.SLAVE
    assert role_named("slave") is Role.SLAVE
    assert role_named("zk") is None
    assert [order_of(label) for label in ("marathon", "zookeeper", "task")] == [3, 0, 4]


def test_the_image_picks_its_family() -> None:
    zk = KINDS[Role.ZOOKEEPER]
    assert zk.family("zookeeper:3.9.3").name == "official"
    assert zk.family("mirror.example:5000/library/zookeeper@sha256:" + "0" * 64).name == (
        "official")
    assert zk.family("mesoscloud/zookeeper:3.4.6-ubuntu-14.04").name == "mesoscloud"


def test_a_new_family_is_one_addition_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new ZooKeeper image takes is said once, in its family; the plan follows."""

    def bitnami_like(where: Where) -> dict[str, str]:
        return {"ZOO_SERVER_ID": str(where.place.index),
                "ZOO_SERVERS": ",".join(f"{ip}:2888:3888" for ip in where.zk_ips)}

    family = Family("example", lambda image: image.startswith("example/zookeeper"),
                    bitnami_like, "ZOO_PORT_NUMBER")
    kind = KINDS[Role.ZOOKEEPER]
    monkeypatch.setitem(components.KINDS, Role.ZOOKEEPER,
                        replace(kind, families=(family, *kind.families)))
    config = parse("zookeeper: {image: 'example/zookeeper:3.9', port: 2182}\n")
    env = dict(build(config, "10.0.0.5").spec(Role.ZOOKEEPER).env)
    assert env == {"ZOO_SERVER_ID": "1", "ZOO_SERVERS": "10.0.0.5:2888:3888",
                   "ZOO_PORT_NUMBER": "2182"}
    master = dict(build(config, "10.0.0.5").spec(Role.MASTER).env)
    assert master["MESOS_ZK"] == "zk://10.0.0.5:2182/mesos"
    default = dict(build(StackConfig(), "10.0.0.5").spec(Role.ZOOKEEPER).env)
    assert default["MYID"] == "1"  # the others keep theirs
