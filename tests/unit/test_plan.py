"""The plan is pure: env, mounts, labels, start order and the `--dry-run` text from a config."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from mesostack import __version__
from mesostack.config import StackConfig, parse
from mesostack.plan import LABEL_HASH, Role, build, docker_run, dry_run, is_official_zookeeper

TUTORIAL_IP = "172.31.35.175"
GOLDEN = Path(__file__).parent / "golden" / "tutorial-dry-run.txt"

# The tutorial's four commands, verbatim (../shared/design/tutorial.md).
TUTORIAL = [
    "docker run -d -e MYID=1 -e SERVERS=172.31.35.175 --name=zookeeper --net=host "
    "--restart=always mesoscloud/zookeeper:3.4.6-ubuntu-14.04",
    "docker run -d -e MESOS_HOSTNAME=172.31.35.175 -e MESOS_IP=172.31.35.175 -e MESOS_QUORUM=1 "
    "-e MESOS_ZK=zk://172.31.35.175:2181/mesos --name mesos-master --net host --restart always "
    "mesoscloud/mesos-master:0.23.0-ubuntu-14.04",
    "docker run -d -e MESOS_HOSTNAME=172.31.35.175 -e MESOS_IP=172.31.35.175 "
    "-e MESOS_MASTER=zk://172.31.35.175:2181/mesos -v /sys/fs/cgroup:/sys/fs/cgroup "
    "-v /var/run/docker.sock:/var/run/docker.sock --name mesos-slave --net host --privileged "
    "--restart always mesoscloud/mesos-slave:0.23.0-ubuntu-14.04",
    "docker run -d -e MARATHON_HOSTNAME=172.31.35.175 -e MARATHON_HTTPS_ADDRESS=172.31.35.175 "
    "-e MARATHON_HTTP_ADDRESS=172.31.35.175 -e MARATHON_MASTER=zk://172.31.35.175:2181/mesos "
    "-e MARATHON_ZK=zk://172.31.35.175:2181/marathon --name marathonv0.11.1 --net host "
    "--restart always mesosphere/marathon:v0.11.1",
]
# What we add on purpose, and nothing else: each container named `<name>-<role>` (the default
# stack name), our labels, the variable keeping ZooKeeper 3.5+ off :8080, and the work
# directories Mesos 1.x requires (0.23's own defaults).
STACK = "mesostack"
ROLES = ("zookeeper", "master", "slave", "marathon")  # the tutorial's commands, in order
ENDPOINT_PORTS = {"zookeeper": 2181,  # in the tutorial's zk:// addresses
                  "master": 5050, "marathon": 8080,  # the tutorial's two UIs
                  "slave": 5051}  # the agent's own default port
ADDED_ENV = {"zookeeper": ["ZOO_ADMINSERVER_ENABLED=false"],
             "master": ["MESOS_WORK_DIR=/var/lib/mesos"], "slave": ["MESOS_WORK_DIR=/tmp/mesos"],
             "marathon": []}
EXTRA_ENV = {setting for added in ADDED_ENV.values() for setting in added}


def settings(command: str) -> dict[str, Any]:
    """A `docker run` line as comparable settings (flag spellings normalised)."""
    args = shlex.split(command)[2:]
    found: dict[str, Any] = {"env": set(), "mounts": [], "labels": {}, "privileged": False}
    i = 0
    while i < len(args):
        arg = args[i]
        key, _, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        value = inline or (args[i + 1] if i + 1 < len(args) else "")
        step = 1 if inline else 2
        if key == "-d":
            found["detach"], step = True, 1
        elif key == "--privileged":
            found["privileged"], step = True, 1
        elif key == "-e":
            found["env"].add(value)
        elif key == "-v":
            found["mounts"].append(value)
        elif key == "--label":
            name, _, label = value.partition("=")
            found["labels"][name] = label
        elif key in ("--name", "--net", "--restart"):
            found[key.lstrip("-")] = value
        elif key.startswith("-"):
            raise AssertionError(f"unexpected flag {arg}")
        else:
            found["image"], step = arg, 1
        i += step
    return found


def words_of(command: str) -> list[str]:
    """A command's words, `--flag=value` split in two (the tutorial spells it both ways)."""
    return [part for word in shlex.split(command)
            for part in (word.split("=", 1) if word.startswith("--") else [word])]


def from_the_tutorial(index: int) -> str:
    """The tutorial's command `index` with the named additions only, in `--dry-run`'s layout:
    name, labels, env (the tutorial's order, then ours), mounts, network, privileges, restart
    policy, image. The config hash and our version stand as `<hash>` and `<version>`."""
    role, words = ROLES[index], words_of(TUTORIAL[index])

    def values(flag: str) -> list[str]:
        return [words[i + 1] for i, word in enumerate(words) if word == flag]

    assert words[:3] == ["docker", "run", "-d"]
    labels = {"stack": STACK, "role": role, "config-hash": "<hash>",
              "endpoint": f"{TUTORIAL_IP}:{ENDPOINT_PORTS[role]}"}
    if role == "slave":
        labels["tasks"] = "docker"  # the tutorial's agent runs Docker tasks
    labels["version"] = "<version>"
    line = ["docker", "run", "-d", "--name", f"{STACK}-{role}"]
    for key, value in labels.items():
        line += ["--label", f"io.mesostack.{key}={value}"]
    for setting in values("-e") + ADDED_ENV[role]:
        line += ["-e", setting]
    for mount in values("-v"):
        line += ["-v", mount]
    line += ["--net", *values("--net")]
    line += ["--privileged"] if "--privileged" in words else []
    line += ["--restart", *values("--restart"), words[-1]]
    # shell-quoted as --dry-run prints it; the placeholders stand for values that need no quotes
    return " ".join(word if "=<" in word else shlex.quote(word) for word in line)


def tutorial_golden() -> str:
    """The golden dry-run text, derived from the tutorial (tests/unit/golden/derive.py writes
    it to GOLDEN)."""
    return "".join(from_the_tutorial(index) + "\n" for index in range(len(TUTORIAL)))


ROOT = Path(__file__).resolve().parents[2]
TUTORIAL_FILE = ROOT / "examples" / "tutorial.yaml"  # `mesostack init --preset tutorial`


def tutorial_plan() -> str:
    text = TUTORIAL_FILE.read_text().replace("host_ip: auto", f"host_ip: {TUTORIAL_IP}")
    return dry_run(build(parse(text), TUTORIAL_IP))


def masked_plan() -> str:
    masked = re.sub(r"config-hash=[0-9a-f]{16}", "config-hash=<hash>", tutorial_plan())
    return masked.replace(f"version={__version__}", "version=<version>")


def test_the_golden_text_is_the_tutorial_plus_the_named_additions() -> None:
    assert GOLDEN.read_text() == tutorial_golden(), (
        f"{GOLDEN} is not what tests/unit/golden/derive.py derives from the tutorial")


def test_dry_run_matches_the_golden_text() -> None:
    assert masked_plan() == GOLDEN.read_text()


@pytest.mark.parametrize("index", range(4))
def test_each_line_has_the_golden_lines_settings(index: int) -> None:
    ours = settings(masked_plan().splitlines()[index])
    expected = settings(from_the_tutorial(index))
    for key, value in expected.items():
        assert ours[key] == value, key
    assert ours == expected


@pytest.mark.parametrize("index", range(4))
def test_each_line_carries_every_setting_of_the_tutorials_command(index: int) -> None:
    ours = settings(tutorial_plan().splitlines()[index])
    theirs = settings(TUTORIAL[index])
    assert ours["env"] - EXTRA_ENV == theirs["env"]
    for key in ("detach", "mounts", "privileged", "net", "restart", "image"):
        assert ours[key] == theirs[key], key
    assert ours["name"] == f"{STACK}-{ROLES[index]}"
    assert ours["labels"]["io.mesostack.stack"] == STACK


def test_start_order_and_stages() -> None:
    plan = build(StackConfig(), "10.0.0.5")
    assert [s.role for s in plan.specs] == list(Role)
    assert [[s.role for s in stage] for stage in plan.stages()] == [
        [Role.ZOOKEEPER], [Role.MASTER], [Role.SLAVE, Role.MARATHON]]


def test_user_env_overrides_and_adds() -> None:
    config = parse("master:\n  env:\n    MESOS_QUORUM: 1\n    MESOS_LOGGING_LEVEL: WARNING\n")
    env = dict(build(config, "10.0.0.5").spec(Role.MASTER).env)
    assert env["MESOS_LOGGING_LEVEL"] == "WARNING"
    assert env["MESOS_IP"] == "10.0.0.5"


def test_ports_resources_and_data_dirs() -> None:
    config = parse(
        "zookeeper: {image: example/zookeeper, port: 2182, data_dir: /srv/zk}\n"
        "master: {port: 5060, data_dir: /srv/master}\n"
        "slave: {port: 5061, resources: 'cpus:2;mem:2048', data_dir: /srv/agent,"
        " volumes: ['/etc/hosts:/etc/hosts:ro', '/run/docker.sock:/var/run/docker.sock']}\n"
        "marathon: {port: 8090}\n"
    )
    plan = build(config, "10.0.0.5")
    zk, master, agent, marathon = plan.specs
    assert dict(zk.env)["ZOO_PORT"] == "2182"
    assert [str(m) for m in zk.mounts] == ["/srv/zk:/tmp/zookeeper"]
    assert dict(master.env)["MESOS_ZK"] == "zk://10.0.0.5:2182/mesos"
    assert dict(master.env)["MESOS_PORT"] == "5060"
    assert dict(master.env)["MESOS_WORK_DIR"] == "/var/lib/mesos"
    assert dict(agent.env)["MESOS_RESOURCES"] == "cpus:2;mem:2048"
    assert dict(agent.env)["MESOS_WORK_DIR"] == "/srv/agent"
    # the user's docker.sock mount replaces the built-in one (same container path)
    assert [str(m) for m in agent.mounts] == [
        "/sys/fs/cgroup:/sys/fs/cgroup", "/srv/agent:/srv/agent", "/etc/hosts:/etc/hosts:ro",
        "/run/docker.sock:/var/run/docker.sock"]
    assert dict(marathon.env)["MARATHON_HTTP_PORT"] == "8090"
    assert marathon.endpoint == "10.0.0.5:8090"
    assert agent.data_dir == "/srv/agent"
    assert "-v /etc/hosts:/etc/hosts:ro" in docker_run(agent)


def test_a_change_reaches_the_hash_of_what_depends_on_it() -> None:
    base = build(StackConfig(), "10.0.0.5")
    changed = build(parse("master:\n  env: {MESOS_LOGGING_LEVEL: INFO}\n"), "10.0.0.5")
    before = {s.role: dict(s.labels)[LABEL_HASH] for s in base.specs}
    after = {s.role: dict(s.labels)[LABEL_HASH] for s in changed.specs}
    assert before[Role.ZOOKEEPER] == after[Role.ZOOKEEPER]
    assert all(before[r] != after[r] for r in (Role.MASTER, Role.SLAVE, Role.MARATHON))
    assert build(StackConfig(), "10.0.0.5") == base  # the same input, the same plan


def test_values_are_quoted_for_the_shell() -> None:
    config = parse("marathon:\n  env:\n    JAVA_OPTS: -Xmx512m -Dx='y'\n")
    line = docker_run(build(config, "10.0.0.5").spec(Role.MARATHON))
    assert settings(line)["env"] >= {"JAVA_OPTS=-Xmx512m -Dx='y'"}


def test_the_repositorys_stack_file_is_the_built_in_default() -> None:
    root = ROOT
    assert parse((root / "stack.yaml").read_text()) == StackConfig()
    testbed = parse((root / "examples" / "testbed.yaml").read_text())
    assert testbed.host_ip == "127.0.0.1" and testbed.slave.privileged is False
    assert all(testbed.component(r.value).image.startswith("127.0.0.1:5000/") for r in Role)


HA = """
hosts:
  - {name: n1, ip: 10.0.0.1}
  - {name: n2, ip: 10.0.0.2, docker: "ssh://root@10.0.0.2"}
  - {name: n3, ip: 10.0.0.3, docker: "tcp://10.0.0.3:2376"}
zookeeper: {count: 3}
master: {count: 3}
slave: {on: [n2, n3]}
marathon: {on: [n1, n2]}
"""


def test_an_ha_stack_lists_the_whole_ensemble_everywhere() -> None:
    plan = build(parse(HA), "ignored")
    names = [s.name for s in plan.specs]
    assert names == [
        "mesostack-zookeeper-1", "mesostack-zookeeper-2", "mesostack-zookeeper-3",
        "mesostack-master-1", "mesostack-master-2", "mesostack-master-3",
        "mesostack-slave-1", "mesostack-slave-2", "mesostack-marathon-1", "mesostack-marathon-2"]
    zk = "zk://10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181"
    servers = " ".join(f"server.{n}=10.0.0.{n}:2888:3888;10.0.0.{n}:2181" for n in (1, 2, 3))
    for spec in plan.of(Role.ZOOKEEPER):
        assert dict(spec.env)["ZOO_SERVERS"] == servers
        assert dict(spec.env)["ZOO_MY_ID"] == str(spec.index)
    for spec in plan.of(Role.MASTER):
        assert dict(spec.env)["MESOS_ZK"] == zk + "/mesos"
        assert dict(spec.env)["MESOS_QUORUM"] == "2"  # a majority by default
        assert dict(spec.env)["MESOS_IP"] == spec.host_ip
    assert [s.host for s in plan.of(Role.SLAVE)] == ["n2", "n3"]
    assert [s.docker for s in plan.of(Role.SLAVE)] == ["ssh://root@10.0.0.2", "tcp://10.0.0.3:2376"]
    assert all(dict(s.env)["MARATHON_ZK"] == zk + "/marathon" for s in plan.of(Role.MARATHON))
    assert set(plan.spec(Role.SLAVE).depends_on) == {s.name for s in plan.of(Role.MASTER)}
    assert [[s.role for s in stage] for stage in plan.stages()] == [
        [Role.ZOOKEEPER] * 3, [Role.MASTER] * 3, [Role.SLAVE] * 2 + [Role.MARATHON] * 2]
    labels = dict(plan.specs[1].labels)
    assert labels["io.mesostack.host"] == "n2" and labels["io.mesostack.index"] == "2"


def test_an_ha_dry_run_is_grouped_by_host() -> None:
    text = dry_run(build(parse(HA), "ignored"))
    headers = [line for line in text.splitlines() if line.startswith("# host")]
    assert headers == ["# host n1 10.0.0.1", "# host n2 10.0.0.2 (docker ssh://root@10.0.0.2)",
                       "# host n3 10.0.0.3 (docker tcp://10.0.0.3:2376)"]
    n2 = text.split(headers[1])[1].split(headers[2])[0].strip().splitlines()
    assert [line.split()[4] for line in n2 if line.startswith("docker")] == [
        "mesostack-zookeeper-2", "mesostack-master-2", "mesostack-slave-1",
        "mesostack-marathon-2"]
    assert n2[3].startswith("# tasks: auto gives the line above")  # the agent's other outcome


@pytest.mark.parametrize(("image", "official"), [
    ("zookeeper:3.9.3", True), ("zookeeper", True), ("library/zookeeper:3.8.4", True),
    ("docker.io/library/zookeeper:3.9.3", True), ("docker.io/zookeeper:3.9", True),
    ("mirror.example:5000/library/zookeeper:3.9", True), ("zookeeper@sha256:" + "a" * 64, True),
    ("mesoscloud/zookeeper:3.4.6-ubuntu-14.04", False), ("bitnami/zookeeper:3.9", False),
    ("127.0.0.1:5000/mesostack-test/zookeeper:testbed", False),
])
def test_the_official_zookeeper_image_is_told_apart(image: str, official: bool) -> None:
    assert is_official_zookeeper(image) is official


def test_the_official_zookeeper_image_gets_its_own_variables() -> None:
    zk = build(parse("zookeeper: {image: 'zookeeper:3.9.3'}\n"), "10.0.0.5").spec(Role.ZOOKEEPER)
    assert dict(zk.env) == {
        "ZOO_MY_ID": "1",
        "ZOO_SERVERS": "server.1=10.0.0.5:2888:3888;10.0.0.5:2181",
        "ZOO_4LW_COMMANDS_WHITELIST": "srvr,ruok,stat,mntr,conf,isro",
        "ZOO_ADMINSERVER_ENABLED": "false",
    }
    moved = parse("zookeeper: {image: 'zookeeper:3.9.3', port: 2182, data_dir: /srv/zk}\n")
    zk = build(moved, "10.0.0.5").spec(Role.ZOOKEEPER)
    env = dict(zk.env)
    assert env["ZOO_SERVERS"] == "server.1=10.0.0.5:2888:3888;10.0.0.5:2182"
    assert "ZOO_PORT" not in env
    assert env["ZOO_DATA_DIR"] == env["ZOO_DATA_LOG_DIR"] == "/tmp/zookeeper"
    assert [str(m) for m in zk.mounts] == ["/srv/zk:/tmp/zookeeper"]
    assert dict(build(moved, "10.0.0.5").spec(Role.MASTER).env)["MESOS_ZK"] == (
        "zk://10.0.0.5:2182/mesos")


def test_an_official_zookeeper_ensemble_numbers_its_servers() -> None:
    official = HA.replace("zookeeper: {count: 3}", "zookeeper: {count: 3, image: 'zookeeper:3.9'}")
    plan = build(parse(official), "ignored")
    servers = ("server.1=10.0.0.1:2888:3888;10.0.0.1:2181 "
               "server.2=10.0.0.2:2888:3888;10.0.0.2:2181 "
               "server.3=10.0.0.3:2888:3888;10.0.0.3:2181")
    for spec in plan.of(Role.ZOOKEEPER):
        env = dict(spec.env)
        assert env["ZOO_MY_ID"] == str(spec.index) and env["ZOO_SERVERS"] == servers
        assert "MYID" not in env and "SERVERS" not in env


def agent_socket(config: StackConfig, docker_host: str | None = None, index: int = 0) -> str:
    spec = build(config, "10.0.0.5", docker_host=docker_host).of(Role.SLAVE)[index]
    return next(f"{m.source}:{m.target}" for m in spec.mounts
                if m.target == "/var/run/docker.sock")


def test_the_agent_mounts_the_socket_of_the_engine_it_runs_on() -> None:
    """Its Docker tasks go to the engine whose socket it has as /var/run/docker.sock: the one it
    was created on, not whichever engine listens on the host's default path."""
    assert agent_socket(StackConfig()) == "/var/run/docker.sock:/var/run/docker.sock"
    rootless = agent_socket(StackConfig(), "unix:///run/user/1000/docker.sock")
    assert rootless == "/run/user/1000/docker.sock:/var/run/docker.sock"
    assert agent_socket(StackConfig(), "tcp://10.0.0.9:2376") == (
        "/var/run/docker.sock:/var/run/docker.sock")
    hosts = parse(
        "hosts:\n"
        "  - {name: a, ip: 10.0.0.1, docker: 'unix:///srv/engine-a.sock'}\n"
        "  - {name: b, ip: 10.0.0.2, docker: 'ssh://root@10.0.0.2',"
        " docker_socket: /run/user/0/docker.sock}\n"
        "  - {name: c, ip: 10.0.0.3, docker: 'tcp://10.0.0.3:2376'}\n"
        "slave: {on: [a, b, c]}\n")
    assert [agent_socket(hosts, "unix:///elsewhere.sock", i) for i in range(3)] == [
        "/srv/engine-a.sock:/var/run/docker.sock",
        "/run/user/0/docker.sock:/var/run/docker.sock",
        "/var/run/docker.sock:/var/run/docker.sock"]


def test_a_hosts_docker_socket_wins_over_its_unix_endpoints_path() -> None:
    """A unix endpoint may be a forwarded socket (`ssh -L`, another mount namespace): the path
    the client dials is not the one the host's containers see, and `docker_socket` says so."""
    hosts = parse(
        "hosts:\n"
        "  - {name: a, ip: 10.0.0.1, docker: 'unix:///tmp/forwarded-a.sock',"
        " docker_socket: /var/run/docker.sock}\n"
        "slave: {on: [a]}\n")
    assert agent_socket(hosts) == "/var/run/docker.sock:/var/run/docker.sock"
