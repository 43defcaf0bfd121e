"""Test doubles shared by the unit tests: a clock the test drives, and one Docker engine held as
plain data (with the builders of what it holds), so no test needs Docker or a mock."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict, Unpack

from mesostack.plan import LABEL_ROLE, LABEL_STACK, ContainerSpec
from mesostack.runtime import (
    ContainerFailed,
    ContainerInfo,
    EngineFacts,
    ImageConfig,
    ImageUnavailable,
    PullProgress,
)


class FakeClock:
    """A clock that moves only when slept on (or `advance`d): waits take no real time, and the
    time they report is exactly what they slept. A set `wake` event ends a sleep at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float, *, wake: threading.Event | None = None) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if wake is not None and wake.is_set():
                return
            self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


# --- what an engine holds ----------------------------------------------------------------------


class ContainerFields(TypedDict, total=False):
    """The fields of a ContainerInfo that `container` leaves to the test."""

    id: str
    status: str
    image: str
    image_id: str
    restart_count: int
    started_at: str
    exit_code: int
    env: Mapping[str, str]
    engine: str | None


def container(name: str, labels: Mapping[str, str] | None = None, *, stack: str = "",
              role: str = "", **fields: Unpack[ContainerFields]) -> ContainerInfo:
    """A container as the engine reports it: running, id `id-<name>`; `stack` and `role` add our
    labels to `labels`."""
    ours = {**({LABEL_STACK: stack} if stack else {}), **({LABEL_ROLE: role} if role else {})}
    base = ContainerInfo(id=f"id-{name}", name=name, status="running", image="x",
                         image_id="sha256:x", labels={**(labels or {}), **ours}, restart_count=0,
                         started_at="", exit_code=0)
    return replace(base, **fields)


class FactFields(TypedDict, total=False):
    """The fields of EngineFacts that `engine_facts` leaves to the test."""

    server_version: str
    api_version: str
    os: str
    cgroup_version: str
    security_options: tuple[str, ...]
    root_dir: str
    endpoint: str
    min_api_version: str
    architecture: str
    containerd_store: bool


FAKE_ENDPOINT = "unix:///var/run/docker.sock"


def engine_facts(**overrides: Unpack[FactFields]) -> EngineFacts:
    """A current engine on cgroup v1, rootful, Linux, x86_64, with a graph driver."""
    base = EngineFacts(server_version="26.1.0", api_version="1.45", os="Debian GNU/Linux 12",
                       cgroup_version="1", security_options=("name=seccomp",), root_dir="/",
                       endpoint=FAKE_ENDPOINT, architecture="x86_64")
    return replace(base, **overrides)


# --- the engine ---------------------------------------------------------------------------------

Call = tuple[str, str, dict[str, object]]  # (method, the container/image/stack it names, options)


@dataclass
class FakeEngine:
    """One Docker engine as plain data, satisfying runtime.EngineAPI: the containers it holds,
    its images (reference: id), what its registry refuses (reference: answer; anything else can
    be pulled), what it answers to a privileged trial, each container's log (by name).

    Every call is recorded in `calls`; `failures` makes calls fail on demand, keyed
    "<method> <target>" for one container or image, or "<method>" for all."""

    held: list[ContainerInfo] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    image_envs: dict[str, dict[str, str]] = field(default_factory=dict)  # reference: its ENV
    image_configs: dict[str, ImageConfig] = field(default_factory=dict)  # reference: its config
    # (over image_envs; an image in neither has an empty config)
    registry: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None
    log_texts: dict[str, str] = field(default_factory=dict)
    host_net: str = ""  # its host's /proc/net files, as a helper container prints them
    info: EngineFacts = field(default_factory=engine_facts)
    endpoint: str = FAKE_ENDPOINT
    key: str | None = None  # the stack file's `docker:` it stands for, as Engine.key
    failures: dict[str, Exception] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _ids: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)

    def called(self, method: str) -> list[str]:
        """What the calls of `method` named, in order."""
        with self._lock:
            return [target for name, target, _ in self.calls if name == method]

    def update(self, name_or_id: str, **fields: Unpack[ContainerFields]) -> None:
        """Change a held container, as the engine's own life would (it exits, it restarts)."""
        with self._lock:
            current = self._find(name_or_id)
            assert current is not None, f"no container {name_or_id}"
            self._put(replace(current, **fields))

    # --- facts and images ----------------------------------------------------------------------

    def facts(self) -> EngineFacts:
        self._call("facts", "")
        return self.info

    def image_id(self, ref: str) -> str | None:
        self._call("image_id", ref)
        return self.images.get(ref)

    def image_env(self, ref: str) -> dict[str, str] | None:
        self._call("image_env", ref)
        return dict(self._config(ref).env) if ref in self.images else None

    def image_config(self, ref: str) -> ImageConfig | None:
        self._call("image_config", ref)
        return self._config(ref) if ref in self.images else None

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> str:
        self._call("pull", ref)
        if ref in self.registry:
            raise ImageUnavailable(f"image {ref}: the registry refused the pull: "
                                   f"{self.registry[ref]}")
        progress(PullProgress(ref, "Pull complete", 1, 1))
        with self._lock:
            return self.images.setdefault(ref, f"sha256:pulled-{ref}")

    def registry_problem(self, ref: str) -> str | None:
        self._call("registry_problem", ref)
        return self.registry.get(ref)

    def try_privileged(self, image: str, *, labels: Mapping[str, str]) -> str | None:
        self._call("try_privileged", image, labels=dict(labels))
        return self.refusal

    def host_network(self, image: str, *, labels: Mapping[str, str]) -> str:
        """`host_net` as a helper container would print it (hostinfo.HOST_NET_FILES)."""
        self._call("host_network", image, labels=dict(labels))
        return self.host_net

    # --- containers ----------------------------------------------------------------------------

    def containers(
        self, *, stack: str | None = None, role: str | None = None, inspect: bool = True
    ) -> list[ContainerInfo]:
        self._call("containers", stack or "", role=role, inspect=inspect)
        with self._lock:
            found = [c for c in self.held if LABEL_STACK in c.labels
                     and (not stack or c.stack == stack) and (not role or c.role == role)]
        return [self._out(c) if inspect else self._listed(c) for c in found]

    def named(self, names: Iterable[str]) -> list[ContainerInfo]:
        wanted = set(names)
        self._call("named", ",".join(sorted(wanted)))
        with self._lock:
            return [self._listed(c) for c in self.held if c.name in wanted]

    def all_containers(self) -> list[ContainerInfo]:
        self._call("all_containers", "")
        with self._lock:
            return [self._out(c) for c in self.held]

    def get(self, name_or_id: str) -> ContainerInfo | None:
        self._call("get", name_or_id)
        with self._lock:
            found = self._find(name_or_id)
        return None if found is None else self._out(found)

    def create_and_start(self, spec: ContainerSpec) -> ContainerInfo:
        self._call("create_and_start", spec.name)
        with self._lock:
            if self._find(spec.name) is not None:
                raise ContainerFailed(f"container {spec.name}: can't create it: Conflict. The "
                                      f'container name "/{spec.name}" is already in use')
            if spec.image not in self.images:
                raise ImageUnavailable(
                    f"container {spec.name}: image {spec.image} is not on the engine",
                    hint="rerun with --pull missing")
            created = container(spec.name, dict(spec.labels),
                                id=f"id-{spec.name}-{next(self._ids)}", image=spec.image,
                                image_id=self.images[spec.image], env=dict(spec.env))
            self.held.append(created)
        return self._out(created)

    def start(self, name: str, *, spec: ContainerSpec | None = None) -> None:
        self._call("start", name)
        with self._lock:
            current = self._find(name)
            if current is None:
                raise ContainerFailed(f"container {name}: can't start it: No such container")
            self._put(replace(current, status="running"))

    def remove(self, name_or_id: str, *, grace: int | None = 5) -> bool:
        self._call("remove", name_or_id, grace=grace)
        with self._lock:
            current = self._find(name_or_id)
            if current is None:
                return False
            self.held.remove(current)
        return True

    def pause(self, name_or_id: str) -> None:
        self._call("pause", name_or_id)
        with self._lock:
            current = self._find(name_or_id)
            if current is not None and current.running:
                self._put(replace(current, status="paused"))

    def logs(self, name: str, *, tail: int | str = "all", timestamps: bool = False) -> str:
        self._call("logs", name, tail=tail, timestamps=timestamps)
        return _tail(self._log_of(name), tail)

    def inspect(self, name_or_id: str) -> dict[str, Any] | None:
        self._call("inspect", name_or_id)
        with self._lock:
            found = self._find(name_or_id)
        return None if found is None else _document(found)

    def follow_logs(self, name: str, *, tail: int | str = "all") -> Iterator[str]:
        self._call("follow_logs", name, tail=tail)
        yield from _tail(self._log_of(name), tail).splitlines()

    # --- inside --------------------------------------------------------------------------------

    def _call(self, method: str, target: str, **options: object) -> None:
        with self._lock:
            self.calls.append((method, target, options))
            failure = self.failures.get(f"{method} {target}") or self.failures.get(method)
        if failure is not None:
            raise failure

    def _config(self, ref: str) -> ImageConfig:
        return self.image_configs.get(ref) or ImageConfig(env=dict(self.image_envs.get(ref, {})))

    def _find(self, name_or_id: str) -> ContainerInfo | None:
        return next((c for c in self.held if name_or_id in (c.id, c.name)), None)

    def _put(self, info: ContainerInfo) -> None:
        self.held[:] = [info if c.id == info.id else c for c in self.held]

    def _log_of(self, name_or_id: str) -> str:
        with self._lock:
            found = self._find(name_or_id)
        return self.log_texts.get(found.name if found else name_or_id, "")

    def _out(self, info: ContainerInfo) -> ContainerInfo:
        """As Engine answers: each container names the engine it lives on."""
        return replace(info, engine=self.key)

    def _listed(self, info: ContainerInfo) -> ContainerInfo:
        """As the engine's listing shows a container (no inspect)."""
        return replace(info, env={}, restart_count=0, started_at="", exit_code=0, engine=self.key)


def _tail(text: str, tail: int | str) -> str:
    if tail == "all":
        return text
    count = int(tail)
    return "".join(text.splitlines(keepends=True)[-count:]) if count > 0 else ""


def _document(info: ContainerInfo) -> dict[str, Any]:
    """What `docker inspect` shows of `info` (the parts runtime reads back)."""
    return {
        "Id": info.id,
        "Name": "/" + info.name,
        "Image": info.image_id,
        "RestartCount": info.restart_count,
        "State": {"Status": info.status, "StartedAt": info.started_at,
                  "ExitCode": info.exit_code},
        "Config": {"Image": info.image, "Labels": dict(info.labels),
                   "Env": [f"{k}={v}" for k, v in info.env.items()]},
    }


TUTORIAL_FILE = Path(__file__).resolve().parents[1] / "examples" / "tutorial.yaml"


def tutorial(override: str = "") -> str:
    """examples/tutorial.yaml (the tutorial's stack) with the sections of the YAML `override`
    merged into it key by key, as stack-file text."""
    import yaml

    from mesostack.config import _StackLoader  # `on:` is a key, not `true`

    merged: dict[str, Any] = yaml.safe_load(TUTORIAL_FILE.read_text())
    for section, value in (yaml.load(override, Loader=_StackLoader) or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **value}
        else:
            merged[section] = value
    return yaml.safe_dump(merged, sort_keys=False)
