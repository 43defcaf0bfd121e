"""Faults on the test bed: the engine, ZooKeeper or Marathon going away mid-command, Ctrl-C,
crashed processes, a held port. Each test measures how long recovery takes, from the fault (or
the fault's end) to the converged state, and records it (build/fault-times.txt).

The engine restart test stops and starts this machine's Docker engine: it is marked
`engine_restart` and runs after every other test of the session (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from stackbed import ROLES, Stack, all_container_ids, one_error
from testbed import wait_until

pytestmark = pytest.mark.docker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RESULTS = Path(__file__).resolve().parents[2] / "build" / "fault-times.txt"
ENGINE_SOCKET = "/var/run/docker.sock"
MARATHON = "http://127.0.0.1:8080"


@pytest.fixture
def record(record_property: Callable[[str, object], None],
           request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """Note a measured time: in the JUnit report, on stdout and in build/fault-times.txt."""

    def note(what: str, seconds: float) -> None:
        record_property(what, f"{seconds:.2f}")
        line = f"{request.node.name}\t{what}\t{seconds:.2f} s"
        print(line)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as results:
            results.write(line + "\n")

    return note


def seconds_until(check: Callable[[], Any], *, timeout: float, what: str,
                  since: float | None = None) -> float:
    """Seconds from `since` (default: now) until `check` holds."""
    start = time.monotonic() if since is None else since
    wait_until(check, timeout=timeout, what=what, interval=0.1)
    return time.monotonic() - start


def status_json(stack: Stack, **kwargs: Any) -> dict[str, Any]:
    result = stack.cli("status", "-o", "json", **kwargs)
    return json.loads(result.stdout) if result.stdout.strip() else {}


def ready(stack: Stack, **kwargs: Any) -> bool:
    return bool(status_json(stack, **kwargs).get("ready"))


class StderrLines:
    """A running command's stderr, read in a thread, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, *, timeout: float) -> None:
        wait_until(lambda: any(text in line for line in self.lines), timeout=timeout,
                   what=f"{text!r} on stderr")

    def text(self) -> str:
        self._reader.join(timeout=10)
        return "".join(self.lines)


# --- the engine stops answering ----------------------------------------------------------------


class EngineProxy:
    """A unix socket in front of the engine's: `cut` closes it and every open connection at
    once (as a dead engine would), `restore` opens it again on the same path."""

    def __init__(self, target: str = ENGINE_SOCKET) -> None:
        self.target = target
        self.directory = tempfile.mkdtemp(prefix="ms-proxy-")  # short: AF_UNIX paths are
        self.path = os.path.join(self.directory, "docker.sock")  # at most 107 bytes
        self.endpoint = f"unix://{self.path}"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> EngineProxy:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def close(self) -> None:
        self.cut()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def proxy() -> Iterator[EngineProxy]:
    made = EngineProxy().start()
    try:
        yield made
    finally:
        made.close()


def test_engine_stops_answering_during_up(modern_stack: Stack, proxy: EngineProxy,
                                          docker_client: docker.DockerClient,
                                          record: Callable[[str, float], None]) -> None:
    before = all_container_ids(docker_client)
    via_proxy = {"DOCKER_HOST": proxy.endpoint}
    modern_stack.env("master", STANDIN_ELECTION_DELAY="5")
    process = modern_stack.popen("up", env=via_proxy)
    try:
        wait_until(lambda: "master" in modern_stack.containers() or None, timeout=60,
                   what="the master container")
        proxy.cut()
        cut = time.monotonic()
        _, stderr = process.communicate(timeout=90)
        noticed = time.monotonic() - cut
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    error = one_error(stderr)
    assert f"the Docker engine at {proxy.endpoint} stopped answering" in error
    assert "is Docker running?" in error
    print(error)
    assert noticed < 15
    record("engine cut: `up` fails after", noticed)

    proxy.start()
    restored = time.monotonic()
    up = modern_stack.cli("up", env=via_proxy)
    converged = time.monotonic() - restored
    assert up.returncode == 0, up.stderr
    assert set(modern_stack.containers()) == set(ROLES)
    assert ready(modern_stack, env=via_proxy)
    record("engine restored: `up` ready after", converged)

    down = modern_stack.cli("down", env=via_proxy)
    assert down.returncode == 0, down.stderr
    assert all_container_ids(docker_client) == before


# --- ZooKeeper dies during `up` ----------------------------------------------------------------


@pytest.mark.parametrize("moment", ["while it starts", "while the master waits"])
def test_zookeeper_dies_during_up(modern_stack: Stack, docker_client: docker.DockerClient,
                                  record: Callable[[str, float], None], moment: str) -> None:
    modern_stack.env("master", STANDIN_ELECTION_DELAY="5")
    zookeeper = f"{modern_stack.name}-zookeeper"
    process = modern_stack.popen("up")
    try:
        if moment == "while it starts":
            wait_until(lambda: (lambda c: c and c.status == "running")(
                modern_stack.containers().get("zookeeper")), timeout=60,
                what="the ZooKeeper container running")
        else:
            wait_until(lambda: "master" in modern_stack.containers() or None, timeout=60,
                       what="the master container")
        docker_client.containers.get(zookeeper).kill()  # a deliberate stop: it stays down
        killed = time.monotonic()
        _, stderr = process.communicate(timeout=90)
        noticed = time.monotonic() - killed
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    error = one_error(stderr)
    print(error)
    assert f"mesostack: error: {zookeeper} (zookeeper)" in error
    assert "exited with code 137" in error
    assert f"last 20 log lines of {zookeeper}:" in stderr
    assert noticed < 10
    record(f"zookeeper killed {moment}: `up` fails after", noticed)

    started = time.monotonic()
    up = modern_stack.cli("up")
    assert up.returncode == 0, up.stderr
    record("`up` again: ready after", time.monotonic() - started)
    assert set(modern_stack.containers()) == set(ROLES)
    assert ready(modern_stack)
