"""Stacks on the test bed: a stack file on the test images and the `mesostack` command.

Every stack binds 127.0.0.1 (loopback only) and is removed by its label when its test ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import yaml

from testbed import IMAGES, TEST_LABEL

ROLES = ("zookeeper", "master", "slave", "marathon")
STANDIN_ROLES = ("master", "slave", "marathon")


class Stack:
    """A stack file on the test bed's images and the `mesostack` command pointed at it."""

    __test__ = False

    def __init__(self, client: docker.DockerClient, directory: Path, generation: str, *,
                 docker_host: str | None = None) -> None:
        self.client = client
        self.docker_host = docker_host  # the engine `client` talks to; None: the machine's
        self.run_id = uuid.uuid4().hex[:8]
        self.name = f"it-{generation}-{self.run_id}"
        self.file = directory / "stack.yaml"
        self.config: dict[str, Any] = {
            "name": self.name,
            "host_ip": "127.0.0.1",
            # real ZooKeeper 3.9.3 behind the official image's entrypoint
            "zookeeper": {"image": IMAGES["zookeeper-official"], "family": "official"},
            "master": {"image": IMAGES["mesos-master"]},
            "slave": {"image": IMAGES["mesos-slave"], "privileged": False,
                      "resources": "cpus:2;mem:2048"},
            "marathon": {"image": IMAGES["marathon"]},
        }
        for role in STANDIN_ROLES:
            self.config[role]["env"] = {"STANDIN_GENERATION": generation}
        self.write()

    def write(self) -> None:
        self.file.write_text(yaml.safe_dump(self.config))

    def env(self, role: str, **variables: str) -> None:
        self.config[role].setdefault("env", {}).update(variables)
        self.write()

    def cli(self, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mesostack", "-f", str(self.file), *args],
            capture_output=True, text=True, timeout=timeout, env=self.env_of(env),
        )

    def env_of(self, env: dict[str, str] | None) -> dict[str, str]:
        """The command's environment: this stack's engine, then `env`."""
        engine = {"DOCKER_HOST": self.docker_host} if self.docker_host else {}
        return cli_env(**engine, **(env or {}))

    def ids(self) -> set[str]:
        """Every container on this stack's engine (`docker ps -a`)."""
        return all_container_ids(self.client, host=self.docker_host)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mesostack", "-f", str(self.file), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env_of(env),
        )

    def containers(self) -> dict[str, Any]:
        found = self.client.containers.list(ignore_removed=True,
            all=True, filters={"label": f"io.mesostack.stack={self.name}"})
        return {c.labels["io.mesostack.role"]: c for c in found}

    def remove_all(self) -> None:
        for container in self.client.containers.list(ignore_removed=True,
                all=True, filters={"label": f"io.mesostack.stack={self.name}"}):
            container.remove(force=True)
        for container in self.client.containers.list(ignore_removed=True,
                all=True, filters={"label": f"{TEST_LABEL}={self.run_id}"}):
            container.remove(force=True)


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "MESOSTACK_FILE": "", **extra}


def one_error(stderr: str) -> str:
    """The one `mesostack: error:` line of a failed command (and no traceback)."""
    errors = [line for line in stderr.splitlines() if line.startswith("mesostack: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return errors[0]


def all_container_ids(client: docker.DockerClient, *, host: str | None = None) -> set[str]:
    """Every container on the engine at `host` (None: this machine's, on its socket),
    unfiltered (not through the code under test)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
    output = subprocess.run(["docker", *(["-H", host] if host else []), "ps", "-aq",
                             "--no-trunc"], capture_output=True, text=True, check=True,
                            env=env).stdout
    return set(output.split())


def timestamp(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as a POSIX timestamp."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(whole + "+00:00").timestamp()
    return base + float(f"0.{fraction or 0}")
