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
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

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
    once (as a dead engine would); `freeze` keeps taking connections and requests but passes
    nothing on (as a hung engine would); `start` opens it again on the same path."""

    def __init__(self, target: str = ENGINE_SOCKET) -> None:
        self.target = target
        self.directory = tempfile.mkdtemp(prefix="ms-proxy-")  # short: AF_UNIX paths are
        self.path = os.path.join(self.directory, "docker.sock")  # at most 107 bytes
        self.endpoint = f"unix://{self.path}"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._frozen = threading.Event()

    def start(self) -> EngineProxy:
        self._frozen.clear()
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
            if self._frozen.is_set():
                with self._lock:
                    self._open.add(client)  # held open, never answered
                continue
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
                if not self._frozen.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def freeze(self) -> None:
        self._frozen.set()

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


@pytest.mark.parametrize("fault", ["dead", "hung"])
def test_engine_stops_answering_during_up(modern_stack: Stack, proxy: EngineProxy,
                                          docker_client: docker.DockerClient,
                                          record: Callable[[str, float], None],
                                          fault: str) -> None:
    before = all_container_ids(docker_client)
    via_proxy = {"DOCKER_HOST": proxy.endpoint}
    modern_stack.env("master", STANDIN_ELECTION_DELAY="5")
    process = modern_stack.popen("up", env=via_proxy)
    try:
        wait_until(lambda: "master" in modern_stack.containers() or None, timeout=60,
                   what="the master container")
        if fault == "dead":
            proxy.cut()
        else:
            proxy.freeze()
        cut = time.monotonic()
        _, stderr = process.communicate(timeout=120)
        noticed = time.monotonic() - cut
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    error = one_error(stderr)
    print(error)
    assert f"the Docker engine at {proxy.endpoint} stopped answering" in error
    assert "is Docker running?" in error
    assert noticed < (15 if fault == "dead" else 75)  # a hung engine: docker's 60 s timeout
    record(f"engine {fault}: `up` fails after", noticed)

    proxy.cut()
    proxy.start()
    restored = time.monotonic()
    up = modern_stack.cli("up", env=via_proxy)
    converged = time.monotonic() - restored
    assert up.returncode == 0, up.stderr
    assert set(modern_stack.containers()) == set(ROLES)
    assert ready(modern_stack, env=via_proxy)
    record("engine back: `up` ready after", converged)

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
        if moment == "while it starts":  # running, and its first lines written
            wait_until(lambda: (lambda c: c and c.status == "running" and c.logs(tail=1))(
                modern_stack.containers().get("zookeeper")), timeout=60,
                what="the ZooKeeper container running and logging")
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


# --- Marathon dies during `deploy`, Ctrl-C during `deploy` -------------------------------------


def slow_marathon(stack: Stack) -> None:
    """A stack whose Marathon schedules every 2 s, so a deployment takes a few seconds."""
    stack.env("marathon", STANDIN_TICK="2")
    up = stack.cli("up")
    assert up.returncode == 0, up.stderr


def app_running(app_id: str) -> dict[str, Any] | None:
    try:
        answer = requests.get(f"{MARATHON}/v2/apps/{app_id}", timeout=2)
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return None
    app: dict[str, Any] = answer.json()["app"]
    return app if app["tasksRunning"] == 1 and not app["deployments"] else None


def test_marathon_dies_during_deploy(modern_stack: Stack, docker_client: docker.DockerClient,
                                     record: Callable[[str, float], None]) -> None:
    slow_marathon(modern_stack)
    process = modern_stack.popen("deploy", str(EXAMPLES / "basic-0.json"))
    stderr = StderrLines(process)
    try:
        stderr.wait_for("created /basic-0", timeout=30)
        modern_stack.containers()["marathon"].stop(timeout=5)  # a deliberate stop: stays down
        stopped = time.monotonic()
        process.wait(timeout=60)
        noticed = time.monotonic() - stopped
    finally:
        process.kill()
    assert process.returncode == 1, stderr.text()
    error = one_error(stderr.text())
    print(error)
    assert "Marathon at http://127.0.0.1:8080 does not answer" in error
    assert "mesostack status" in error
    record("marathon stopped: `deploy` fails after", noticed)

    started = time.monotonic()
    up = modern_stack.cli("up")
    assert up.returncode == 0, up.stderr
    back = seconds_until(lambda: app_running("basic-0"), timeout=60,
                         what="/basic-0 running again", since=started)
    record("`up` brings marathon back, /basic-0 running after", back)
    listing = json.loads(modern_stack.cli("apps", "-o", "json").stdout)
    assert [(a["id"], a["running"]) for a in listing] == [("/basic-0", 1)]


def test_marathon_process_crashes_during_deploy(modern_stack: Stack,
                                                docker_client: docker.DockerClient,
                                                record: Callable[[str, float], None]) -> None:
    slow_marathon(modern_stack)
    marathon = modern_stack.containers()["marathon"]
    process = modern_stack.popen("deploy", str(EXAMPLES / "basic-0.json"))
    stderr = StderrLines(process)
    try:
        stderr.wait_for("created /basic-0", timeout=30)
        os.kill(marathon.attrs["State"]["Pid"], signal.SIGKILL)
        crashed = time.monotonic()
        process.wait(timeout=60)
    finally:
        process.kill()
    text = stderr.text()
    print(f"`deploy` exited {process.returncode}")
    if process.returncode != 0:  # else Marathon was back before `deploy` looked: it carried on
        assert process.returncode == 1, text
        assert "Marathon at http://127.0.0.1:8080" in one_error(text)
    back = seconds_until(lambda: app_running("basic-0"), timeout=60,
                         what="/basic-0 running again", since=crashed)
    record("marathon process killed: restarted, /basic-0 running after", back)
    assert docker_client.containers.get(marathon.id).attrs["RestartCount"] >= 1
    assert ready(modern_stack)


def test_ctrl_c_during_deploy(modern_stack: Stack, tmp_path: Path,
                              record: Callable[[str, float], None]) -> None:
    slow_marathon(modern_stack)
    process = modern_stack.popen("deploy", str(EXAMPLES / "basic-0.json"))
    stderr = StderrLines(process)
    try:
        stderr.wait_for("created /basic-0", timeout=30)
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        process.wait(timeout=15)
        took = time.monotonic() - interrupted
    finally:
        process.kill()
    assert process.returncode == 130, stderr.text()
    assert "mesostack: interrupted" in stderr.text() and "Traceback" not in stderr.text()
    assert took < 5
    record("Ctrl-C: `deploy` exits after", took)

    listing = modern_stack.cli("apps", "-o", "json")
    assert listing.returncode == 0, listing.stderr
    assert [a["id"] for a in json.loads(listing.stdout)] == ["/basic-0"]
    # Marathon carries on with the deployment; `deploy` again (a change) follows it to the end.
    changed = json.loads((EXAMPLES / "basic-0.json").read_text()) | {"instances": 2}
    again_file = tmp_path / "basic-0.json"
    again_file.write_text(json.dumps(changed))
    again = wait_until(lambda: (lambda r: r if "locked" not in r.stderr else None)(
        modern_stack.cli("deploy", str(again_file))), timeout=30, what="the app unlocked",
        interval=0.5)
    assert again.returncode == 0, again.stderr
    record("Ctrl-C: `deploy` again done after", time.monotonic() - interrupted)
    listing = json.loads(modern_stack.cli("apps", "-o", "json").stdout)
    assert [(a["id"], a["running"]) for a in listing] == [("/basic-0", 2)]


# --- Ctrl-C during `up`: `down` removes what is left -------------------------------------------


def test_ctrl_c_during_up_then_down_removes_what_is_left(
        modern_stack: Stack, docker_client: docker.DockerClient,
        record: Callable[[str, float], None]) -> None:
    before = all_container_ids(docker_client)
    modern_stack.env("master", STANDIN_ELECTION_DELAY="30")
    process = modern_stack.popen("up")
    try:
        wait_until(lambda: "master" in modern_stack.containers() or None, timeout=60,
                   what="the master container")
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, stderr = process.communicate(timeout=15)
        took = time.monotonic() - interrupted
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "mesostack: interrupted" in stderr and "Traceback" not in stderr
    record("Ctrl-C: `up` exits after", took)
    assert set(modern_stack.containers()) == {"zookeeper", "master"}

    started = time.monotonic()
    down = modern_stack.cli("down")
    assert down.returncode == 0, down.stderr
    assert "removed 2 containers" in down.stderr
    record("`down` after Ctrl-C: clean after", time.monotonic() - started)
    assert all_container_ids(docker_client) == before


# --- a component's process crashes: the restart policy, and `status` ---------------------------


def test_crashed_processes_come_back_and_status_shows_it(
        modern_stack: Stack, docker_client: docker.DockerClient,
        record: Callable[[str, float], None]) -> None:
    up = modern_stack.cli("up")
    assert up.returncode == 0, up.stderr
    ids = {c.id for c in modern_stack.containers().values()}
    for role in ROLES:
        container = modern_stack.containers()[role]
        restarts = container.attrs["RestartCount"]
        os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)  # not `docker kill`
        crashed = time.monotonic()
        wait_until(lambda c=container, n=restarts: docker_client.containers.get(c.id).attrs[
                   "RestartCount"] > n or None, timeout=30, what=f"Docker restarting {role}")
        back = seconds_until(lambda: ready(modern_stack), timeout=90,
                             what=f"`status` ready after {role} crashed", since=crashed)
        component = next(c for c in status_json(modern_stack)["components"]
                         if c["role"] == role)
        assert component["ready"] and component["state"] == "running"
        record(f"{role} process killed: `status` ready after", back)
    again = modern_stack.cli("up")
    assert again.returncode == 0 and "nothing changed" in again.stderr, again.stderr
    assert {c.id for c in modern_stack.containers().values()} == ids


# --- a port held by a foreign process ----------------------------------------------------------


# SO_REUSEADDR: the previous test's Marathon may leave connections to the port in TIME_WAIT
# (a second listener is still refused); a few retries let a container on its way out go.
HOLD = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
for attempt in range(50):
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
        break
    except OSError:
        if attempt == 49:
            raise
        time.sleep(0.2)
s.listen()
print("listening", flush=True)
time.sleep(600)
"""


def test_a_port_held_by_another_process_is_named_with_its_holder(
        modern_stack: Stack, record: Callable[[str, float], None]) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "8080"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "listening\n"
        name = Path(f"/proc/{holder.pid}/comm").read_text().strip()
        named = f"{name} (pid {holder.pid})"
        doctor = modern_stack.cli("doctor")
        assert doctor.returncode == 1
        row = next(line for line in doctor.stdout.splitlines() if "127.0.0.1:8080" in line)
        assert named in row, doctor.stdout
        up = modern_stack.cli("up")
        assert up.returncode == 1
        error = one_error(up.stderr)
        assert f"port 127.0.0.1:8080 for {modern_stack.name}-marathon is already in use by " \
               f"{named}" in error
        assert modern_stack.containers() == {}
    finally:
        holder.kill()
        holder.wait(timeout=10)
    freed = time.monotonic()
    up = modern_stack.cli("up")
    assert up.returncode == 0, up.stderr
    record("port freed: `up` ready after", time.monotonic() - freed)


# --- one real engine restart (last of the session) ---------------------------------------------


def engine_answers() -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return subprocess.run(["docker", "info"], capture_output=True, env=env,
                          timeout=30).returncode == 0


def dockerd() -> tuple[int, list[str], str]:
    """The engine's process: pid, command line, and the file its output goes to. The test
    hosts' engines (scripts/hosts) are dockerds too, each in a network namespace of its own:
    only those in this machine's own namespace count."""
    own = os.readlink("/proc/self/ns/net")
    found = [pid for pid in subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True,
                                           text=True).stdout.split()
             if _net_namespace(pid) == own]
    if len(found) != 1 or os.geteuid() != 0 or os.environ.get("DOCKER_HOST"):
        message = (f"restarting the engine needs root and one local dockerd (found "
                   f"{len(found)}); `bash scripts/test` starts one")
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    pid = int(found[0])
    command = Path(f"/proc/{pid}/cmdline").read_text().rstrip("\0").split("\0")
    log = os.path.realpath(f"/proc/{pid}/fd/1")
    if not os.path.isfile(log):
        state = os.environ.get("MESOSTACK_TEST_STATE", "/var/lib/mesostack-test")
        log = os.path.join(state, "dockerd.log")
    return pid, command, log


def _net_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def start_engine(command: list[str], log: str) -> float:
    """Start the engine as scripts/test does (setsid, output to its log); seconds until
    `docker info` answers."""
    started = time.monotonic()
    with open(log, "a") as output:
        subprocess.run(["setsid", "-f", *command], stdout=output, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, check=True)
    wait_until(engine_answers, timeout=60, what="the Docker engine answering `docker info`",
               interval=0.2)
    return time.monotonic() - started


@pytest.mark.engine_restart
def test_engine_restart(modern_stack: Stack, docker_client: docker.DockerClient,
                        record: Callable[[str, float], None]) -> None:
    pid, command, log = dockerd()
    before = all_container_ids(docker_client)
    up = modern_stack.cli("up")
    assert up.returncode == 0, up.stderr
    ids = {role: c.id for role, c in modern_stack.containers().items()}

    looks: list[subprocess.CompletedProcess[str]] = []
    try:
        os.kill(pid, signal.SIGTERM)
        stopping = time.monotonic()
        while Path(f"/proc/{pid}").exists():  # `status` while the engine shuts down
            looks.append(modern_stack.cli("status", timeout=60))
            assert time.monotonic() - stopping < 120, "dockerd did not exit within 120 s"
        record("engine stop (SIGTERM) took", time.monotonic() - stopping)
        looks.append(modern_stack.cli("status", timeout=60))
    finally:
        if not engine_answers():
            record("engine start: `docker info` answers after", start_engine(command, log))
    restarted = time.monotonic()
    gone = looks[-1]
    assert gone.returncode == 1
    error = one_error(gone.stderr)
    print(error)
    assert "cannot reach the Docker engine at unix:///var/run/docker.sock" in error
    assert "is Docker running?" in error
    assert all("Traceback" not in look.stderr for look in looks)

    back = seconds_until(lambda: ready(modern_stack), timeout=120,
                         what="`status` ready after the engine restart", since=restarted)
    record("engine restarted: `status` ready after", back)
    assert {role: c.id for role, c in modern_stack.containers().items()} == ids
    again = modern_stack.cli("up")
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stderr
    assert {role: c.id for role, c in modern_stack.containers().items()} == ids

    down = modern_stack.cli("down")
    assert down.returncode == 0, down.stderr
    assert all_container_ids(docker_client) == before
    assert engine_answers()
