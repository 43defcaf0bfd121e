"""The component table: every role described once, and a new image family as one addition."""

from __future__ import annotations

import pytest

from mesostack import families
from mesostack.components import KINDS
from mesostack.config import StackConfig, parse
from mesostack.families import FAMILIES, Family, Where, family_for
from mesostack.plan import Role, build
from mesostack.roles import order_of, role_named


def test_every_role_is_described_and_takes_any_image_last() -> None:
    assert list(KINDS) == list(Role) == list(FAMILIES)
    for role, kind in KINDS.items():
        assert kind.role is role
        assert FAMILIES[role][-1].matches("registry.example:5000/anything/at-all:1")
        assert not FAMILIES[role][-1].known
        assert all(dep.order < role.order for dep in kind.depends_on)


def test_roles_are_named_by_value_and_alias() -> None:
    assert role_named("agent") is Role.SLAVE
    assert role_named("slave") is Role.SLAVE
    assert role_named("zk") is None
    assert [order_of(label) for label in ("marathon", "zookeeper", "task")] == [3, 0, 4]


@pytest.mark.parametrize(("role", "image", "family"), [
    (Role.ZOOKEEPER, "zookeeper:3.9.3", "official"),
    (Role.ZOOKEEPER, "zookeeper", "official"),
    (Role.ZOOKEEPER, "mirror.example:5000/library/zookeeper@sha256:" + "0" * 64, "official"),
    (Role.ZOOKEEPER, "zookeeper:3.4.13", "official-3.4"),
    (Role.ZOOKEEPER, "mesoscloud/zookeeper:3.4.6-ubuntu-14.04", "mesoscloud"),
    (Role.ZOOKEEPER, "127.0.0.1:5000/mesostack-test/zookeeper:testbed", "conventions"),
    (Role.MASTER, "mesoscloud/mesos-master:0.23.0-ubuntu-14.04", "mesoscloud"),
    (Role.MASTER, "mesosphere/mesos-master:1.7.1", "mesosphere"),
    (Role.SLAVE, "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04", "mesoscloud"),
    (Role.MARATHON, "mesosphere/marathon:v1.11.24", "mesosphere"),
    (Role.MARATHON, "mesosphere/marathon:v0.11.1", "mesosphere-legacy"),
    (Role.MARATHON, "my.registry/marathon:1.11", "conventions"),
])
def test_the_image_picks_its_family(role: Role, image: str, family: str) -> None:
    assert family_for(role, image).name == family


def test_a_new_family_is_one_addition_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new ZooKeeper image takes is said once, in its family; the plan follows."""

    def bitnami_like(where: Where) -> dict[str, str]:
        return {"ZOO_SERVER_ID": str(where.place.index),
                "ZOO_SERVERS": ",".join(f"{ip}:2888:3888" for ip in where.zk_ips)}

    family = Family("example", lambda image: image.startswith("example/zookeeper"),
                    bitnami_like, "ZOO_PORT_NUMBER")
    monkeypatch.setitem(families.FAMILIES, Role.ZOOKEEPER,
                        (family, *FAMILIES[Role.ZOOKEEPER]))
    config = parse("zookeeper: {image: 'example/zookeeper:3.9', port: 2182}\n")
    env = dict(build(config, "10.0.0.5").spec(Role.ZOOKEEPER).env)
    assert env == {"ZOO_SERVER_ID": "1", "ZOO_SERVERS": "10.0.0.5:2888:3888",
                   "ZOO_PORT_NUMBER": "2182"}
    master = dict(build(config, "10.0.0.5").spec(Role.MASTER).env)
    assert master["MESOS_ZK"] == "zk://10.0.0.5:2182/mesos"
    default = dict(build(StackConfig(), "10.0.0.5").spec(Role.ZOOKEEPER).env)
    assert default["ZOO_MY_ID"] == "1"  # the others keep theirs
