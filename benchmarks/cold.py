"""B7: a cold `up` (an engine on an empty data root) with images of a real stack's size, pulled
through a rate-limited link, against the same link's transfer floor and the tutorial as a script.

The engine is node2 of the test hosts (`scripts/hosts`): `wipe` restarts it on an empty data
root, `limit` puts a tc tbf on the bridge's port toward it, and it pulls from the client's
198.18.0.2:5000 (a forwarder to the test registry), so every byte it pulls crosses that link.
Every probe runs in the client namespace, as the host tests' do.

The images: the test bed's four (examples/testbed.yaml), each with PADDING layers of
incompressible bytes on top (the same bytes every time, so they are built and pushed once: the
tag is a hash of the base image and the padding), the size of the real images they stand for
(mesosphere/mesos-master and marathon weigh a few hundred MB in several layers).
"""

from __future__ import annotations

import hashlib
import platform
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from mesostack import registry

REGISTRY = "127.0.0.1:5000"  # where the images are pushed, from this machine
LINK_REGISTRY = "198.18.0.2:5000"  # the same registry as node2 reaches it, across its link
PADDING = (60_000_000, 30_000_000, 15_000_000)  # bytes per layer added to each image
HOST = "node2"
BASES = {  # role: the test bed's image
    "zookeeper": "mesostack-test/zookeeper-official:testbed",
    "master": "mesostack-test/mesos-master:testbed",
    "slave": "mesostack-test/mesos-slave:testbed",
    "marathon": "mesostack-test/marathon:testbed",
}


@dataclass(frozen=True)
class Images:
    refs: dict[str, str]  # role: repository:tag in the registry
    layers: dict[str, dict[str, int]]  # role: its layers' compressed sizes by digest

    def summary(self) -> str:
        sizes = [sum(layers.values()) / 1e6 for layers in self.layers.values()]
        counts = [len(layers) for layers in self.layers.values()]
        unique = {digest: size for each in self.layers.values() for digest, size in each.items()}
        return (f"4 images of {min(sizes):.0f}-{max(sizes):.0f} MB in {min(counts)}-"
                f"{max(counts)} layers, {sum(unique.values()) / 1e6:.0f} MB to transfer")


def _layers(ref: str) -> dict[str, int] | None:
    """The image's layers (digest: compressed size) as the registry has them; None: not there."""
    return registry.layer_sizes(f"{REGISTRY}/{ref}",
                                registry.Platform.of_engine("linux", platform.machine()))


def _image_id(ref: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], check=True,
                          capture_output=True, text=True).stdout.strip()


def heavy_images(say: Callable[[str], None]) -> Images:
    """The four images with their padding, built on this machine's engine and pushed once."""
    refs: dict[str, str] = {}
    layers: dict[str, dict[str, int]] = {}
    for role, base in BASES.items():
        source = f"{REGISTRY}/{base}"
        inputs = f"{_image_id(source)} {PADDING} {role}"
        name = base.split("/", 1)[1].split(":", 1)[0]
        ref = f"mesostack-bench/{name}:{hashlib.sha256(inputs.encode()).hexdigest()[:12]}"
        found = _layers(ref)
        if found is None:
            say(f"B7: building {ref} ({sum(PADDING) / 1e6:.0f} MB of padding on {base})")
            _build(source, f"{REGISTRY}/{ref}", role)
            found = _layers(ref)
            assert found is not None, f"{ref} is not in the registry after its push"
        refs[role], layers[role] = ref, found
    return Images(refs, layers)


def _build(source: str, target: str, role: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        context = Path(scratch)
        lines = [f"FROM {source}"]
        for index, size in enumerate(PADDING):
            # incompressible (as the real images' binaries nearly are) and the same every time
            (context / f"pad-{index}").write_bytes(random.Random(f"{role}-{index}").randbytes(size))
            lines.append(f"COPY pad-{index} /opt/mesostack-bench/pad-{index}")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        subprocess.run(["docker", "build", "-q", "-t", target, str(context)], check=True,
                       capture_output=True)
    subprocess.run(["docker", "push", target], check=True, capture_output=True)


def stack_file(directory: Path, env: dict[str, str], images: Images) -> Path:
    """The tutorial's stack on node2, its images named across node2's link."""
    config = {
        "name": "bench-cold",
        "hosts": [{"name": HOST, "ip": env["MSH_NODE2_IP"], "docker": env["MSH_NODE2_DOCKER"],
                   "docker_socket": "/var/run/docker.sock"}],
        "zookeeper": {"image": f"{LINK_REGISTRY}/{images.refs['zookeeper']}",
                      "family": "official"},
        "master": {"image": f"{LINK_REGISTRY}/{images.refs['master']}"},
        "slave": {"image": f"{LINK_REGISTRY}/{images.refs['slave']}", "privileged": False,
                  "resources": "cpus:2;mem:2048"},
        "marathon": {"image": f"{LINK_REGISTRY}/{images.refs['marathon']}"},
    }
    path = directory / "cold.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass(frozen=True)
class Round:
    floor: float  # the four images pulled at once through the link
    cold: float  # `mesostack up` on the empty engine
    warm: float  # `mesostack up` again, the images there (B2's `up`, on this host)
    script: float  # the tutorial's four `docker run` lines, each pulling in turn


class ColdBench:
    """One host's engine, wiped before each cold measure; `hosts` runs `scripts/hosts`,
    `in_client` a command in the client namespace (both from tests/hostbed.py)."""

    def __init__(self, stack: Path, socket: str, hosts: Callable[..., None],
                 in_client: Callable[..., subprocess.CompletedProcess[str]],
                 mesostack: list[str], script: list[str], images: Images) -> None:
        self.stack, self.socket, self.hosts, self.in_client = stack, socket, hosts, in_client
        self.mesostack, self.script, self.images = mesostack, script, images

    def _cli(self, *args: str) -> float:
        start = time.perf_counter()
        done = self.in_client(*self.mesostack, "-f", str(self.stack), *args, timeout=900,
                              env={"NO_COLOR": "1", "MESOSTACK_FILE": ""})
        took = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"B7: mesostack {' '.join(args)} failed: {done.stderr.strip()}")
        return took

    def _floor(self) -> float:
        start = time.perf_counter()
        pulls = [subprocess.Popen(["docker", "-H", self.socket, "pull", "-q",
                                   f"{LINK_REGISTRY}/{ref}"], stdout=subprocess.DEVNULL)
                 for ref in self.images.refs.values()]
        if any(pull.wait() != 0 for pull in pulls):
            raise SystemExit(f"B7: a pull into {HOST} failed")
        return time.perf_counter() - start

    def _script(self) -> float:
        done = self.in_client(*self.script, str(self.stack), timeout=900,
                              env={"DOCKER_HOST": self.socket})
        if done.returncode != 0:
            raise SystemExit(f"B7: the tutorial as a script failed: {done.stderr.strip()}")
        containers = subprocess.run(["docker", "-H", self.socket, "ps", "-aq", "--filter",
                                     "label=io.mesostack.stack=bench-cold"], check=True,
                                    capture_output=True, text=True).stdout.split()
        subprocess.run(["docker", "-H", self.socket, "rm", "-f", *containers], check=True,
                       capture_output=True)
        return float(done.stdout.strip().splitlines()[-1])

    def round(self) -> Round:
        self.hosts("wipe", HOST)
        floor = self._floor()
        self.hosts("wipe", HOST)
        cold = self._cli("up")
        self._cli("down", "--grace", "0")
        warm = self._cli("up")
        self._cli("down", "--grace", "0")
        self.hosts("wipe", HOST)
        script = self._script()
        return Round(floor, cold, warm, script)

    def rounds(self, count: int) -> Round:
        """Medians of `count` rounds."""
        done = [self.round() for _ in range(count)]
        return Round(*(statistics.median(getattr(r, field) for r in done)
                       for field in ("floor", "cold", "warm", "script")))
