"""The per-family ZooKeeper test images: real ZooKeeper 3.4.13 behind mesoscloud/zookeeper's
entrypoint, real 3.9.3 behind the official image's. Each server runs with `--network none`
(a loopback of its own, no host port taken) and is asked from inside, with bash's /dev/tcp."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import pytest
from docker.errors import APIError
from docker.models.containers import Container

from conftest import TestBed
from testbed import wait_until

pytestmark = pytest.mark.docker

MESOSCLOUD = "zookeeper-mesoscloud"
OFFICIAL = "zookeeper-official"
ASK = 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3'
HTTP_GET = ASK.replace('"$2"', '"GET $2 HTTP/1.0\r\n\r\n"')
NOT_WHITELISTED = "ruok is not executed because it is not in the whitelist.\n"
EXEC_S = 10  # one exec's bound: an attached exec stream has no socket timeout of its own
_EXECS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="zk-exec")


def start(bed: TestBed, key: str, *, name: str, env: Mapping[str, str] | None = None) -> Container:
    """A server in a network namespace of its own, labelled for the bed's cleanup."""
    container: Container = bed.client.containers.run(
        bed.image(key), detach=True, name=f"mesostack-test-{name}-{bed.run_id}",
        network_mode="none", environment=dict(env or {}), labels=bed.labels)
    return container


def generated(bed: TestBed, key: str, env: Mapping[str, str], *paths: str) -> str:
    """The files the entrypoint writes for `env`: the image run with `cat` as its command."""
    out: bytes = bed.client.containers.run(
        bed.image(key), ["cat", *paths], name=f"mesostack-test-cfg-{bed.run_id}",
        network_mode="none", environment=dict(env), labels=bed.labels, remove=True)
    return out.decode()


def run_in(container: Container, command: Sequence[str]) -> tuple[int, bytes] | None:
    """`command`'s exit code and output, or None when the container has stopped or the exec did
    not end within EXEC_S (docker-py waits on an attached exec without a deadline: one stuck
    stream would hang the suite; the caller's poll asks again)."""
    future = _EXECS.submit(container.exec_run, ["timeout", str(EXEC_S - 2), *command])
    try:
        code, out = future.result(timeout=EXEC_S)
    except (APIError, FutureTimeout):  # a stopped container's log is printed when a test fails
        return None
    return int(code), bytes(out)


def ask(container: Container, port: int, word: str, *, script: str = ASK) -> str | None:
    """A four-letter word's answer (or an HTTP GET's) on the container's own 127.0.0.1."""
    result = run_in(container, ["bash", "-c", script, "ask", str(port), word])
    return result[1].decode(errors="replace") if result and result[0] == 0 else None


def serving(container: Container, port: int) -> str:
    """`srvr`'s answer once the server has a mode."""
    answer = wait_until(lambda: (a := ask(container, port, "srvr")) and "Mode: " in a and a,
                        timeout=40, what=f"srvr on 127.0.0.1:{port} in {container.name}")
    return str(answer)


def listening(container: Container) -> dict[int, set[str]]:
    """Listening TCP ports, each with the local addresses (hex, as /proc/net has them)."""
    result = run_in(container, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    text = result[1].decode() if result else ""
    ports: dict[int, set[str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:
            address, port = fields[1].rsplit(":", 1)
            ports.setdefault(int(port, 16), set()).add(address)
    return ports


def every_address(addresses: set[str]) -> bool:
    return bool(addresses) and all(set(a) == {"0"} for a in addresses)


def read(container: Container, path: str) -> str:
    result = run_in(container, ["cat", path])
    return result[1].decode() if result else ""


# --- mesoscloud/zookeeper ----------------------------------------------------------------------


def test_mesoscloud_is_a_standalone_3_4_13_on_2181(bed: TestBed) -> None:
    zk = start(bed, MESOSCLOUD, name="zk-m", env={"MYID": "1", "SERVERS": "127.0.0.1"})

    answer = serving(zk, 2181)

    assert "Zookeeper version: 3.4.13" in answer
    assert "Mode: standalone" in answer
    assert ask(zk, 2181, "ruok") == "imok"  # 3.4 answers every four-letter word


def test_mesoscloud_stays_on_2181_on_every_address_whatever_port_is_asked(bed: TestBed) -> None:
    zk = start(bed, MESOSCLOUD, name="zk-m-port",
               env={"MYID": "1", "SERVERS": "127.0.0.1", "ZOO_PORT": "2182",
                    "ZOO_SERVERS": "server.1=127.0.0.1:2888:3888;2182"})

    serving(zk, 2181)
    ports = listening(zk)
    zoo_cfg = read(zk, "/opt/zookeeper/conf/zoo.cfg")

    assert 2182 not in ports
    assert every_address(ports[2181])
    assert "clientPort=2181" in zoo_cfg.splitlines()
    assert "clientPortAddress" not in zoo_cfg


def test_mesoscloud_ensemble_config_has_a_line_per_server(bed: TestBed) -> None:
    out = generated(bed, MESOSCLOUD, {"MYID": "3", "SERVERS": "127.0.0.1,127.0.0.2,127.0.0.3"},
                    "/opt/zookeeper/conf/zoo.cfg", "/tmp/zookeeper/myid")

    assert out.splitlines() == [
        "tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=/tmp/zookeeper",
        "clientPort=2181", "server.1=127.0.0.1:2888:3888", "server.2=127.0.0.2:2888:3888",
        "server.3=127.0.0.3:2888:3888", "3"]


def test_mesoscloud_image_config_is_the_real_images(bed: TestBed) -> None:
    config = bed.client.images.get(bed.image(MESOSCLOUD)).attrs["Config"]

    assert config["Entrypoint"] == ["/entrypoint.sh"]
    assert config["Cmd"] == ["zkServer.sh", "start-foreground"]
    assert config.get("User", "") == ""
    assert list(config["Volumes"]) == ["/tmp/zookeeper"]
    assert not config.get("ExposedPorts")


# --- the official zookeeper image --------------------------------------------------------------


def test_official_defaults_standalone_on_2181_srvr_only_admin_server_on_8080(
        bed: TestBed) -> None:
    zk = start(bed, OFFICIAL, name="zk-o")

    answer = serving(zk, 2181)

    assert "Zookeeper version: 3.9.3" in answer
    assert "Mode: standalone" in answer
    assert ask(zk, 2181, "ruok") == NOT_WHITELISTED
    assert every_address(wait_until(lambda: listening(zk).get(8080), timeout=20,
                                    what="the AdminServer on 8080"))
    admin = ask(zk, 8080, "/commands/ruok", script=HTTP_GET) or ""
    assert admin.startswith("HTTP/1.1 200")
    assert "Uid:\t1000\t" in read(zk, "/proc/1/status")  # gosu's drop to the zookeeper user


def test_official_serves_on_the_port_and_address_its_server_line_names(bed: TestBed) -> None:
    zk = start(bed, OFFICIAL, name="zk-o-port", env={
        "ZOO_SERVERS": "server.1=127.0.0.1:2888:3888;127.0.0.1:2191",
        "ZOO_4LW_COMMANDS_WHITELIST": "ruok,srvr", "ZOO_ADMINSERVER_ENABLED": "false"})

    answer = serving(zk, 2191)
    ports = listening(zk)

    assert "Mode: standalone" in answer
    assert ask(zk, 2191, "ruok") == "imok"
    assert ports[2191] == {"0100007F"}  # 127.0.0.1 only
    assert 2181 not in ports
    assert 8080 not in ports


def test_official_ensemble_config_takes_the_server_lines_as_given(bed: TestBed) -> None:
    servers = " ".join(f"server.{n}=127.0.0.{n}:2888:3888;127.0.0.{n}:2181" for n in (1, 2, 3))
    out = generated(bed, OFFICIAL, {"ZOO_MY_ID": "2", "ZOO_SERVERS": servers,
                                    "ZOO_4LW_COMMANDS_WHITELIST": "srvr,ruok",
                                    "ZOO_ADMINSERVER_ENABLED": "false"},
                    "/conf/zoo.cfg", "/data/myid")

    assert out.splitlines()[9:] == [
        "admin.enableServer=false", "server.1=127.0.0.1:2888:3888;127.0.0.1:2181",
        "server.2=127.0.0.2:2888:3888;127.0.0.2:2181",
        "server.3=127.0.0.3:2888:3888;127.0.0.3:2181", "4lw.commands.whitelist=srvr,ruok", "2"]


def test_official_keeps_a_zoo_cfg_the_container_already_has(bed: TestBed) -> None:
    container = bed.client.containers.create(
        bed.image(OFFICIAL), ["cat", "/conf/zoo.cfg"], name=f"mesostack-test-kept-{bed.run_id}",
        network_mode="none", labels=bed.labels,
        environment={"ZOO_SERVERS": "server.1=localhost:2888:3888;2181"})
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        content = b"clientPort=2199\n"
        member = tarfile.TarInfo("zoo.cfg")
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    container.put_archive("/conf", archive.getvalue())
    container.start()

    assert container.wait(timeout=30)["StatusCode"] == 0
    assert container.logs().decode() == "clientPort=2199\n"


def test_official_image_config_is_the_real_images(bed: TestBed) -> None:
    config = bed.client.images.get(bed.image(OFFICIAL)).attrs["Config"]
    env = dict(e.split("=", 1) for e in config["Env"])

    assert config["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert config["Cmd"] == ["zkServer.sh", "start-foreground"]
    assert config.get("User", "") == ""
    assert sorted(config["Volumes"]) == ["/data", "/datalog", "/logs"]
    assert sorted(config["ExposedPorts"]) == ["2181/tcp", "2888/tcp", "3888/tcp", "8080/tcp"]
    assert (env["ZOO_CONF_DIR"], env["ZOOCFGDIR"], env["ZOO_ADMINSERVER_ENABLED"]) == (
        "/conf", "/conf", "true")
