"""The only module that imports `docker`: images, containers by label, logs, engine facts.

Every docker-py error leaves this module as one of ours, naming the image or container at fault.
(`requests` is imported only to catch the transport errors docker-py lets through.) docker-py is
imported when the first engine is connected, and its ssh transport (paramiko) only once an
ssh:// engine is (see `_load_docker`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import requests

from mesostack import imageref, waiting
from mesostack.errors import MesostackError
from mesostack.plan import LABEL_PREFIX, LABEL_ROLE, LABEL_STACK, ContainerSpec

T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"
UNREACHABLE_HINT = "is Docker running? try `docker ps`"
# How long a command waits for an engine's first answer (a version and a ping): an ssh
# handshake and `docker system dial-stdio` take 0.5-1.5 s, a host that is off the network
# would otherwise hold a command for docker-py's 60 s, or for good through ssh.
FIRST_ANSWER_S = 5.0

docker: Any = None  # docker-py, once `_load_docker` has imported it


def _is_ssh(endpoint: str | None) -> bool:
    return (endpoint or os.environ.get("DOCKER_HOST") or "").startswith("ssh://")


_loading = threading.Lock()  # engines may be connected from several threads at once


def _load_docker(*, ssh: bool) -> None:
    """Import docker-py, once per process; with `ssh`, its ssh transport too.

    docker-py imports its ssh transport, and with it paramiko (and paramiko's invoke), whenever
    paramiko is installed (`docker[ssh]`), for every endpoint: about half of `import docker`.
    When no ssh:// engine is wanted, paramiko is hidden while docker-py loads (a None entry in
    `sys.modules` makes its import fail), so docker-py loads as it does without its `ssh`
    extra; an ssh:// engine connected later adds the transport then (`_add_ssh_transport`)."""
    global docker
    with _loading:
        if docker is None:
            if ssh or "docker" in sys.modules or "paramiko" in sys.modules:
                import docker
            else:
                sys.modules["paramiko"] = None  # type: ignore[assignment]
                try:
                    import docker
                finally:
                    del sys.modules["paramiko"]
            import docker.errors
        if ssh and not hasattr(docker.api.client, "SSHHTTPAdapter"):
            _add_ssh_transport()
        if ssh:
            _keep_ssh_connections()


def _add_ssh_transport() -> None:
    """Do what docker-py's imports do when paramiko is there: its API client builds an ssh://
    connection with the `SSHHTTPAdapter` it found at import (`docker.transport`'s, imported
    from `docker.transport.sshconn`), and says "install paramiko" when it found none."""
    try:
        from docker.transport.sshconn import SSHHTTPAdapter
    except ImportError as exc:
        raise EngineUnreachable(
            f"an ssh:// Docker engine needs docker-py's ssh transport: {_short(exc)}",
            hint="install paramiko (`pip install 'docker[ssh]'`)") from None
    docker.transport.SSHHTTPAdapter = SSHHTTPAdapter
    docker.api.client.SSHHTTPAdapter = SSHHTTPAdapter


SSH_POOL = "ssh"  # the one connection pool of an ssh:// engine's adapter


def _session_open(sock: Any) -> bool:
    """Whether an idle connection through `ssh` can take a request: its ssh runs and its
    stdout has nothing to read (between answers, readable means the end: what urllib3 asks of
    a socket)."""
    process = getattr(sock, "proc", None)
    if process is None or process.poll() is not None or process.stdout.closed:
        return False
    import select

    readable, _, _ = select.select([process.stdout], [], [], 0)
    return not readable


def _end_session(conn: Any) -> None:
    """Close a connection through `ssh` whose session is over: docker-py's close writes to the
    ssh process's stdin, which fails once that process has ended."""
    process = getattr(conn.sock, "proc", None)
    with contextlib.suppress(OSError):
        conn.close()
    if process is not None and process.poll() is None:
        process.terminate()
    if process is not None:
        with contextlib.suppress(Exception):
            process.wait(timeout=1)  # reaped here, not left to the garbage collector


def _keep_ssh_connections() -> None:
    """Let docker-py reuse its connections through the `ssh` command.

    Its ssh adapter, when it shells out to `ssh` (as mesostack has it, so the user's ssh
    config holds), hands every request a new connection pool that is dropped afterwards, and
    the one connection could not be used twice anyway: its response file is the ssh
    process's own stdout, closed with the response. So each request paid a new SSH handshake
    and `docker system dial-stdio` (0.5-0.8 s each to a host of the test bed; `status` made 40
    of them). Here each adapter keeps one pool (for every URL: they all go to the one engine),
    each response reads a file of its own on that stdout, and a connection whose ssh has ended
    is dialled again."""
    from docker.transport import sshconn

    adapter: Any = sshconn.SSHHTTPAdapter
    if getattr(adapter, "_mesostack_pooled", False):
        return

    class Pool(sshconn.SSHConnectionPool):  # type: ignore[misc]
        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            if conn.sock is not None and not _session_open(conn.sock):
                _end_session(conn)
                return self._new_conn()
            return conn

    def makefile(self: Any, mode: str) -> Any:
        if not self.proc:
            self.connect()
        reader = os.fdopen(os.dup(self.proc.stdout.fileno()), "rb")
        reader.channel = self  # type: ignore[attr-defined]  # where docker-py finds the socket
        return reader

    original = adapter.get_connection

    def get_connection(self: Any, url: str, proxies: Any = None) -> Any:
        if self.ssh_client:  # paramiko's: pooled already
            return original(self, url, proxies)
        with self.pools.lock:
            pool = self.pools.get(SSH_POOL)
            if pool is None:
                pool = Pool(timeout=self.timeout, maxsize=self.max_pool_size,
                            host=self.ssh_host)
                self.pools[SSH_POOL] = pool
        return pool

    sshconn.SSHSocket.makefile = makefile
    adapter.get_connection = get_connection
    adapter._mesostack_pooled = True


class EngineUnreachable(MesostackError):
    pass


class ImageUnavailable(MesostackError):
    pass


class ContainerFailed(MesostackError):
    pass


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    status: str  # created, running, restarting, exited, paused, dead
    image: str  # the reference it was created from
    image_id: str
    labels: Mapping[str, str]
    restart_count: int
    started_at: str
    exit_code: int
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    engine: str | None = None  # the Docker endpoint it lives on (None: the usual one)

    @property
    def stack(self) -> str:
        return self.labels.get(LABEL_STACK, "")

    @property
    def role(self) -> str:
        return self.labels.get(LABEL_ROLE, "")

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class EngineFacts:
    server_version: str
    api_version: str
    os: str
    cgroup_version: str
    security_options: tuple[str, ...]
    root_dir: str
    endpoint: str
    min_api_version: str = ""  # the oldest API version it accepts from clients ("" unknown)
    architecture: str = ""  # the host's, as `docker info` says it (x86_64, aarch64; "" unknown)
    containerd_store: bool = False  # images kept by containerd's snapshotter, not a graph driver


@dataclass(frozen=True)
class ImageConfig:
    """What an image's own config sets for its containers (its ENV, ENTRYPOINT, CMD, USER) and
    the CPU architecture it was built for (Go's names: amd64, arm64; "" when it doesn't say)."""

    env: Mapping[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    architecture: str = ""


def api_version(text: str) -> tuple[int, int] | None:
    """`1.24` as (1, 24); None for "" (unknown) or anything else."""
    major, dot, minor = text.partition(".")
    return (int(major), int(minor)) if dot and major.isdigit() and minor.isdigit() else None


@dataclass(frozen=True)
class PullProgress:
    image: str
    status: str
    current: int = 0  # compressed bytes transferred (with `exact`, layers already there too)
    total: int = 0
    exact: bool = False  # the total is the registry's, not the sum of the layers seen so far


LOOKUP_WAIT = 3.0  # how long a pull's first report waits for the registry's layer sizes
LAYER_DONE = ("Already exists", "Verifying Checksum", "Download complete", "Extracting",
              "Pull complete")  # a pull stream's statuses for a layer that needs no more bytes


class _Tally:
    """A pull's transferred and total bytes, from the engine's stream and, when the registry
    gave them, the manifest's layer sizes (by short id, as the stream names layers)."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] | None = None
        self._seen: dict[str, int] = {}  # each layer's size as the stream gives it
        self._got: dict[str, int] = {}  # bytes downloaded, by layer
        self._done: set[str] = set()
        self._taken = False

    def take(self, sizes: dict[str, int] | None) -> None:
        """Count against the registry's sizes from when they come (once: not again after the
        stream showed a layer they don't have)."""
        if sizes is not None and not self._taken:
            self._taken = True
            self.sizes = None if any(layer not in sizes for layer in self._seen) else sizes

    def read(self, event: Mapping[str, Any]) -> None:
        layer, status = str(event.get("id") or ""), str(event.get("status", ""))
        detail = event.get("progressDetail") or {}
        if not layer:
            return
        if detail.get("total"):
            self._seen[layer] = int(detail["total"])
            if self.sizes is not None and layer not in self.sizes:
                self.sizes = None  # the registry's manifest is not the one being pulled
        if status in LAYER_DONE:
            self._done.add(layer)
        elif status == "Downloading" and detail.get("total"):
            self._got[layer] = int(detail.get("current", 0))

    def progress(self, ref: str, status: str) -> PullProgress:
        sizes = self._seen if self.sizes is None else self.sizes
        current = sum(size if layer in self._done else min(self._got.get(layer, 0), size)
                      for layer, size in sizes.items())
        return PullProgress(ref, status, current, sum(sizes.values()),
                            exact=self.sizes is not None)


class _SizeLookup:
    """The registry's layer sizes for an image, looked up beside the engine's pull; it never
    fails the pull (any problem is None)."""

    def __init__(self, engine: Engine, ref: str) -> None:
        self._found: dict[str, int] | None = None
        self._answered = threading.Event()
        self._waited = False
        threading.Thread(target=self._look, args=(engine, ref), daemon=True,
                         name=f"layer sizes of {ref}").start()

    def _look(self, engine: Engine, ref: str) -> None:
        try:
            from mesostack import registry

            info = engine._client.info()
            machine = str(info.get("Architecture") or "")  # unknown: no index entry to pick
            platform = registry.Platform.of_engine(str(info.get("OSType") or ""), machine)
            found = registry.layer_sizes(ref, platform, engine_local=_is_local(engine.endpoint)
                                         ) if machine else None
            if found is not None:
                self._found = {digest.partition(":")[2][:12]: size
                               for digest, size in found.items()}
        except Exception:  # anything at all: the pull goes on with the total it sees
            self._found = None
        finally:
            self._answered.set()

    def sizes(self) -> dict[str, int] | None:
        """The first call waits for the registry up to LOOKUP_WAIT; later ones take its answer
        if it has come."""
        if not self._waited:
            self._waited = True
            self._answered.wait(LOOKUP_WAIT)
        return self._found if self._answered.is_set() else None


def _is_local(endpoint: str) -> bool:
    """Whether the engine shares this machine's loopback (a registry at 127.0.0.1 is its)."""
    if endpoint.startswith(("unix://", "npipe://")):
        return True
    host = endpoint.partition("://")[2].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1")


def _info(container: Any, key: str | None = None) -> ContainerInfo:
    attrs = container.attrs
    state = attrs.get("State", {})
    return ContainerInfo(
        id=container.id,
        name=attrs.get("Name", "").lstrip("/") or container.name,
        status=state.get("Status", "unknown"),
        image=attrs.get("Config", {}).get("Image", ""),
        image_id=attrs.get("Image", ""),
        labels=dict(attrs.get("Config", {}).get("Labels") or {}),
        restart_count=int(attrs.get("RestartCount", 0)),
        started_at=state.get("StartedAt", ""),
        exit_code=int(state.get("ExitCode", 0)),
        env=dict(item.split("=", 1) for item in attrs.get("Config", {}).get("Env") or []
                 if "=" in item),
        engine=key,
    )


def _summary(entry: Mapping[str, Any], key: str | None) -> ContainerInfo:
    """A container as the engine's listing shows it (no inspect)."""
    names = entry.get("Names") or []
    return ContainerInfo(
        id=entry["Id"],
        name=names[0].lstrip("/") if names else entry["Id"][:12],
        status=entry.get("State", "unknown"),
        image=entry.get("Image", ""),
        image_id=entry.get("ImageID", ""),
        labels=dict(entry.get("Labels") or {}),
        restart_count=0,
        started_at="",
        exit_code=0,
        engine=key,
    )


def _engine_call(
    what: str,
) -> Callable[[Callable[Concatenate[Engine, P], T]], Callable[Concatenate[Engine, P], T]]:
    """Turn connection failures into EngineUnreachable and other engine errors into ours."""

    def wrap(func: Callable[Concatenate[Engine, P], T]) -> Callable[Concatenate[Engine, P], T]:
        @functools.wraps(func)
        def inner(engine: Engine, /, *args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return func(engine, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _stopped_answering(engine.endpoint, what, exc) from None
            except docker.errors.APIError as exc:
                raise MesostackError(f"{what}: Docker said: {_explain(exc)}") from None

        return inner

    return wrap


def _stopped_answering(endpoint: str, what: str, exc: BaseException) -> EngineUnreachable:
    return EngineUnreachable(
        f"the Docker engine at {endpoint} stopped answering while {what}: {_short(exc)}",
        hint=UNREACHABLE_HINT)


def _silent(endpoint: str | None, within: float) -> EngineUnreachable:
    shown = endpoint or os.environ.get("DOCKER_HOST") or DEFAULT_ENDPOINT
    return EngineUnreachable(f"the Docker engine at {shown} did not answer within {within:g} s",
                             hint="is its host up and reachable from here?")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _explain(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    return str(explanation or exc).strip()


class EngineAPI(Protocol):
    """What the rest of mesostack asks of one Docker engine. `Engine` does it over docker-py;
    the unit tests' fake engine does it over plain data, so code written against this runs
    under both."""

    @property
    def endpoint(self) -> str: ...  # for messages

    def facts(self) -> EngineFacts: ...

    def image_id(self, ref: str) -> str | None: ...

    def image_env(self, ref: str) -> dict[str, str] | None: ...

    def image_config(self, ref: str) -> ImageConfig | None: ...

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> str: ...

    def registry_problem(self, ref: str) -> str | None: ...

    def try_privileged(self, image: str, *, labels: Mapping[str, str]) -> str | None: ...

    def host_network(self, image: str, *, labels: Mapping[str, str]) -> str: ...

    def containers(
        self, *, stack: str | None = None, role: str | None = None, inspect: bool = True
    ) -> list[ContainerInfo]: ...

    def named(self, names: Iterable[str]) -> list[ContainerInfo]: ...

    def all_containers(self) -> list[ContainerInfo]: ...

    def get(self, name_or_id: str) -> ContainerInfo | None: ...

    def create_and_start(self, spec: ContainerSpec) -> ContainerInfo: ...

    def start(self, name: str, *, spec: ContainerSpec | None = None) -> None: ...

    def remove(self, name_or_id: str, *, grace: int | None = 5) -> bool: ...

    def pause(self, name_or_id: str) -> None: ...

    def logs(self, name: str, *, tail: int | str = "all", timestamps: bool = False) -> str: ...

    def inspect(self, name_or_id: str) -> dict[str, Any] | None: ...

    def follow_logs(self, name: str, *, tail: int | str = "all") -> Iterator[str]: ...


class Engine:
    """A connection to one Docker engine."""

    def __init__(self, client: Any, endpoint: str, key: str | None = None) -> None:
        self._client = client
        self.endpoint = endpoint  # for messages
        self.key = key  # the stack file's `docker:` for its host; None: the usual engine

    @classmethod
    def connect(cls, endpoint: str | None = None, *, timeout: float = 60) -> Engine:
        """The engine at `endpoint` (unix://, tcp:// with TLS from DOCKER_TLS_VERIFY and
        DOCKER_CERT_PATH, ssh://user@host), or the usual environment's; checked with a ping."""
        shown = endpoint or os.environ.get("DOCKER_HOST") or DEFAULT_ENDPOINT
        _load_docker(ssh=_is_ssh(endpoint))
        try:
            if endpoint is None:
                client = docker.from_env(timeout=timeout)
            else:
                tls = _tls_for(endpoint)
                # requests lets $REQUESTS_CA_BUNDLE/$CURL_CA_BUNDLE override a session's own CA
                # (the engine's, here): keep them out while connecting, and out of the session.
                with _without_env("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if tls else (
                        contextlib.nullcontext()):
                    client = docker.DockerClient(
                        base_url=endpoint, timeout=timeout, tls=tls,
                        use_ssh_client=endpoint.startswith("ssh://"),
                    )
                if tls:
                    client.api.trust_env = False
            client.ping()
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise EngineUnreachable(
                f"cannot reach the Docker engine at {shown}: {_short(exc)}", hint=UNREACHABLE_HINT
            ) from None
        return cls(client, shown, endpoint)

    # --- facts ---------------------------------------------------------------------------------

    @_engine_call("reading the engine's facts")
    def facts(self) -> EngineFacts:
        info = self._client.info()
        version = self._client.version()
        return EngineFacts(
            server_version=str(version.get("Version", "?")),
            api_version=str(version.get("ApiVersion", "?")),
            os=str(info.get("OperatingSystem", "?")),
            cgroup_version=str(info.get("CgroupVersion", "1")),
            security_options=tuple(info.get("SecurityOptions") or ()),
            root_dir=str(info.get("DockerRootDir", "")),
            endpoint=self.endpoint,
            min_api_version=str(version.get("MinAPIVersion", "")),
            architecture=str(info.get("Architecture", "")),
            containerd_store=_containerd_store(info.get("DriverStatus")),
        )

    # --- images --------------------------------------------------------------------------------

    @_engine_call("looking up an image")
    def image_id(self, ref: str) -> str | None:
        try:
            return str(self._client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None

    def image_env(self, ref: str) -> dict[str, str] | None:
        """What the image's own config sets in its containers' environment (its ENV lines);
        None when the engine doesn't have it."""
        config = self.image_config(ref)
        return None if config is None else dict(config.env)

    @_engine_call("looking up an image")
    def image_config(self, ref: str) -> ImageConfig | None:
        """The image's own config, as the engine has it; None when the engine doesn't."""
        try:
            return image_config_of(self._client.api.inspect_image(ref))
        except docker.errors.ImageNotFound:
            return None

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> str:
        """Pull `ref`, reporting progress; returns the image id. Registry credentials come from
        the Docker client's config, as `docker login` left them."""
        repo, tag = imageref.parse(ref).pull_args()
        lookup, tally = _SizeLookup(self, ref), _Tally()
        try:
            stream = self._client.api.pull(repo, tag=tag, stream=True, decode=True)
            for event in stream:
                if "error" in event:
                    raise _refused(ref, str(event["error"]).strip(),
                                   "the registry refused the pull")
                tally.take(lookup.sizes())
                tally.read(event)
                progress(tally.progress(ref, str(event.get("status", ""))))
        except docker.errors.APIError as exc:
            raise _refused(ref, _explain(exc), "can't pull it") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, f"pulling {ref}", exc) from None
        image = self.image_id(ref)
        if image is None:
            raise ImageUnavailable(f"image {ref}: the pull ended but the engine doesn't have it")
        return image

    def registry_problem(self, ref: str) -> str | None:
        """None when the registry has `ref`; else the registry's answer (nothing is pulled)."""
        try:
            self._client.images.get_registry_data(ref)
        except docker.errors.APIError as exc:
            return _explain(exc)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, f"asking about {ref}", exc) from None
        return None

    # --- containers ----------------------------------------------------------------------------

    @_engine_call("listing containers")
    def containers(
        self, *, stack: str | None = None, role: str | None = None, inspect: bool = True
    ) -> list[ContainerInfo]:
        """Containers carrying our labels (all stacks when `stack` is None). `inspect=False`:
        the listing alone, one call, without env, restart count, start time or exit code."""
        label = [f"{LABEL_STACK}={stack}" if stack else LABEL_STACK]
        if role:
            label.append(f"{LABEL_ROLE}={role}")
        if not inspect:
            return self._summaries(filters={"label": label})
        found = self._list(filters={"label": label})
        return [_info(c, self.key) for c in found]

    @_engine_call("listing containers")
    def named(self, names: Iterable[str]) -> list[ContainerInfo]:
        """The containers with exactly these names, whatever their labels (one listing, as
        `containers(inspect=False)` gives them)."""
        wanted = set(names)
        if not wanted:
            return []
        # The engine's name filter matches parts of names: keep the exact ones.
        return [c for c in self._summaries(filters={"name": sorted(wanted)}) if c.name in wanted]

    @_engine_call("listing containers")
    def all_containers(self) -> list[ContainerInfo]:
        return [_info(c, self.key) for c in self._list()]

    def _list(self, filters: Mapping[str, Any] | None = None) -> list[Any]:
        """Containers, all states, each inspected; one removed while being listed is left out."""
        return list(self._client.containers.list(all=True, filters=dict(filters or {}),
                                                 ignore_removed=True))

    def _summaries(self, filters: Mapping[str, Any]) -> list[ContainerInfo]:
        return [_summary(entry, self.key)
                for entry in self._client.api.containers(all=True, filters=dict(filters))]

    @_engine_call("inspecting a container")
    def get(self, name_or_id: str) -> ContainerInfo | None:
        try:
            return _info(self._client.containers.get(name_or_id), self.key)
        except docker.errors.NotFound:
            return None

    def create_and_start(self, spec: ContainerSpec) -> ContainerInfo:
        """Create, start, and inspect once: three calls (docker-py's `containers.create`
        inspects what it created, a call the start makes stale)."""
        api = self._client.api
        try:
            created = api.create_container(
                spec.image,
                name=spec.name,
                environment=dict(spec.env),
                labels=dict(spec.labels),
                detach=True,
                volumes=[m.target for m in spec.mounts],
                host_config=api.create_host_config(
                    binds=[str(m) if m.read_only else f"{m}:rw" for m in spec.mounts],
                    network_mode="host",
                    privileged=spec.privileged,
                    restart_policy=_restart_policy(spec.restart),
                ),
            )
        except docker.errors.ImageNotFound:
            raise ImageUnavailable(
                f"container {spec.name}: image {spec.image} is not on the engine",
                hint="rerun with --pull missing",
            ) from None
        except docker.errors.APIError as exc:
            raise ContainerFailed(f"container {spec.name}: can't create it: {_explain(exc)}",
                                  hint=_fix_for(_explain(exc), spec)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, f"creating {spec.name}", exc) from None
        self.start(spec.name, spec=spec)
        info = self.get(created["Id"])
        if info is None:
            raise ContainerFailed(f"container {spec.name}: removed right after it started",
                                  hint="another program removes it: rerun `mesostack up`")
        return info

    def start(self, name: str, *, spec: ContainerSpec | None = None) -> None:
        try:
            self._client.api.start(name)
        except docker.errors.APIError as exc:
            raise ContainerFailed(f"container {name}: can't start it: {_explain(exc)}",
                                  hint=_fix_for(_explain(exc), spec)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, f"starting {name}", exc) from None

    @_engine_call("removing a container")
    def remove(self, name_or_id: str, *, grace: int | None = 5) -> bool:
        """Remove a container; False when it was already gone. With `grace`, a running one
        first gets SIGTERM and up to `grace` seconds to stop; with None it is killed at once,
        as `docker rm -f` does."""
        try:
            if grace is not None:
                container = self._client.containers.get(name_or_id)
                if container.status in ("running", "restarting", "paused"):
                    container.stop(timeout=grace)
            self._client.api.remove_container(name_or_id, force=True, v=True)
        except docker.errors.NotFound:
            return False
        return True

    @_engine_call("pausing a container")
    def pause(self, name_or_id: str) -> None:
        """Freeze every process of a running container (a cgroup freezer: much quicker than a
        kill); nothing when it is gone or not running. `remove` still removes it."""
        try:
            self._client.api.pause(name_or_id)
        except docker.errors.APIError as exc:
            if exc.status_code not in (404, 409):  # 409: not running, or paused already
                raise

    @_engine_call("reading logs")
    def logs(self, name: str, *, tail: int | str = "all", timestamps: bool = False) -> str:
        try:
            raw = self._client.api.logs(name, stdout=True, stderr=True, tail=tail,
                                        timestamps=timestamps)
        except docker.errors.NotFound:
            return ""
        return bytes(raw).decode(errors="replace")

    @_engine_call("inspecting a container")
    def inspect(self, name_or_id: str) -> dict[str, Any] | None:
        """What `docker inspect` shows (environment included: callers mask it)."""
        try:
            return dict(self._client.api.inspect_container(name_or_id))
        except docker.errors.NotFound:
            return None

    def follow_logs(self, name: str, *, tail: int | str = "all") -> Iterator[str]:
        """Lines of `name`'s log as they come, until the container stops."""
        try:
            stream = self._client.api.logs(
                name, stdout=True, stderr=True, tail=tail, stream=True, follow=True
            )
            pending = b""
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace")
            if pending:
                yield pending.decode(errors="replace")
        except docker.errors.NotFound:
            return
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, f"following {name}'s log", exc) from None

    @contextlib.contextmanager
    def _throwaway(self, image: str, **options: Any) -> Iterator[Any]:
        """A container of `image` made for one look, removed whatever happens (a refused start
        leaves it behind)."""
        container = None
        try:
            container = self._client.containers.create(image, **options)
            yield container
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                    container.remove(force=True)

    def try_privileged(self, image: str, *, labels: Mapping[str, str]) -> str | None:
        """None when the engine starts a privileged container of `image`, else its refusal.

        The trial container is removed whatever happens (a refused start leaves it behind)."""
        try:
            with self._throwaway(image, entrypoint=["true"], privileged=True,
                                 network_mode="host", labels=dict(labels)) as container:
                container.start()
                container.wait(timeout=30)
        except docker.errors.APIError as exc:
            message = _explain(exc)
            # Only a refusal of the privileges counts; an image without `true` still started.
            return message if "caps" in message or "privileged" in message.lower() else None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, "trying a privileged container", exc) from None
        return None

    def host_network(self, image: str, *, labels: Mapping[str, str]) -> str:
        """What the engine's host shows a container on its network: `cat` of
        hostinfo.HOST_NET_FILES in a helper container of `image` (one the host has already),
        removed whatever happens. How a host reached through its engine is checked."""
        from mesostack.hostinfo import HOST_NET_FILES

        try:
            with self._throwaway(image, entrypoint=["cat"], command=list(HOST_NET_FILES),
                                 network_mode="host", labels=dict(labels)) as container:
                container.start()
                status = container.wait(timeout=30)
                output: bytes = container.logs(stdout=True, stderr=False)
        except docker.errors.APIError as exc:
            raise MesostackError(f"{self.endpoint}: a helper container of {image} could not read "
                                 f"the host's addresses and ports: {_explain(exc)}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _stopped_answering(self.endpoint, "reading the host's addresses", exc) from None
        if status.get("StatusCode"):
            raise MesostackError(f"{self.endpoint}: a helper container of {image} could not read "
                                 f"the host's addresses and ports (`cat` exited "
                                 f"{status['StatusCode']})")
        return output.decode(errors="replace")


SCHEMA1_FIX = "use the built-in default's images (`mesostack init` writes them), or another image"


def is_schema1_refusal(message: str) -> bool:
    """The engine's refusal of a schema-1 image: moby's DeprecatedSchema1ImageError, "[DEPRECATION
    NOTICE] ... schema 1 support is disabled by default ..." (Docker 26-28.1) or "... schema 1
    support has been removed." (28.2+), for pulls and registry look-ups alike."""
    text = " ".join(message.split()).lower()
    return "schema 1 support" in text or "deprecated-image-specs" in text


SCHEMA1_SETTING = "DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE"  # Docker 26.0-28.1's daemon


def schema1_problem(ref: str, answer: str = "") -> str:
    """`ref` is schema 1; the engine's `answer` says whether its daemon could pull it: 26.0-28.1
    refuse unless started with SCHEMA1_SETTING, 28.2+ can't (moby's distribution/errors.go)."""
    text = " ".join(answer.split()).lower()
    head = f"image {ref} is in the old schema-1 format, which"
    if "disabled by default" in text:
        return f"{head} this engine pulls only when its daemon runs with {SCHEMA1_SETTING}=1"
    if "has been removed" in text:
        return f"{head} this engine can no longer pull (removed in Docker 28.2)"
    return f"{head} no current Docker engine pulls"


def schema1_fix(answer: str = "") -> str:
    if "disabled by default" in " ".join(answer.split()).lower():
        return f"set it in dockerd's environment, or {SCHEMA1_FIX}"
    return SCHEMA1_FIX


def _refused(ref: str, message: str, what: str) -> ImageUnavailable:
    if is_schema1_refusal(message):
        return ImageUnavailable(schema1_problem(ref, message), hint=schema1_fix(message))
    return ImageUnavailable(f"image {ref}: {what}: {message}", hint=_pull_hint(message))


def _pull_hint(message: str) -> str | None:
    if "not found" in message or "manifest unknown" in message:
        return "check the image name and tag in stack.yaml; `docker login` for private registries"
    return None


@contextlib.contextmanager
def _without_env(*names: str) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _tls_for(endpoint: str) -> Any:
    """docker's TLS settings for a tcp:// endpoint, by the Docker CLI's conventions."""
    if not endpoint.startswith("tcp://") or not os.environ.get("DOCKER_TLS_VERIFY"):
        return False
    import docker.tls

    cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
    return docker.tls.TLSConfig(
        client_cert=(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem")),
        ca_cert=os.path.join(cert_path, "ca.pem"),
        verify=True,
    )


class Engines:
    """The Docker engines of a stack's hosts, one connection per distinct endpoint."""

    def __init__(self, engines: Mapping[str | None, EngineAPI],
                 unreachable: Mapping[str | None, EngineUnreachable] | None = None) -> None:
        self._engines = dict(engines)
        # those that did not answer, when connected with `partial` (their failures)
        self.unreachable = dict(unreachable or {})

    @classmethod
    def connect(cls, endpoints: Iterable[str | None], *, timeout: float = 60,
                partial: bool = False) -> Engines:
        """Every engine of `endpoints`, or the first one's failure (in their order); with
        `partial`, those that answer, the others in `unreachable` (all failing: the first
        failure)."""
        reached = cls.reach(endpoints, timeout=timeout)
        failed = {key: e for key, e in reached.items() if isinstance(e, EngineUnreachable)}
        if failed and (not partial or len(failed) == len(reached)):
            raise next(iter(failed.values()))
        return cls({key: engine for key, engine in reached.items()
                    if not isinstance(engine, EngineUnreachable)}, failed)

    @staticmethod
    def reach(endpoints: Iterable[str | None], *, timeout: float = 60,
              within: float = FIRST_ANSWER_S) -> dict[str | None, Engine | EngineUnreachable]:
        """Each distinct endpoint's engine, or why it can't be reached: the one way engines are
        connected. Side by side, so hosts out of reach cost one wait in all, and at most
        `within` seconds: a host cut off from the network (an ssh:// engine's pipe has no
        timeout at all; a TLS one's would be `timeout`) is told as not answering, its attempt
        left to end on its own. docker-py is loaded first, with its ssh transport when any
        endpoint is ssh://."""
        wanted = list(dict.fromkeys(endpoints))
        _load_docker(ssh=any(_is_ssh(endpoint) for endpoint in wanted))

        def connect(endpoint: str | None) -> Engine | EngineUnreachable:
            try:
                return Engine.connect(endpoint, timeout=timeout)
            except EngineUnreachable as exc:
                return exc

        outcomes = waiting.settle(connect, wanted, deadline=waiting.SYSTEM.now() + within)
        reached: dict[str | None, Engine | EngineUnreachable] = {}
        for endpoint, outcome in zip(wanted, outcomes, strict=True):
            if outcome.error is not None:
                raise outcome.error
            reached[endpoint] = outcome.value or _silent(endpoint, within)
        return reached

    def __getitem__(self, endpoint: str | None) -> EngineAPI:
        return self._engines[endpoint]

    def all(self) -> list[EngineAPI]:
        return list(self._engines.values())

    def containers(self, *, stack: str | None = None, inspect: bool = True
                   ) -> list[ContainerInfo]:
        """Our containers on every engine (one engine reached twice is listed once)."""
        seen: dict[str, ContainerInfo] = {}
        for engine in self._engines.values():
            for info in engine.containers(stack=stack, inspect=inspect):
                seen.setdefault(info.id, info)
        return list(seen.values())

    def engine_of(self, container: ContainerInfo) -> EngineAPI:
        return self._engines.get(container.engine) or next(iter(self._engines.values()))

    def follow_many(
        self, containers: list[ContainerInfo], *, tail: int | str = "all"
    ) -> Iterator[tuple[str, str]]:
        """(name, line) from several logs as they come, until every container stops."""
        def lines(container: ContainerInfo) -> Callable[[], Iterator[tuple[str, str]]]:
            def follow() -> Iterator[tuple[str, str]]:
                for line in self.engine_of(container).follow_logs(container.name, tail=tail):
                    yield container.name, line
            return follow

        return waiting.merge([lines(c) for c in containers])


def image_config_of(inspected: Mapping[str, Any]) -> ImageConfig:
    """An image's config from its `docker image inspect` document."""
    config = inspected.get("Config") or {}

    def words(value: Any) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else tuple(str(v) for v in value or ())

    return ImageConfig(
        env=dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item),
        entrypoint=words(config.get("Entrypoint")), cmd=words(config.get("Cmd")),
        user=str(config.get("User") or ""), architecture=str(inspected.get("Architecture") or ""))


def _containerd_store(status: Any) -> bool:
    """Whether `docker info`'s DriverStatus names the containerd image store (a snapshotter)."""
    return any(isinstance(pair, list | tuple) and len(pair) == 2 and pair[0] == "driver-type"
               and str(pair[1]).startswith("io.containerd.snapshotter") for pair in status or ())


def _restart_policy(name: str) -> dict[str, Any]:
    return {"Name": "" if name == "no" else name}


def _fix_for(message: str, spec: ContainerSpec | None) -> str | None:
    if "apply caps" in message or "privileged" in message.lower():
        role = spec.role.value if spec else "the component"
        return f"this engine refuses privileged containers: set `{role}.privileged: false`"
    if "Conflict" in message or "already in use" in message:
        return "another `mesostack up` may be creating it: wait for it, then rerun"
    return None


def is_ours(labels: Mapping[str, str]) -> bool:
    return any(key.startswith(LABEL_PREFIX) for key in labels)
