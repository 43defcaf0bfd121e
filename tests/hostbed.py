"""The multi-host test bed (`scripts/hosts`): three hosts, each a network namespace with its own
Docker engine, and a client namespace from which mesostack and every probe of a test reach them.

`bash scripts/test` brings the hosts up and names their environment file in
$MESOSTACK_TEST_HOSTS. Nothing here sends a packet from this machine's own namespace to the
hosts' addresses: commands run in the client namespace (`nsenter --net`); the engines are
inspected through their unix sockets, which no network carries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from testbed import IMAGES

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ("node1", "node2", "node3")


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value.strip('"')
    return env


class HostBed:
    """The hosts of one run of `scripts/hosts`, and stacks on them."""

    __test__ = False

    def __init__(self, env_file: Path) -> None:
        self.env = read_env(env_file)
        self.client_netns = self.env["MSH_CLIENT_NETNS"]

    def ip(self, host: str) -> str:
        return self.env[f"MSH_{host.upper()}_IP"]

    def docker(self, host: str) -> str:
        """How mesostack reaches `host`'s engine (ssh://, unix://, tcp:// with TLS)."""
        return self.env[f"MSH_{host.upper()}_DOCKER"]

    def socket(self, host: str) -> str:
        """`host`'s engine on its unix socket: for the tests' own unfiltered looks."""
        return self.env[f"MSH_{host.upper()}_SOCKET"]

    def netns(self, host: str) -> str:
        return self.env[f"MSH_{host.upper()}_NETNS"]

    # --- what the tests do to the hosts -----------------------------------------------------

    def hosts(self, *args: str) -> None:
        """`scripts/hosts ARGS` (cut, heal, stop, start, degrade, restore)."""
        subprocess.run(["bash", str(ROOT / "scripts" / "hosts"), *args], check=True,
                       capture_output=True, text=True, timeout=120)

    def in_client(self, *command: str, timeout: float = 60,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net={self.client_netns}", *command],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})

    def in_host(self, host: str, *command: str) -> subprocess.Popen[str]:
        """A process in `host`'s network namespace (e.g. one that holds a port)."""
        return subprocess.Popen(["nsenter", f"--net={self.netns(host)}", *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)

    def get(self, url: str, *, timeout: float = 5) -> Any:
        """A JSON answer, asked from the client namespace; None when there is none."""
        done = self.in_client("curl", "-fsS", "--max-time", str(timeout), url,
                              timeout=timeout + 5)
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout else None

    def ids(self, host: str) -> set[str]:
        """Every container on `host`'s engine, unfiltered (`docker ps -a`)."""
        out = subprocess.run(["docker", "-H", self.socket(host), "ps", "-aq", "--no-trunc"],
                             capture_output=True, text=True, check=True, timeout=30).stdout
        return set(out.split())

    def stack_ids(self, host: str, stack: str) -> set[str]:
        """The containers of `stack` on `host`'s engine, by their label."""
        out = subprocess.run(["docker", "-H", self.socket(host), "ps", "-aq", "--no-trunc",
                              "--filter", f"label=io.mesostack.stack={stack}"],
                             capture_output=True, text=True, check=True, timeout=30).stdout
        return set(out.split())

    def all_ids(self) -> dict[str, set[str]]:
        return {host: self.ids(host) for host in HOSTS}

    def stack(self, directory: Path, generation: str, **settings: Any) -> HostStack:
        return HostStack(self, directory, generation, **settings)


class HostStack:
    """An HA stack across the three hosts: a ZooKeeper per host (each on 2181 of its own
    host), three masters, an agent per host, Marathons on node1 and node2."""

    __test__ = False

    def __init__(self, bed: HostBed, directory: Path, generation: str, **settings: Any) -> None:
        self.bed = bed
        self.name = f"hosts-{generation}-{uuid.uuid4().hex[:6]}"
        self.file = directory / "stack.yaml"
        standin = {"STANDIN_GENERATION": generation, **settings.pop("env", {})}
        self.config: dict[str, Any] = {
            "name": self.name,
            "hosts": [{"name": h, "ip": bed.ip(h), "docker": bed.docker(h)} for h in HOSTS],
            "zookeeper": {"image": IMAGES["zookeeper-official"], "family": "official",
                          "count": 3},
            "master": {"image": IMAGES["mesos-master"], "count": 3, "env": dict(standin)},
            "slave": {"image": IMAGES["mesos-slave"], "privileged": False,
                      "resources": "cpus:2;mem:2048", "on": list(HOSTS), "env": dict(standin)},
            "marathon": {"image": IMAGES["marathon"], "on": ["node1", "node2"],
                         "env": dict(standin)},
            **settings,
        }
        # node2's engine is a unix socket in the client's view; on node2 it is the usual path
        self.config["hosts"][1]["docker_socket"] = "/var/run/docker.sock"
        self.write()

    def write(self) -> None:
        self.file.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`mesostack -f STACK ARGS`, run in the client namespace."""
        return self.bed.in_client(
            sys.executable, "-m", "mesostack", "-f", str(self.file), *args, timeout=timeout,
            env={"NO_COLOR": "1", "MESOSTACK_FILE": "", "DOCKER_TLS_VERIFY": "1",
                 "DOCKER_CERT_PATH": self.bed.env["MSH_TLS_CERTS"]})

    def timed(self, *args: str, timeout: float = 300
              ) -> tuple[subprocess.CompletedProcess[str], float]:
        start = time.monotonic()
        done = self.cli(*args, timeout=timeout)
        return done, time.monotonic() - start

    def status(self) -> dict[str, Any]:
        done = self.cli("status", "-o", "json", timeout=60)
        document: dict[str, Any] = json.loads(done.stdout) if done.stdout else {}
        document["exit"] = done.returncode
        return document

    def marathon(self, path: str) -> Any:
        """Marathon's answer at `path`, from whichever Marathon answers."""
        for host in ("node1", "node2"):
            answer = self.bed.get(f"http://{self.bed.ip(host)}:8080{path}")
            if answer is not None:
                return answer
        return None

    def task_hosts(self, app: str) -> list[str]:
        """The hosts of the app's running tasks, as Marathon has them."""
        answer = self.marathon(f"/v2/apps/{app}/tasks") or {}
        return sorted(t.get("host", "") for t in answer.get("tasks", [])
                      if t.get("state", "TASK_RUNNING") == "TASK_RUNNING")

    def leading_master(self) -> str | None:
        """The host whose master leads, as a reachable master says (`/state` in 1.x,
        `/master/state.json` in 0.23)."""
        for host in HOSTS:
            state = (self.bed.get(f"http://{self.bed.ip(host)}:5050/state", timeout=3)
                     or self.bed.get(f"http://{self.bed.ip(host)}:5050/master/state.json",
                                     timeout=3))
            if state and state.get("leader"):
                leader_ip = state["leader"].split("@", 1)[-1].split(":", 1)[0]
                return next((h for h in HOSTS if self.bed.ip(h) == leader_ip), None)
        return None
