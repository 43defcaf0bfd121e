"""An HA stack on three real hosts (network namespaces, an engine each, reached over ssh://,
a unix socket and tcp:// with TLS: `scripts/hosts`), and what it does when a host is cut off,
lost, or the network between them is poor. The measured recovery times go to the JUnit report
(`record_property`)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostbed import HOSTS, HostBed, HostStack

from stackbed import one_error
from testbed import wait_until

pytestmark = pytest.mark.docker

HOLD_S = 30  # how long each partition is held
SPREAD = {"id": "/spread", "cmd": "sleep 100000", "cpus": 0.1, "mem": 32, "instances": 3,
          "constraints": [["hostname", "UNIQUE"]]}
# the masters and Marathons give up a lost ZooKeeper session sooner than their default 10 s,
# so a partition held 30 s shows new leaders well within it (Marathon 1.10's
# --zk_session_timeout and 0.11's --zk_timeout, in ms)
FAST = {"MESOS_ZK_SESSION_TIMEOUT": "5secs", "MARATHON_ZK_SESSION_TIMEOUT": "5000",
        "MARATHON_ZK_TIMEOUT": "5000"}


@pytest.fixture(scope="module")
def bed() -> HostBed:
    env_file = os.environ.get("MESOSTACK_TEST_HOSTS", "")
    if not env_file or not Path(env_file).is_file():
        message = "no test hosts ($MESOSTACK_TEST_HOSTS); bash scripts/test brings them up"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return HostBed(Path(env_file))


def app_file(directory: Path) -> Path:
    path = directory / "spread.json"
    path.write_text(json.dumps(SPREAD))
    return path


def whole(stack: HostStack) -> bool:
    """`status` exits 0 and the app runs 3 tasks, one per host."""
    hosts = stack.task_hosts("spread")
    return stack.status()["exit"] == 0 and len(hosts) == 3 and len(set(hosts)) == 3


def wait_whole(stack: HostStack, *, timeout: float) -> float:
    start = time.monotonic()
    wait_until(lambda: whole(stack), timeout=timeout, what="the stack whole again", interval=1)
    return time.monotonic() - start


def up_and_deploy(stack: HostStack, directory: Path) -> None:
    up = stack.cli("up", timeout=600)
    assert up.returncode == 0, up.stderr
    deployed = stack.cli("deploy", str(app_file(directory)), timeout=180)
    assert deployed.returncode == 0, deployed.stderr
    wait_whole(stack, timeout=60)


@pytest.mark.parametrize("generation", ["modern", "legacy"])
def test_ha_stack_on_three_hosts_up_deploy_status_logs_bundle_down(
        bed: HostBed, tmp_path: Path, generation: str,
        record_property: Any) -> None:
    before = bed.all_ids()
    stack = bed.stack(tmp_path, generation)
    try:
        up, up_s = stack.timed("up", timeout=600)
        assert up.returncode == 0, up.stderr
        record_property("up_s", round(up_s, 1))
        deployed = stack.cli("deploy", str(app_file(tmp_path)), timeout=180)
        assert deployed.returncode == 0, deployed.stderr
        wait_whole(stack, timeout=60)  # 3 tasks on 3 hosts: hostname:UNIQUE

        status = stack.status()
        assert {c["host"] for c in status["components"]} == set(HOSTS)
        assert [c["name"] for c in status["components"] if c["role"] == "zookeeper"] == [
            f"{stack.name}-zookeeper-{n}" for n in (1, 2, 3)]
        assert {c["endpoint"] for c in status["components"] if c["role"] == "zookeeper"} == {
            f"{bed.ip(h)}:2181" for h in HOSTS}  # each on 2181 of its own host

        logs = stack.cli("logs", timeout=60)
        assert logs.returncode == 0, logs.stderr
        for n in (1, 2, 3):
            assert f"{stack.name}-master-{n} |" in logs.stdout
        bundle = stack.cli("bundle", "--output", str(tmp_path / "bundle.tar.gz"), timeout=120)
        assert bundle.returncode == 0, bundle.stderr
        with tarfile.open(tmp_path / "bundle.tar.gz") as tar:
            names = " ".join(tar.getnames())
        for n in (1, 2, 3):
            assert f"{stack.name}-slave-{n}" in names

        again, again_s = stack.timed("up")
        assert again.returncode == 0 and "nothing changed" in again.stderr, again.stderr
        _, status_s = stack.timed("status")
        record_property("up_again_s", round(again_s, 2))
        record_property("status_s", round(status_s, 2))
    finally:
        down = stack.cli("down", timeout=180)
    assert down.returncode == 0, down.stderr
    assert bed.all_ids() == before


def test_preflight_is_made_on_each_host_through_its_engine(bed: HostBed, tmp_path: Path) -> None:
    before = bed.all_ids()
    stack = bed.stack(tmp_path, "modern")
    # reuseaddr: the last test's master may have left connections in TIME_WAIT on that port
    holder = bed.in_host("node2", "socat",
                         f"TCP-LISTEN:5050,bind={bed.ip('node2')},reuseaddr,fork", "SYSTEM:true")
    try:
        wait_until(lambda: bed.in_client("bash", "-c", f"exec 3<>/dev/tcp/{bed.ip('node2')}/5050"
                                         ).returncode == 0, timeout=10, what="the port held")
        up = stack.cli("up", timeout=600)
        assert up.returncode == 1
        assert one_error(up.stderr) == (
            f"mesostack: error: port {bed.ip('node2')}:5050 for {stack.name}-master-2 is already "
            "in use on host node2 (stop what holds it on node2, or set `master.port` in "
            "stack.yaml)")
    finally:
        holder.kill()
        holder.wait()
    assert bed.all_ids() == before  # nothing created (the helper containers are gone too)

    stack.config["hosts"][2]["ip"] = "198.18.0.99"  # no host has it
    stack.write()
    up = stack.cli("up", timeout=600)
    assert up.returncode == 1
    assert "198.18.0.99 is not an address of host node3 (asked through its engine)" in \
        one_error(up.stderr)
    assert bed.all_ids() == before


def test_an_engine_that_refuses_is_named(bed: HostBed, tmp_path: Path) -> None:
    stack = bed.stack(tmp_path, "modern")
    stack.config["hosts"][2]["docker"] = f"tcp://{bed.ip('node3')}:2377"  # nothing listens
    stack.write()
    up = stack.cli("up", timeout=120)
    assert up.returncode == 1
    assert f"tcp://{bed.ip('node3')}:2377" in one_error(up.stderr)


# --- faults, on one stack of each generation ------------------------------------------------


@pytest.fixture(scope="module", params=["modern", "legacy"])
def ha(bed: HostBed, tmp_path_factory: pytest.TempPathFactory,
       request: pytest.FixtureRequest) -> Iterator[HostStack]:
    """The faults' stack, of each generation in turn (Mesos 1.x and Marathon 1.10; Mesos 0.23
    and Marathon 0.11)."""
    directory = tmp_path_factory.mktemp("ha")
    before = bed.all_ids()
    stack = bed.stack(directory, request.param, env=FAST)
    try:
        up_and_deploy(stack, directory)
        yield stack
    finally:
        for host in HOSTS:
            bed.hosts("heal", host)
        bed.hosts("restore")
        bed.hosts("start", "node3")
        stack.cli("down", timeout=180)
        assert bed.all_ids() == before


def test_the_leading_masters_host_cut_off(ha: HostStack, bed: HostBed,
                                          record_property: Any) -> None:
    """node1 (the ssh:// host) leads; cut off for 30 s, a new leader is elected among the
    others, status names node1 and says the rest serves, the other tasks keep running; the
    link back, the stack is whole again without `up`."""
    for _ in range(4):  # make node1's master the leader: the others' are restarted in turn
        leader = ha.leading_master()
        if leader == "node1":
            break
        if leader:
            subprocess.run(["docker", "-H", bed.socket(leader), "restart",
                            f"{ha.name}-master-{HOSTS.index(leader) + 1}"],
                           check=True, capture_output=True, timeout=60)
        wait_until(ha.leading_master, timeout=60, what="a leading master", interval=1)
    assert ha.leading_master() == "node1"
    others = [h for h in ha.task_hosts("spread") if h != bed.ip("node1")]

    bed.hosts("cut", "node1")
    cut = time.monotonic()
    try:
        elected = wait_until(lambda: (m := ha.leading_master()) not in (None, "node1") and m,
                             timeout=HOLD_S, what="a new leading master", interval=1)
        record_property("new_leader_s", round(time.monotonic() - cut, 1))
        assert elected in ("node2", "node3")
        slowest = 0.0

        def serving() -> str | None:
            nonlocal slowest
            done, took = ha.timed("status", timeout=60)
            slowest = max(slowest, took)
            assert done.returncode == 1 and took <= 10, (took, done.stderr)
            assert (f"host node1 ({bed.docker('node1')}) does not answer: did not answer "
                    "within 5 s") in done.stdout
            # a Marathon on node1 that led gives way once its session expires
            return done.stdout if "the stack is degraded but serving" in done.stdout else None

        wait_until(serving, timeout=HOLD_S, what="status: degraded but serving", interval=1)
        record_property("serving_again_s", round(time.monotonic() - cut, 1))
        record_property("status_cut_off_s", round(slowest, 1))
        assert [h for h in ha.task_hosts("spread") if h != bed.ip("node1")] == others
        logs, took = ha.timed("logs", "master", timeout=60)
        assert logs.returncode == 0 and took <= 10, (took, logs.stderr)
        assert "host node1" in logs.stderr
        bundle_file = ha.file.parent / "cut-off.tar.gz"
        bundle, took = ha.timed("bundle", "--output", str(bundle_file), timeout=60)
        record_property("bundle_cut_off_s", round(took, 1))
        assert took <= 10 and bundle_file.is_file(), (took, bundle.stderr)
        time.sleep(max(0.0, HOLD_S - (time.monotonic() - cut)))
    finally:
        bed.hosts("heal", "node1")
    record_property("whole_again_s", round(wait_whole(ha, timeout=180), 1))


def test_a_lost_host(ha: HostStack, bed: HostBed, record_property: Any) -> None:
    """node3's engine (the TLS host) stopped: status and down name it in one line; down
    removes the rest and exits 1; with node3 back, a rerun of down finishes, and up
    converges."""
    bed.hosts("stop", "node3")
    try:
        status, took = ha.timed("status", timeout=60)
        assert took <= 10 and status.returncode == 1
        assert f"host node3 ({bed.docker('node3')}) does not answer" in status.stdout
        down = ha.cli("down", timeout=180)
        assert down.returncode == 1
        assert "host(s) node3" in one_error(down.stderr)
        assert bed.stack_ids("node1", ha.name) == bed.stack_ids("node2", ha.name) == set()
    finally:
        bed.hosts("start", "node3")
    again = ha.cli("down", timeout=180)
    assert again.returncode == 0, again.stderr
    start = time.monotonic()
    up_and_deploy(ha, ha.file.parent)
    record_property("up_after_lost_host_s", round(time.monotonic() - start, 1))


def test_the_zookeeper_quorum_lost(ha: HostStack, bed: HostBed, record_property: Any) -> None:
    """Two of the three ZooKeepers' hosts cut off for 30 s: status says so in one line; the
    apps survive in ZooKeeper; whole again when the links return."""
    bed.hosts("cut", "node1", "node2")
    cut = time.monotonic()
    try:
        status, took = ha.timed("status", timeout=60)
        assert took <= 10 and status.returncode == 1
        assert "the stack is not serving" in status.stdout
        time.sleep(max(0.0, HOLD_S - (time.monotonic() - cut)))
    finally:
        bed.hosts("heal", "node1", "node2")
    record_property("whole_again_s", round(wait_whole(ha, timeout=240), 1))
    assert ha.marathon("/v2/apps/spread")["app"]["instances"] == 3


def test_a_lossy_slow_network(ha: HostStack, bed: HostBed, record_property: Any) -> None:
    """1 % of the packets between the hosts dropped and each host's link at 20 Mbit/s (tbf):
    `up` of the stack taken down still converges within its timeout."""
    down = ha.cli("down", timeout=180)
    assert down.returncode == 0, down.stderr
    bed.hosts("degrade", "20mbit", "1")
    try:
        start = time.monotonic()
        up_and_deploy(ha, ha.file.parent)
        record_property("up_on_a_lossy_network_s", round(time.monotonic() - start, 1))
    finally:
        bed.hosts("restore")


PROBE_BYTES = 4_000_000  # one incompressible layer, the same bytes every run


def test_a_limited_host_pulls_across_its_link_at_the_rate(
        bed: HostBed, tmp_path: Path, record_property: Any) -> None:
    """`limit HOST RATE` shapes what the host receives, and an image named by the client's
    198.18.0.2:5000 crosses that link (benchmark B7 relies on both)."""
    payload = random.Random("limit-probe").randbytes(PROBE_BYTES)
    tag = hashlib.sha256(payload).hexdigest()[:12]
    pushed, pulled = (f"{at}/mesostack-test/limit-probe:{tag}"
                      for at in ("127.0.0.1:5000", f"{bed.env['MSH_CLIENT_IP']}:5000"))
    (tmp_path / "pad").write_bytes(payload)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY pad /pad\n")
    subprocess.run(["docker", "build", "-q", "-t", pushed, str(tmp_path)], check=True,
                   capture_output=True, timeout=120)
    subprocess.run(["docker", "push", pushed], check=True, capture_output=True, timeout=120)
    node3 = ["docker", "-H", bed.socket("node3")]
    subprocess.run([*node3, "rmi", "-f", pulled], capture_output=True, timeout=60)
    bed.hosts("limit", "node3", "2mbit")  # 250 kB/s: the layer takes at least 16 s
    try:
        start = time.monotonic()
        subprocess.run([*node3, "pull", "-q", pulled], check=True, capture_output=True,
                       timeout=120)
        took = time.monotonic() - start
    finally:
        bed.hosts("restore")
        subprocess.run([*node3, "rmi", "-f", pulled], capture_output=True, timeout=60)
    record_property("pull_at_2mbit_s", round(took, 1))
    assert took >= 0.8 * PROBE_BYTES / 250_000, f"{took:.1f} s: the link was not limited"
    assert took < 60, f"{took:.1f} s"
