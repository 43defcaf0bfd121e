"""The test bed's fixed names: the test label, the local registry, the test images.

Plain constants and small helpers shared by the integration tests and the stand-ins' tests.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REGISTRY = "127.0.0.1:5000"
TEST_LABEL = "io.mesostack.test"
IMAGES = {
    name: f"{REGISTRY}/mesostack-test/{name}:testbed"
    for name in ("zookeeper-mesoscloud", "zookeeper-official", "mesos-master",
                 "mesos-slave", "marathon", "task",
                 # packaged per family, with the real images' ENV, USER and entrypoints
                 "mesos-master-mesoscloud", "mesos-master-mesosphere", "mesos-slave-mesoscloud",
                 "mesos-slave-mesosphere", "marathon-0.11", "marathon-1.11")
}
GENERATIONS = ("legacy", "modern")

T = TypeVar("T")


def four_letter_word(host: str, word: str, *, port: int = 2181, timeout: float = 1.0) -> str:
    """Send a ZooKeeper four-letter word (`ruok`, `srvr`, ...) and return the whole answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode())
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def zk_mode(host: str, *, port: int = 2181) -> str | None:
    """`standalone`, `leader` or `follower` from `srvr`; None while the server has no mode."""
    try:
        answer = four_letter_word(host, "srvr", port=port)
    except OSError:
        return None
    for line in answer.splitlines():
        if line.startswith("Mode: "):
            return line.removeprefix("Mode: ").strip()
    return None


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str,
               interval: float = 0.05) -> T:
    """Poll `check` until it returns a truthy value; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def fixture(relative: str) -> Path:
    """A file of the upstream fixtures, read in place; skip when the folder is absent (not CI)."""
    import pytest

    if not FIXTURES.is_dir():
        message = f"upstream fixtures not found at {FIXTURES}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return FIXTURES / relative
