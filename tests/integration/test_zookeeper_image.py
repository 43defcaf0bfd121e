"""The ZooKeeper test image: Debian's real server behind mesoscloud/zookeeper's MYID/SERVERS."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient

from conftest import TestBed
from testbed import four_letter_word, wait_until, zk_mode

pytestmark = pytest.mark.docker

ENSEMBLE = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


def test_one_server_answers_within_seconds(bed: TestBed) -> None:
    bed.run("zookeeper", name="zk", env={"MYID": "1", "SERVERS": "127.0.0.1"})

    mode = wait_until(lambda: zk_mode("127.0.0.1"), timeout=15, what="srvr on 127.0.0.1:2181")

    assert mode == "standalone"
    assert four_letter_word("127.0.0.1", "ruok") == "imok"


def test_admin_server_is_off_so_8080_stays_free(bed: TestBed) -> None:
    container = bed.run("zookeeper", name="zk", env={"MYID": "1", "SERVERS": "127.0.0.1"})
    wait_until(lambda: zk_mode("127.0.0.1"), timeout=15, what="srvr on 127.0.0.1:2181")

    listening = container.exec_run(["sh", "-c", "cat /proc/net/tcp /proc/net/tcp6"]).output
    ports = {int(line.split()[1].rsplit(":", 1)[1], 16)
             for line in listening.decode().splitlines()[1:] if line.split()[3:4] == ["0A"]}

    assert 8080 not in ports
    assert 2181 in ports


def test_three_servers_form_an_ensemble_that_survives_a_lost_member(bed: TestBed) -> None:
    servers = ",".join(ENSEMBLE)
    members = {
        ip: bed.run("zookeeper", name=f"zk{n}", env={"MYID": str(n), "SERVERS": servers})
        for n, ip in enumerate(ENSEMBLE, start=1)
    }

    def modes() -> dict[str, str | None]:
        return {ip: zk_mode(ip) for ip in ENSEMBLE}

    settled = wait_until(lambda: all(modes().values()) and modes(), timeout=60,
                         what="a mode from all three servers")
    assert sorted(m or "" for m in settled.values()) == ["follower", "follower", "leader"]

    leader = next(ip for ip, mode in settled.items() if mode == "leader")
    members[leader].kill()
    survivors = [ip for ip in ENSEMBLE if ip != leader]

    after = wait_until(lambda: all(zk_mode(ip) for ip in survivors)
                       and sorted(zk_mode(ip) or "" for ip in survivors),
                       timeout=60, what="the two survivors to elect a leader")
    assert after == ["follower", "leader"]

    zk = KazooClient(hosts=",".join(f"{ip}:2181" for ip in survivors), timeout=10)
    zk.start(timeout=15)
    try:
        zk.create("/quorum-check", b"written", makepath=True)
        assert zk.get("/quorum-check")[0] == b"written"
    finally:
        zk.stop()
        zk.close()
