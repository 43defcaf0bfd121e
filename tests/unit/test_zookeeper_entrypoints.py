"""The ZooKeeper test images' entrypoints, run with sh/bash against a temporary folder: the
zoo.cfg and myid each writes for a given environment, pinned from the real images' scripts
(mesoscloud/zookeeper 3.4.6, the official zookeeper 3.9.3), not from the scripts' own output."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[1] / "standins" / "images"
MESOSCLOUD = IMAGES / "zookeeper-mesoscloud"
OFFICIAL = IMAGES / "zookeeper-official"

MESOSCLOUD_HEAD = ("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zookeeper\n"
                   "clientPort=2181\n")


@pytest.mark.parametrize("script", [MESOSCLOUD / "entrypoint.sh", MESOSCLOUD / "environment",
                                    OFFICIAL / "docker-entrypoint.sh", OFFICIAL / "environment"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_scripts_are_shellcheck_clean(script: Path, need_tool: Callable[[str], str]) -> None:
    result = subprocess.run([need_tool("shellcheck"), str(script)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    """The literal `ENV KEY=VALUE ...` settings of a Dockerfile (continuation lines joined)."""
    joined = dockerfile.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in joined.splitlines():
        if line.startswith("ENV ") and "=" in line:
            for word in shlex.split(line[4:]):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def run(shell: str, script: Path, env: dict[str, str], *command: str) -> str:
    done = subprocess.run([shell, str(script), *command], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- mesoscloud/zookeeper ----------------------------------------------------------------------


@pytest.fixture
def mesoscloud_root(tmp_path: Path) -> Path:
    """The two folders the real image has: its config folder and its data VOLUME."""
    (tmp_path / "opt/zookeeper/conf").mkdir(parents=True)
    (tmp_path / "tmp/zookeeper").mkdir(parents=True)
    return tmp_path


def mesoscloud(root: Path, **env: str) -> tuple[str, str]:
    run("sh", MESOSCLOUD / "entrypoint.sh", {"MESOSTACK_TESTBED_ROOT": str(root), **env}, "true")
    return ((root / "opt/zookeeper/conf/zoo.cfg").read_text(),
            (root / "tmp/zookeeper/myid").read_text())


def test_mesoscloud_alone_writes_the_fixed_config_and_id_1(mesoscloud_root: Path) -> None:
    assert mesoscloud(mesoscloud_root) == (MESOSCLOUD_HEAD, "1\n")


def test_mesoscloud_servers_become_numbered_lines_with_the_fixed_ports(
        mesoscloud_root: Path) -> None:
    zoo_cfg, myid = mesoscloud(mesoscloud_root, MYID="2",
                               SERVERS="10.0.0.1,10.0.0.2,zk3.example")

    assert zoo_cfg == MESOSCLOUD_HEAD + ("server.1=10.0.0.1:2888:3888\n"
                                         "server.2=10.0.0.2:2888:3888\n"
                                         "server.3=zk3.example:2888:3888\n")
    assert myid == "2\n"


def test_mesoscloud_ignores_any_port_or_address_setting(mesoscloud_root: Path) -> None:
    zoo_cfg, _ = mesoscloud(mesoscloud_root, SERVERS="127.0.0.1", ZOO_PORT="2182",
                            ZOO_MY_ID="3", ZOO_SERVERS="server.1=127.0.0.2:2888:3888;2182",
                            ZOO_ADMINSERVER_ENABLED="false")

    assert zoo_cfg == MESOSCLOUD_HEAD + "server.1=127.0.0.1:2888:3888\n"
    assert "clientPortAddress" not in zoo_cfg


def test_mesoscloud_splits_servers_at_every_comma_keeping_empty_entries(
        mesoscloud_root: Path) -> None:
    """The real script splits with Python's str.split(','): a trailing comma is one more
    (empty) server, which ZooKeeper then refuses, as with the real image."""
    zoo_cfg, _ = mesoscloud(mesoscloud_root, SERVERS="a,,b,")

    assert zoo_cfg.splitlines()[5:] == ["server.1=a:2888:3888", "server.2=:2888:3888",
                                        "server.3=b:2888:3888", "server.4=:2888:3888"]


def test_mesoscloud_rewrites_its_config_at_every_start(mesoscloud_root: Path) -> None:
    (mesoscloud_root / "opt/zookeeper/conf/zoo.cfg").write_text("clientPort=2199\n")
    (mesoscloud_root / "tmp/zookeeper/myid").write_text("9\n")

    assert mesoscloud(mesoscloud_root, MYID="1") == (MESOSCLOUD_HEAD, "1\n")


def test_mesoscloud_runs_its_command_after_writing(mesoscloud_root: Path) -> None:
    out = run("sh", MESOSCLOUD / "entrypoint.sh",
              {"MESOSTACK_TESTBED_ROOT": str(mesoscloud_root)}, "echo", "started")

    assert out == "started\n"


# --- the official zookeeper image --------------------------------------------------------------

OFFICIAL_HEAD = (
    "dataDir={data}\ndataLogDir=/datalog\ntickTime=2000\ninitLimit=5\nsyncLimit=2\n"
    "autopurge.snapRetainCount=3\nautopurge.purgeInterval=0\nmaxClientCnxns=60\n"
    "standaloneEnabled=true\nadmin.enableServer=true\n"
)


@pytest.fixture
def official_env(tmp_path: Path) -> dict[str, str]:
    """The image's own ENV, with its config and data folders moved into a temporary folder."""
    env = {k: v for k, v in dockerfile_env(OFFICIAL / "Dockerfile").items()
           if k.startswith("ZOO_")}
    env["ZOO_CONF_DIR"] = str(tmp_path / "conf")
    env["ZOO_DATA_DIR"] = str(tmp_path / "data")
    for folder in ("conf", "data"):
        (tmp_path / folder).mkdir()
    return env


def official(env: dict[str, str], **extra: str) -> tuple[str, str]:
    run("bash", OFFICIAL / "docker-entrypoint.sh", {**env, **extra}, "true")
    return ((Path(env["ZOO_CONF_DIR"]) / "zoo.cfg").read_text(),
            (Path(env["ZOO_DATA_DIR"]) / "myid").read_text())


def test_official_dockerfile_env_is_the_real_images() -> None:
    """3.9.3/Dockerfile's ENV, which the entrypoint's defaults come from."""
    env = dockerfile_env(OFFICIAL / "Dockerfile")

    assert {k: v for k, v in env.items() if k.startswith("ZOO")} == {
        "ZOO_CONF_DIR": "/conf", "ZOO_DATA_DIR": "/data", "ZOO_DATA_LOG_DIR": "/datalog",
        "ZOO_LOG_DIR": "/logs", "ZOO_TICK_TIME": "2000", "ZOO_INIT_LIMIT": "5",
        "ZOO_SYNC_LIMIT": "2", "ZOO_AUTOPURGE_PURGEINTERVAL": "0",
        "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "3", "ZOO_MAX_CLIENT_CNXNS": "60",
        "ZOO_STANDALONE_ENABLED": "true", "ZOO_ADMINSERVER_ENABLED": "true",
        "ZOOCFGDIR": "$ZOO_CONF_DIR"}


def test_official_without_servers_is_one_standalone_server_on_2181(
        official_env: dict[str, str]) -> None:
    zoo_cfg, myid = official(official_env)

    head = OFFICIAL_HEAD.format(data=official_env["ZOO_DATA_DIR"])
    assert zoo_cfg == head + "server.1=localhost:2888:3888;2181\n"
    assert myid == "1\n"


def test_official_ensemble_takes_each_server_word_as_a_line(
        official_env: dict[str, str]) -> None:
    servers = ("server.1=127.0.0.1:2888:3888;127.0.0.1:2181 "
               "server.2=127.0.0.2:2888:3888;127.0.0.2:2181\n"
               "\tserver.3=127.0.0.3:2888:3888;2182")
    zoo_cfg, myid = official(official_env, ZOO_MY_ID="2", ZOO_SERVERS=servers)

    assert zoo_cfg.splitlines()[10:] == ["server.1=127.0.0.1:2888:3888;127.0.0.1:2181",
                                         "server.2=127.0.0.2:2888:3888;127.0.0.2:2181",
                                         "server.3=127.0.0.3:2888:3888;2182"]
    assert "clientPort" not in zoo_cfg
    assert myid == "2\n"


def test_official_settings_whitelist_and_extras_in_the_real_order(
        official_env: dict[str, str]) -> None:
    zoo_cfg, _ = official(official_env, ZOO_TICK_TIME="500", ZOO_INIT_LIMIT="7",
                          ZOO_SYNC_LIMIT="3", ZOO_MAX_CLIENT_CNXNS="0",
                          ZOO_STANDALONE_ENABLED="false", ZOO_ADMINSERVER_ENABLED="false",
                          ZOO_AUTOPURGE_PURGEINTERVAL="1", ZOO_AUTOPURGE_SNAPRETAINCOUNT="5",
                          ZOO_DATA_LOG_DIR="/txlog", ZOO_4LW_COMMANDS_WHITELIST="ruok,srvr",
                          ZOO_SERVERS="server.1=localhost:2888:3888;2191",
                          ZOO_CFG_EXTRA="metricsProvider.httpPort=7000 quorumListenOnAllIPs=true",
                          ZOO_PORT="2182")

    assert zoo_cfg == (
        f"dataDir={official_env['ZOO_DATA_DIR']}\ndataLogDir=/txlog\ntickTime=500\n"
        "initLimit=7\nsyncLimit=3\nautopurge.snapRetainCount=5\nautopurge.purgeInterval=1\n"
        "maxClientCnxns=0\nstandaloneEnabled=false\nadmin.enableServer=false\n"
        "server.1=localhost:2888:3888;2191\n4lw.commands.whitelist=ruok,srvr\n"
        "metricsProvider.httpPort=7000\nquorumListenOnAllIPs=true\n")


def test_official_keeps_a_config_and_an_id_that_exist(official_env: dict[str, str]) -> None:
    (Path(official_env["ZOO_CONF_DIR"]) / "zoo.cfg").write_text("clientPort=2199\n")
    (Path(official_env["ZOO_DATA_DIR"]) / "myid").write_text("7\n")

    assert official(official_env, ZOO_MY_ID="1", ZOO_SERVERS="server.1=a:2888:3888;2181") == (
        "clientPort=2199\n", "7\n")


def test_official_stops_when_it_cannot_write(official_env: dict[str, str], tmp_path: Path) -> None:
    official_env["ZOO_CONF_DIR"] = str(tmp_path / "missing")
    done = subprocess.run(["bash", str(OFFICIAL / "docker-entrypoint.sh"), "echo", "started"],
                          env={"PATH": "/usr/bin:/bin", **official_env}, capture_output=True,
                          text=True, timeout=30, check=False)

    assert done.returncode != 0
    assert "started" not in done.stdout


def test_official_runs_its_command_after_writing(official_env: dict[str, str]) -> None:
    out = run("bash", OFFICIAL / "docker-entrypoint.sh", official_env, "echo", "started")

    assert out == "started\n"
