"""Host facts against the image families, on fake engines (no Docker): the CPU architecture,
schema-1 pulls by engine version, what image inspect gives a stock Mesos agent
(ContainerConfig), the agents' bundled Docker clients, and families known by an image's own
config."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from test_checks import SCHEMA1_DEPRECATED

from fakes import FakeClock, FakeEngine
from fakes import engine_facts as facts
from mesostack import checks, families, hostinfo
from mesostack.checks import Check, Verdict
from mesostack.config import StackConfig
from mesostack.families import Known, family_for, identify, recognise
from mesostack.orchestrator import PreflightFailed, UpSettings, up
from mesostack.plan import ContainerSpec, Plan, Role, build
from mesostack.runtime import Engine, Engines, ImageConfig, ImageUnavailable

ENDPOINT = "unix:///var/run/docker.sock"
TUTORIAL = {"zookeeper": "mesoscloud/zookeeper:3.4.6-ubuntu-14.04",
            "master": "mesoscloud/mesos-master:0.23.0-ubuntu-14.04",
            "slave": "mesoscloud/mesos-slave:0.23.0-ubuntu-14.04",
            "marathon": "mesosphere/marathon:v0.11.1"}
ZK, TUTORIAL_MASTER = TUTORIAL["zookeeper"], TUTORIAL["master"]
CURRENT = {"zookeeper": "zookeeper:3.9.3", "master": "mesosphere/mesos-master:1.7.1",
           "slave": "mesosphere/mesos-slave:1.7.1", "marathon": "mesosphere/marathon:v1.11.24"}
DOCKER_AGENT = "slave:\n  image: mesosphere/mesos-slave:1.7.1\n  env: {MESOS_CONTAINERIZERS: " \
               "'docker,mesos'}\n"


@pytest.fixture(autouse=True)
def _no_host_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's addresses and ports are not what these tests are about."""
    monkeypatch.setattr(hostinfo, "is_local_address", lambda _ip: True)
    monkeypatch.setattr(hostinfo, "port_in_use", lambda _ip, _port: False)


def plan(text: str = "", *, images: dict[str, str] = TUTORIAL) -> Plan:
    """The stack file `text`, each image it leaves out one of `images` (named here, not left to
    the built-in default)."""
    document = {"host_ip": "127.0.0.1", **(yaml.safe_load(text) or {})}
    for role, image in images.items():
        document.setdefault(role, {}).setdefault("image", image)
    return build(StackConfig.model_validate(document), "127.0.0.1")


def modern() -> Plan:
    """The current images, the agent with the Docker containerizer."""
    return plan(DOCKER_AGENT, images=CURRENT)


def host_rows(engine: FakeEngine, stack: Plan) -> list[Check]:
    return checks.host_images(engine.info, stack, checks.inspector(engine))


def up_on(engine: FakeEngine, stack: Plan) -> None:
    up(stack, engines=Engines({None: engine}), settings=UpSettings(timeout=30, clock=FakeClock()))


# --- what the engine says ----------------------------------------------------------------------


def test_the_engine_reports_its_architecture_and_its_image_store() -> None:
    def engine(driver_status: list[list[str]]) -> Engine:
        client = SimpleNamespace(
            info=lambda: {"Architecture": "aarch64", "CgroupVersion": "2",
                          "DriverStatus": driver_status},
            version=lambda: {"Version": "29.1.3", "ApiVersion": "1.52", "MinAPIVersion": "1.44"})
        return Engine(client, ENDPOINT)

    containerd = engine([["driver-type", "io.containerd.snapshotter.v1"]]).facts()
    assert (containerd.architecture, containerd.containerd_store) == ("aarch64", True)
    overlay = engine([["Backing Filesystem", "extfs"], ["Supports d_type", "true"]]).facts()
    assert not overlay.containerd_store


def test_an_image_s_own_config_is_read_from_its_inspect() -> None:
    """What `docker image inspect` shows of releases/1.11's Marathon image."""
    inspected = {"Architecture": "amd64", "Config": {
        "Env": ["PATH=/usr/bin", "JAVA_HOME=/docker-java-home"], "User": "nobody",
        "Entrypoint": ["/marathon/bin/marathon"], "Cmd": None}}
    engine = Engine(SimpleNamespace(api=SimpleNamespace(inspect_image=lambda ref: inspected)),
                    ENDPOINT)
    assert engine.image_config("mesosphere/marathon:v1.11.24") == ImageConfig(
        env={"PATH": "/usr/bin", "JAVA_HOME": "/docker-java-home"},
        entrypoint=("/marathon/bin/marathon",), cmd=(), user="nobody", architecture="amd64")
    assert engine.image_env("mesosphere/marathon:v1.11.24") == {
        "PATH": "/usr/bin", "JAVA_HOME": "/docker-java-home"}
    assert FakeEngine().image_config("absent:1") is None


# --- architecture ------------------------------------------------------------------------------


def test_images_published_for_amd64_only_fail_on_an_arm64_host() -> None:
    arm = FakeEngine(info=facts(architecture="aarch64"))
    rows = [r for r in host_rows(arm, plan()) if r.name == "architecture"]
    assert [r.verdict for r in rows] == [Verdict.FAIL] * 4
    assert rows[0].found == (f"image {ZK} is published for amd64 only and the engine at "
                             f"{ENDPOINT} runs on aarch64 (arm64)")
    assert rows[0].fix == ("run the stack on an amd64 host, or use an image built for arm64 (with "
                           "`family:` saying what it is)")
    # the official ZooKeeper image is published for arm64 too (library/zookeeper)
    assert [r.found.split()[1] for r in host_rows(arm, modern()) if r.name == "architecture"] == [
        CURRENT[role] for role in ("master", "slave", "marathon")]
    assert host_rows(FakeEngine(info=facts(server_version="20.10.24")), plan()) == []  # x86_64


def test_an_image_on_the_engine_is_judged_by_its_own_architecture() -> None:
    master = "mesosphere/mesos-master:1.7.1"
    arm = FakeEngine(info=facts(architecture="aarch64"), images={master: "sha256:m"},
                     image_configs={master: ImageConfig(architecture="arm64")})
    stack = plan(f"master: {{image: '{master}'}}\n")
    assert master not in " ".join(r.found for r in host_rows(arm, stack))
    arm.image_configs[master] = ImageConfig(architecture="amd64")
    [row] = [r for r in host_rows(arm, stack) if master in r.found]
    assert row.found.startswith(f"image {master} is built for amd64 only")
    assert "runs on aarch64 (arm64)" in row.found


def test_up_refuses_an_image_of_another_architecture_before_pulling_or_creating() -> None:
    arm = FakeEngine(info=facts(architecture="aarch64"))
    with pytest.raises(PreflightFailed) as refused:
        up_on(arm, plan())
    assert str(refused.value).startswith(f"image {ZK} is published for amd64 only")
    assert arm.called("pull") == [] and arm.called("create_and_start") == []


def test_doctor_shows_the_architecture_failure() -> None:
    arm = FakeEngine(info=facts(architecture="aarch64"))
    rows = [r for r in checks.doctor(plan(), Engines({None: arm})) if r.name == "architecture"]
    assert [(r.verdict, r.found.split()[1]) for r in rows] == [
        (Verdict.FAIL, image) for image in TUTORIAL.values()]


# --- schema 1 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "schema1"), [
    ("mesoscloud/zookeeper:3.4.6-ubuntu-14.04", True),
    ("mesoscloud/zookeeper:3.4.8", False),  # created on 2016-04-26
    ("mesoscloud/mesos-master:0.23.0-ubuntu-14.04", True),
    ("mesoscloud/mesos-slave:0.22.1-ubuntu-14.04", True),
    ("mesoscloud/mesos-slave:0.28.1", False),
    ("mesosphere/marathon:v0.11.1", True),
    ("mesosphere/marathon:v0.15.0", True),  # tagged 2016-02-01
    ("mesosphere/marathon:v0.14.1", True),  # 2016-01-27
    ("mesosphere/marathon:v0.15.1", False),  # 2016-02-08, after Docker 1.10
    ("mesosphere/marathon:v0.14.2", False),  # 2016-02-12
    ("mesosphere/marathon:v0.14.3", False),  # 2016-07-18
    ("mesosphere/marathon:v1.11.24", False),
    ("mesosphere/marathon:latest", False),
    ("mesosphere/mesos-slave:1.7.1", False),
    ("zookeeper:3.4.13", False),
])
def test_which_tags_are_schema1(image: str, schema1: bool) -> None:
    role = next(r for r in Role if r.value in image)
    assert family_for(role, image).schema1(image) is schema1


@pytest.mark.parametrize(("version", "verdict"), [
    ("20.10.24+dfsg1", None), ("25.0.5", None), ("26.0.0", Verdict.WARN),
    ("28.1.1", Verdict.WARN), ("28.2.0", Verdict.FAIL), ("29.1.3", Verdict.FAIL)])
def test_schema1_images_not_pulled_yet_by_the_engine_s_version(version: str,
                                                               verdict: Verdict | None) -> None:
    engine = FakeEngine(info=facts(server_version=version))
    rows = [r for r in host_rows(engine, plan()) if r.name == "schema 1"]
    assert [r.verdict for r in rows] == ([verdict] * 4 if verdict else [])
    if verdict is Verdict.WARN:
        assert rows[0].found == (f"image {ZK} has a schema-1 manifest, which Docker "
                                 f"{version} at {ENDPOINT} pulls only when its daemon runs with "
                                 "DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE=1")
        assert rows[0].fix.startswith("set it in dockerd's environment, or use the built-in")
    if verdict is Verdict.FAIL:
        assert rows[0].found == (f"image {ZK} has a schema-1 manifest, which Docker "
                                 f"{version} at {ENDPOINT} can't pull (support removed in 28.2)")
    engine.images.update({image: "sha256:here" for image in TUTORIAL.values()})
    assert [r for r in host_rows(engine, plan()) if r.name == "schema 1"] == []


def test_up_on_28_2_refuses_schema1_before_pulling_and_on_26_tries_the_pull() -> None:
    removed = FakeEngine(info=facts(server_version="28.2.0"))
    with pytest.raises(PreflightFailed) as refused:
        up_on(removed, plan())
    assert str(refused.value).startswith(f"image {ZK} has a schema-1 manifest, which "
                                         "Docker 28.2.0")
    assert removed.called("pull") == [] and removed.called("create_and_start") == []
    deprecated = FakeEngine(registry={ZK: SCHEMA1_DEPRECATED})  # Docker 26.1.0
    with pytest.raises(ImageUnavailable):
        up_on(deprecated, plan())
    assert ZK in deprecated.called("pull")


def test_doctor_asks_no_registry_about_a_schema1_image_28_2_cant_pull() -> None:
    engine = FakeEngine(info=facts(server_version="28.2.0"))
    checks.doctor(plan(), Engines({None: engine}))
    assert engine.called("registry_problem") == []
    older = FakeEngine(registry={ZK: SCHEMA1_DEPRECATED})
    rows = [r for r in checks.doctor(plan(), Engines({None: older}))
            if ZK in r.found and r.name != "family"]
    assert [(r.name, r.verdict) for r in rows] == [("schema 1", Verdict.WARN),
                                                   ("image", Verdict.FAIL)]
    assert older.called("registry_problem") == list(TUTORIAL.values())


# --- the agents' Docker clients and ContainerConfig --------------------------------------------


def agent_rows(info: dict[str, Any], stack: Plan) -> list[Check]:
    """The agents' rows but the cgroups' (cgroup v1 here)."""
    return [r for r in checks.agents(facts(**info), stack, checks.family_env)
            if r.name != "cgroups"]


def test_the_mesosphere_agent_s_docker_client_is_judged_by_its_api() -> None:
    """docker-engine 17.05 (apt.dockerproject.org's last) speaks API 1.29: Docker 29.0 accepts
    1.44 and later, 29.3 1.40 and later, 25-28 1.24 and later."""
    assert family_for(Role.SLAVE, "mesosphere/mesos-slave:1.7.1").docker_api == (1, 29)
    for version, floor in (("29.0.0", "1.44"), ("29.3.0", "1.40")):
        [row] = agent_rows({"server_version": version, "min_api_version": floor}, modern())
        assert row.verdict is Verdict.FAIL and row.name == "docker client"
        assert f"client speaks API 1.29; the engine at {ENDPOINT} (Docker {version}) accepts " \
               f"{floor} and later" in row.found
    assert agent_rows({"server_version": "28.5.1", "min_api_version": "1.24"}, modern()) == []


def test_an_agent_s_docker_apps_fail_where_image_inspect_has_no_container_config() -> None:
    store = {"server_version": "28.5.1", "api_version": "1.51", "min_api_version": "1.24",
             "containerd_store": True}
    [row] = agent_rows(store, modern())
    assert (row.name, row.verdict) == ("ContainerConfig", Verdict.WARN)
    assert row.found == (
        "mesostack-slave: mesosphere/mesos-slave:1.7.1's Docker containerizer reads an image's "
        "entrypoint from image inspect's ContainerConfig, which Docker 28.5.1 at "
        f"{ENDPOINT} leaves out with its containerd image store: its DOCKER apps fail "
        "(\"Unable to find 'ContainerConfig.Entrypoint'\")")
    assert '"containerd-snapshotter": false' in row.fix and "command apps only" in row.fix
    # 26 and 27 send an empty ContainerConfig to clients below 1.45; a graph driver the image's
    assert agent_rows({**store, "server_version": "27.5.1", "api_version": "1.47"}, modern()) == []
    assert agent_rows({**store, "containerd_store": False}, modern()) == []
    # no Docker containerizer, or no stock Mesos agent: nothing to say
    assert agent_rows(store, plan("slave: {image: 'mesosphere/mesos-slave:1.7.1', "
                                  "tasks: command}\n")) == []
    assert agent_rows(store, plan("slave: {image: 'me/agent:1', env: {MESOS_CONTAINERIZERS: "
                                  "'docker,mesos'}}\n")) == []


def test_a_client_from_api_1_45_gets_no_container_config(monkeypatch: pytest.MonkeyPatch) -> None:
    mesoscloud, mesosphere, rest = families.AGENT[0], families.AGENT[1], families.AGENT[2:]
    newer = dataclasses.replace(mesosphere, docker_api=(1, 47))
    monkeypatch.setitem(families.FAMILIES, Role.SLAVE, (mesoscloud, newer, *rest))
    [row] = agent_rows({"server_version": "26.1.0", "api_version": "1.45"}, modern())
    assert "Docker 26.1.0 at" in row.found and "leaves out for API 1.45 clients" in row.found
    assert row.fix.startswith("give the agent a Docker client below API 1.45")
    assert agent_rows({"server_version": "20.10.24", "api_version": "1.41"}, modern()) == []


def test_the_tutorial_agent_refused_for_its_client_gets_one_row_not_two() -> None:
    rows = agent_rows({"server_version": "28.5.1", "api_version": "1.51",
                       "min_api_version": "1.24", "containerd_store": True}, plan())
    assert [r.name for r in rows] == ["docker client"]


# --- families known by an image's own config --------------------------------------------------


ZK_39 = ImageConfig(env={"ZOO_CONF_DIR": "/conf",
                         "PATH": "/usr/bin:/apache-zookeeper-3.9.4-bin/bin"},
                    entrypoint=("/docker-entrypoint.sh",), cmd=("zkServer.sh", "start-foreground"))


@pytest.mark.parametrize(("role", "config", "family"), [
    # 31z4/zookeeper-docker 3.9.4/Dockerfile; 3.4.14/Dockerfile (PATH /zookeeper-3.4.14/bin)
    (Role.ZOOKEEPER, ZK_39, "official"),
    (Role.ZOOKEEPER, dataclasses.replace(ZK_39, env={"ZOO_CONF_DIR": "/conf",
                                                     "PATH": "/bin:/zookeeper-3.4.14/bin"}),
     "official-3.4"),
    # mesoscloud/zookeeper 3.4.6 (2015) and 3.4.8 (2016, behind dumb-init)
    (Role.ZOOKEEPER, ImageConfig(entrypoint=("/entrypoint.sh",),
                                 cmd=("zkServer.sh", "start-foreground")), "mesoscloud"),
    (Role.ZOOKEEPER, ImageConfig(entrypoint=("/usr/local/bin/dumb-init", "/entrypoint.sh"),
                                 cmd=("zkServer.sh", "start-foreground")), "mesoscloud"),
    # mesoscloud/mesos-master and -slave 0.23.0's Dockerfiles
    (Role.MASTER, ImageConfig(entrypoint=("/entrypoint.sh",), cmd=("/usr/sbin/mesos-master",),
                              env={"MESOS_WORK_DIR": "/tmp/mesos"}), "mesoscloud"),
    (Role.SLAVE, ImageConfig(entrypoint=("/entrypoint.sh",), cmd=("/usr/sbin/mesos-slave",),
                             env={"MESOS_CONTAINERIZERS": "docker,mesos"}), "mesoscloud"),
    (Role.SLAVE, ImageConfig(entrypoint=("/entrypoint.sh",), cmd=("/usr/sbin/mesos-slave",)),
     None),
    # mesosphere-backup/docker-containers mesos/dockerfile-templates/mesos-master, -slave
    (Role.MASTER, ImageConfig(entrypoint=("mesos-master",), cmd=("--registry=in_memory",)),
     "mesosphere"),
    (Role.SLAVE, ImageConfig(entrypoint=("mesos-slave",)), "mesosphere"),
    (Role.MASTER, ImageConfig(entrypoint=("mesos-slave",)), None),
    # mesosphere/marathon releases/1.11 Dockerfile; v0.11.1 Dockerfile; v1.5.0 build.sbt
    (Role.MARATHON, ImageConfig(entrypoint=("/marathon/bin/marathon",), user="nobody"),
     "mesosphere"),
    (Role.MARATHON, ImageConfig(entrypoint=("./bin/start",)), "mesosphere-legacy"),
    (Role.MARATHON, ImageConfig(entrypoint=("bin/marathon",), user="daemon"),
     "mesosphere-legacy"),
    # nginx's own /docker-entrypoint.sh sets no ZOO_CONF_DIR
    (Role.ZOOKEEPER, ImageConfig(entrypoint=("/docker-entrypoint.sh",), cmd=("nginx",)), None),
])
def test_a_family_is_recognised_by_its_images_own_config(role: Role, config: ImageConfig,
                                                         family: str | None) -> None:
    found = recognise(role, config)
    assert (found.name if found else None) == family


def test_a_family_is_known_by_key_then_name_then_config() -> None:
    assert identify(Role.ZOOKEEPER, "me/zk:1", chosen="official", config=None)[1] is Known.KEY
    assert identify(Role.ZOOKEEPER, "zookeeper:3.9", config=ZK_39)[1] is Known.NAME
    found, how = identify(Role.ZOOKEEPER, "me/zk:1", config=ZK_39)
    assert (found.name, how) == ("official", Known.CONFIG)
    found, how = identify(Role.ZOOKEEPER, "me/zk:1", config=ImageConfig())
    assert (found.name, how) == ("conventions", Known.NOT)


def test_doctor_says_each_component_s_family_and_how_it_was_known() -> None:
    stack = plan("zookeeper: {image: 'registry.local/zk:1'}\n"
                 "slave: {image: 'me/agent:1', family: mesosphere}\n"
                 "marathon: {image: 'me/marathon:1'}\n")
    engine = FakeEngine(images={"registry.local/zk:1": "sha256:z"},
                        image_configs={"registry.local/zk:1": ZK_39})
    asked: list[str] = []

    def lookup(spec: ContainerSpec) -> ImageConfig | None:
        asked.append(spec.image)
        return engine.image_config(spec.image)

    rows = checks.families(stack, lookup)
    assert [(r.verdict, r.found.split(" (")[0], r.found.split(" (")[1].split(")")[0])
            for r in rows] == [
        (Verdict.OK, "zookeeper: registry.local/zk:1: official", "by its image's own config"),
        (Verdict.OK, f"master: {TUTORIAL_MASTER}: mesoscloud", "by its image's name"),
        (Verdict.OK, "slave: me/agent:1: mesosphere", "by its `family:` key"),
        (Verdict.INFO, "marathon: me/marathon:1: conventions",
         "not known: treated by the role's conventions"),
    ]
    assert rows[0].fix == ("`up` treats it so once the image is on the engine; "
                           "`zookeeper.family: official` says it for `config` and --dry-run too")
    assert rows[3].fix == ("if it is one of mesosphere, mesosphere-legacy, say so with "
                           "`marathon.family:`")
    assert asked == ["registry.local/zk:1", "me/marathon:1"]  # the name or key said the rest
    in_doctor = [r for r in checks.doctor(stack, Engines({None: engine})) if r.name == "family"]
    assert in_doctor == rows
