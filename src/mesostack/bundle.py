"""The diagnostic bundle: one .tar.gz with everything needed to tell what a stack is doing.

Best effort: each part (a container's log, a master's state, the ZooKeeper tree, ...) is fetched
on its own with a bound on its time; one that fails is named in `manifest.json` and
`README.txt`, with why, and the rest is still collected. Secrets are masked in every member:
by name (variables and keys named like `*PASSWORD*`, `*TOKEN*`, ...) and by value wherever a
known secret appears (components echo their own flags into logs and state).

Docker, HTTP and ZooKeeper are reached through runtime, mesos and marathon.
"""

from __future__ import annotations

import io
import json
import os
import platform
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from mesostack import __version__
from mesostack.components import KINDS, Documents, Kind
from mesostack.credentials import CLIENT_VAR, for_marathon
from mesostack.errors import InputError, MesostackError
from mesostack.masking import find_secrets, mask_document, mask_text, secret_values
from mesostack.plan import tasks_of
from mesostack.waiting import SYSTEM, Clock, settle

if TYPE_CHECKING:
    from mesostack.config import LoadedConfig
    from mesostack.mesos import ZooKeeperTree
    from mesostack.plan import Plan
    from mesostack.runtime import ContainerInfo, EngineAPI

PREFIX = "mesostack-bundle"
LOG_LIMIT = 20 * 1024 * 1024  # bytes of each container's log kept (its end)
DOCKER_TIMEOUT = 30  # seconds for each Docker call


# --- names -------------------------------------------------------------------------------------


def bundle_name(stack: str, now: datetime) -> str:
    """`mesostack-bundle-<stack>-<UTC yyyymmddThhmmssZ>` (the file adds `.tar.gz`)."""
    return f"{PREFIX}-{stack}-{now.strftime('%Y%m%dT%H%M%SZ')}"


def output_path(option: str | None, stack: str, now: datetime) -> Path:
    """Where the bundle goes: `--output` (a file, or a directory to put the usual name in),
    else the usual name in the current directory. An existing file is never overwritten: a
    named file that exists is refused; the usual name, taken by a bundle of the same second,
    gets `-2`, `-3`..."""
    if option and not Path(option).is_dir():
        path = Path(option)
        if _taken(path):
            raise InputError(f"{path} already exists; not overwriting it",
                             hint="remove it or give another --output")
        return path
    directory = Path(option) if option else Path()
    name = bundle_name(stack, now)
    for suffix in ("", *(f"-{n}" for n in range(2, 100))):
        path = directory / f"{name}{suffix}.tar.gz"
        if not _taken(path):
            return path
    raise InputError(f"{directory / name}.tar.gz and 98 more of that second already exist",
                     hint="give another --output")


def top_name(path: Path, stack: str, now: datetime) -> str:
    """The bundle's top directory: its file's name when that is the usual one (`-2` and all),
    else the usual name."""
    usual = bundle_name(stack, now)
    name = path.name.removesuffix(".tar.gz")
    return name if name.startswith(usual) else usual


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def open_new(path: Path) -> IO[bytes]:
    """`path`, created for writing (readable by its owner only: logs can hold anything)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} already exists; not overwriting it",
                         hint="remove it or give another --output") from None
    except OSError as exc:
        raise MesostackError(f"can't write {path}: {exc.strerror}",
                             hint="give a writable --output") from None
    return os.fdopen(fd, "wb")


# --- gathering parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a part's fetch may return to say where the content came from."""

    content: Any
    source: str


@dataclass(frozen=True)
class Part:
    path: str  # under the bundle's top directory; "" for a step that writes no file
    what: str  # for the manifest: "the master's state on 127.0.0.1:5050"
    fetch: Callable[[], Any]  # text (str) or a JSON document, or an Answer of one


@dataclass(frozen=True)
class Outcome:
    path: str
    what: str
    content: Any = None
    error: str = ""
    seconds: float = 0.0
    source: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def failure(what: str, error: BaseException | str) -> Outcome:
    """A step that failed before any part could be fetched (an engine, a listing)."""
    return Outcome("", what, error=error if isinstance(error, str) else _reason(error))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def gather(
    parts: Sequence[Part], *, timeout: float, workers: int = 8, clock: Clock = SYSTEM
) -> list[Outcome]:
    """Fetch every part, `workers` at a time; a part that raises or is not done within
    `timeout` seconds of the start is recorded as failed, and never stops the others."""

    def fetch(part: Part) -> tuple[Any, str]:
        content = part.fetch()
        return (content.content, content.source) if isinstance(content, Answer) else (content, "")

    settled = settle(fetch, parts, workers=workers, deadline=clock.now() + timeout, clock=clock)
    outcomes = []
    for part, one in zip(parts, settled, strict=True):
        if not one.done:
            outcomes.append(Outcome(part.path, part.what, error=f"not done within {timeout:g} s"))
        elif one.error is not None:  # any failure of one part is recorded, not raised
            outcomes.append(Outcome(part.path, part.what, error=_reason(one.error),
                                    seconds=one.seconds))
        else:
            content, source = cast(tuple[Any, str], one.value)
            outcomes.append(Outcome(part.path, part.what, content, seconds=one.seconds,
                                    source=source))
    return outcomes


# --- rendering (pure) --------------------------------------------------------------------------


def render_tree(tree: ZooKeeperTree) -> str:
    """Every znode path with its size and data (text as is, other bytes escaped), indented."""
    lines: list[str] = []
    for node in tree.nodes:
        if node.error:
            lines.append(f"{node.path} ({node.error})")
            continue
        lines.append(f"{node.path} ({node.size} bytes)")
        if node.data:
            text = node.data.decode("utf-8", errors="backslashreplace")
            text = "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}"
                           for c in text)
            lines += [f"  {line}" for line in text.splitlines()]
            if node.size > len(node.data):
                lines.append(f"  ... ({node.size - len(node.data)} more bytes left out)")
    if tree.truncated:
        lines.append(f"# walk {tree.truncated}")
    return "".join(f"{line}\n" for line in lines)


def tree_secrets(tree: ZooKeeperTree) -> set[str]:
    """Secrets in znodes holding JSON (Marathon keeps apps, environments included, there)."""
    found: set[str] = set()
    for node in tree.nodes:
        try:
            document = json.loads(node.data)
        except ValueError:
            continue
        found |= find_secrets(document)
    return found


def cap_log(text: str, limit: int = LOG_LIMIT) -> str:
    """The end of a log of at most `limit` bytes, saying how much was left out."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    kept = raw[-limit:].decode(errors="ignore")
    return f"[... {len(raw) - limit} earlier bytes left out ...]\n{kept}"


@dataclass(frozen=True)
class Heading:
    """What a bundle is: its name, the stack and its file, when and how fast it was made."""

    name: str
    stack: str
    created: datetime
    stack_file: str
    seconds: float
    masked: int  # how many distinct secret values were masked


def manifest(heading: Heading, *, outcomes: Sequence[Outcome],
             containers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the bundle holds and what could not be collected, and why."""
    return {
        "bundle": heading.name,
        "stack": heading.stack,
        "created": heading.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mesostack": __version__,
        "stack_file": heading.stack_file,
        "seconds": round(heading.seconds, 2),
        "containers": list(containers),
        "collected": [{"path": o.path, "what": o.what, "source": o.source,
                       "seconds": round(o.seconds, 2)} for o in outcomes if o.ok and o.path],
        "failed": [{"path": o.path, "what": o.what, "error": o.error}
                   for o in outcomes if not o.ok],
        "masking": {
            "masked_values": heading.masked,
            "rule": "values of variables and keys named like *PASSWORD*, *SECRET*, *TOKEN*, "
                    "*CREDENTIAL* (MARATHON_HTTP_CREDENTIALS among them), and URLs' passwords, "
                    "are replaced by *** wherever they appear",
        },
    }


def readme(document: Mapping[str, Any]) -> str:
    """The manifest for people: what is where, what is missing and why."""
    lines = [f"mesostack diagnostic bundle of stack {document['stack']}, "
             f"made {document['created']} by mesostack {document['mesostack']} "
             f"in {document['seconds']} s.",
             f"Stack file: {document['stack_file']}.",
             "Secrets are masked (***): " + document["masking"]["rule"] + ".", "",
             f"Containers ({len(document['containers'])}):"]
    lines += [f"  {c['name']}  {c['role']}  {c['status']}  {c['image']}"
              for c in document["containers"]] or ["  none found"]
    lines += ["", "Collected:"]
    lines += [f"  {c['path']}  ({c['what']})" for c in document["collected"]]
    lines += ["", "Not collected:"]
    lines += [f"  {f['path'] or '-'}  {f['what']}: {f['error']}"
              for f in document["failed"]] or ["  nothing: every part was collected"]
    return "".join(f"{line}\n" for line in lines)


def summary(document: Mapping[str, Any], path: Path) -> str:
    """One line for the terminal."""
    containers = document["containers"]
    tasks = sum(1 for c in containers if c.get("task"))
    counted = f"{len(containers) - tasks} containers" + (
        f" and {tasks} task containers" if tasks else "")
    failed = document["failed"]
    missing = (f"; not collected: {', '.join(f['path'] or f['what'] for f in failed)} "
               "(see README.txt in the bundle)") if failed else "; nothing missing"
    return (f"stack {document['stack']}: {counted}, {len(document['collected'])} parts in "
            f"{document['seconds']} s, {_size(path.stat().st_size)}{missing}")


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{max(1, round(count / 1e3))} kB"


# --- writing -----------------------------------------------------------------------------------


def write(
    target: IO[bytes],
    *,
    top: str,
    outcomes: Sequence[Outcome],
    secrets: Iterable[str],
    extra: Mapping[str, Any],
    mtime: float,
) -> None:
    """A gzipped tar of `top/` holding each collected part and `extra` (path → text or JSON),
    every member masked."""
    known = set(secrets)
    with tarfile.open(fileobj=target, mode="w:gz") as tar:
        members = [(o.path, o.content) for o in outcomes if o.ok and o.path]
        for path, content in [*members, *extra.items()]:
            if isinstance(content, str):
                text = mask_text(content, known)
            else:
                text = json.dumps(mask_document(content, known), indent=2) + "\n"
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
            tar.addfile(info, io.BytesIO(data))


# --- the real sources --------------------------------------------------------------------------


@dataclass
class Stack:
    """What the bundle is about: the config, its plan, the engines and containers found."""

    loaded: LoadedConfig
    plan: Plan
    engines: dict[str | None, EngineAPI] = field(default_factory=dict)
    containers: list[ContainerInfo] = field(default_factory=list)
    tasks: list[ContainerInfo] = field(default_factory=list)
    problems: list[Outcome] = field(default_factory=list)


def discover(loaded: LoadedConfig, plan: Plan) -> Stack:
    """Connect to each of the stack's engines and find its containers (stopped ones too) and
    the task containers its agents report; what can't be reached is noted."""
    from mesostack import orchestrator
    from mesostack.runtime import Engines

    found = Stack(loaded, plan)
    connected = Engines.reach(plan.docker_endpoints, timeout=DOCKER_TIMEOUT)
    for endpoint, engine in connected.items():
        if isinstance(engine, MesostackError):
            found.problems.append(failure(f"the Docker engine {endpoint or ''}".rstrip(), engine))
            continue
        found.engines[endpoint] = engine
        try:
            for info in engine.containers(stack=plan.stack):
                if info.id not in {c.id for c in found.containers}:
                    found.containers.append(info)
        except MesostackError as exc:
            found.problems.append(failure(f"the stack's containers on {engine.endpoint}", exc))
    if found.engines:
        try:
            tasks, unreachable = orchestrator.task_containers(
                Engines(found.engines), found.containers, patience=0)
        except MesostackError as exc:
            found.problems.append(failure("the agents' task containers", exc))
        else:
            found.tasks = tasks
            found.problems += [failure(f"task containers of {name}", "its agent did not answer")
                               for name in unreachable]
    return found


NOT_ASKED = ("created", "exited", "dead", "paused")  # container states nothing answers in


@dataclass(frozen=True)
class Instance:
    n: str  # its index among its role ("1" when alone)
    endpoint: str  # ip:port
    skip: str = ""  # why it is not asked (its container is stopped)


def instances(found: Stack, role: str) -> list[Instance]:
    """Each `role` instance to ask: the stack's containers of that role (by their labels;
    a stopped one is not asked, so that nothing else on its port answers for it), and the
    plan's for engines out of reach (they may still run it)."""
    from mesostack.plan import LABEL_ENDPOINT, LABEL_INDEX, Role

    found_here = [Instance(c.labels.get(LABEL_INDEX, "1"), c.labels.get(LABEL_ENDPOINT, ""),
                           f"its container {c.name} is {c.status}" if c.status in NOT_ASKED
                           else "")
                  for c in found.containers if c.role == role]
    seen = {i.endpoint for i in found_here}
    unreached = [Instance(str(s.index or 1), s.endpoint) for s in found.plan.of(Role(role))
                 if s.docker not in found.engines and s.endpoint not in seen]
    return sorted([i for i in found_here if i.endpoint] + unreached,
                  key=lambda i: (int(i.n) if i.n.isdigit() else 0, i.endpoint))


def _refuse(why: str) -> Callable[[], Any]:
    def fetch() -> Any:
        raise MesostackError(why)
    return fetch


def marathon_credentials(found: Stack) -> str | None:
    """What a request to the stack's own Marathon carries (`for_marathon`): the
    user's, else the running Marathon's own, else the stack file's."""
    running = [c.env for c in found.containers if c.role == "marathon"]
    return for_marathon(None, own=[*running, found.loaded.config.marathon.env])


def known_secrets(found: Stack) -> set[str]:
    """Secret values named in the stack file, the containers' environments and the client's."""
    config = found.loaded.config
    secrets: set[str] = set()
    for role in config.ROLES:
        secrets |= secret_values(config.component(role).env)
    for c in [*found.containers, *found.tasks]:
        secrets |= secret_values(c.env)
    return secrets | secret_values({k: v for k, v in os.environ.items()
                                    if k == CLIENT_VAR})


def parts(found: Stack) -> list[Part]:
    """Everything to fetch: each container's log and inspect data, then each component's
    documents as its role's description says (each master's and agent's state, Marathon's
    apps, deployments, queue and info, each ZooKeeper server's `srvr` and the ZooKeeper tree)."""
    out = _container_parts(found)
    for kind in sorted(KINDS.values(), key=lambda k: list(Documents).index(k.documents)):
        out += _COLLECTORS[kind.documents](found, kind)
    return out


def _container_parts(found: Stack) -> list[Part]:
    out: list[Part] = []
    for c in [*found.containers, *found.tasks]:
        engine = found.engines[c.engine]

        def logs(engine: EngineAPI = engine, c: ContainerInfo = c) -> str:
            return cap_log(engine.logs(c.id, timestamps=True))

        def inspect(engine: EngineAPI = engine, c: ContainerInfo = c) -> Any:
            document = engine.inspect(c.id)
            if document is None:
                raise MesostackError(f"container {c.name} is gone")
            return document

        out.append(Part(f"containers/{c.name}/logs.txt", f"{c.name}'s log", logs))
        out.append(Part(f"containers/{c.name}/inspect.json", f"{c.name}'s inspect data",
                        inspect))
    return out


def _mesos_parts(found: Stack, kind: Kind) -> list[Part]:
    """Each instance's own state document."""
    from mesostack import mesos

    name, paths = kind.document_name, mesos.STATE_PATHS[kind.document_name]

    def state(endpoint: str) -> Callable[[], Answer]:
        def fetch() -> Answer:
            path, document = mesos.component_state(endpoint, paths)
            return Answer(document, f"GET http://{endpoint}{path}")
        return fetch

    asked = instances(found, kind.role)
    if not asked:
        return [Part(f"mesos/{name}-1-state.json", f"the {name}'s state",
                     _refuse(f"the stack has no {kind.role.value} container"))]
    return [Part(f"mesos/{name}-{i.n}-state.json", f"the {name}'s state on {i.endpoint}",
                 _refuse(f"not asked: {i.skip}") if i.skip else state(i.endpoint))
            for i in asked]


def _marathon_parts(found: Stack, kind: Kind) -> list[Part]:
    """Marathon's info, apps, deployments and queue, from the first instance that answers."""
    from mesostack.credentials import Credentials
    from mesostack.marathon import Marathon

    credentials = marathon_credentials(found)
    creds = Credentials.parse(credentials) if credentials else None
    marathons = instances(found, kind.role)

    def marathon(path: str, params: Mapping[str, str] | None = None) -> Callable[[], Answer]:
        def fetch() -> Answer:
            error: Exception | None = None
            for i in marathons:
                if i.skip:
                    error = error or MesostackError(f"not asked: {i.skip}")
                    continue
                api = Marathon(f"http://{i.endpoint}", credentials=creds)
                try:
                    return Answer(api.get(path, params), f"GET {api.url}{path}")
                except MesostackError as exc:
                    error = exc
            raise error or MesostackError("the stack has no marathon container")
        return fetch

    return [
        Part("marathon/info.json", "Marathon's /v2/info", marathon("/v2/info")),
        Part("marathon/apps.json", "Marathon's apps and their tasks",
             marathon("/v2/apps", {"embed": "apps.tasks"})),
        Part("marathon/deployments.json", "Marathon's deployments", marathon("/v2/deployments")),
        Part("marathon/queue.json", "Marathon's launch queue", marathon("/v2/queue")),
    ]


def _zookeeper_parts(found: Stack, kind: Kind) -> list[Part]:
    """Each server's `srvr`, and the whole tree from those that run."""
    from mesostack import mesos

    zookeepers = instances(found, kind.role)
    out: list[Part] = []
    for i in zookeepers:
        host, _, port = i.endpoint.rpartition(":")

        def srvr(host: str = host, port: int = int(port)) -> Answer:
            return Answer(mesos.four_letter_word(host, port, "srvr"), f"srvr to {host}:{port}")
        out.append(Part(f"zookeeper/srvr-{i.n}.txt", f"ZooKeeper {i.endpoint}'s srvr",
                        _refuse(f"not asked: {i.skip}") if i.skip else srvr))
    hosts = ",".join(i.endpoint for i in zookeepers if not i.skip)

    def tree() -> Answer:
        if not hosts:
            raise MesostackError("no zookeeper container of the stack is running")
        try:
            return Answer(mesos.zookeeper_tree(hosts), f"ZooKeeper {hosts}")
        except mesos.Unanswered as exc:
            raise MesostackError(f"no answer from {exc.message}") from None

    out.append(Part("zookeeper/tree.txt", "the ZooKeeper tree", tree))
    return out


_COLLECTORS: dict[Documents, Callable[[Stack, Kind], list[Part]]] = {
    Documents.ZOOKEEPER: _zookeeper_parts,
    Documents.MESOS: _mesos_parts,
    Documents.MARATHON: _marathon_parts,
}


def versions(found: Stack, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """mesostack's, Python's, each engine's, each container's image and each component's own
    (from the documents just collected)."""
    engines = []
    for endpoint, engine in found.engines.items():
        try:
            facts = engine.facts()
            engines.append({"endpoint": endpoint or engine.endpoint,
                            "server_version": facts.server_version,
                            "api_version": facts.api_version, "os": facts.os,
                            "cgroup_version": facts.cgroup_version})
        except MesostackError as exc:
            engines.append({"endpoint": endpoint or engine.endpoint, "error": _reason(exc)})
    components: dict[str, Any] = {}
    for o in outcomes:
        if not o.ok:
            continue
        name = o.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if o.path.startswith("mesos/") and isinstance(o.content, dict):
            components[name.removesuffix("-state")] = o.content.get("version")
        elif o.path == "marathon/info.json" and isinstance(o.content, dict):
            components["marathon"] = o.content.get("version")
        elif o.path.startswith("zookeeper/srvr-") and isinstance(o.content, str):
            line = next((x for x in o.content.splitlines()
                         if x.lower().startswith("zookeeper version:")), "")
            components[f"zookeeper-{name.removeprefix('srvr-')}"] = line.split(":", 1)[-1].strip()
    return {
        "mesostack": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "engines": engines,
        "containers": [{"name": c.name, "role": c.role or "task", "image": c.image,
                        "image_id": c.image_id,
                        **({"tasks": tasks_of(c.labels)} if tasks_of(c.labels) else {})}
                       for c in [*found.containers, *found.tasks]],
        "components": components,
    }


def container_rows(found: Stack) -> list[dict[str, Any]]:
    return [{"name": c.name, "role": c.role or "task", "status": c.status,
             "exit_code": c.exit_code, "restarts": c.restart_count, "started": c.started_at,
             "image": c.image, "engine": c.engine or "the usual engine",
             "task": c in found.tasks}
            for c in [*found.containers, *found.tasks]]


def effective_config(loaded: LoadedConfig, plan: Plan) -> str:
    from mesostack.config import to_yaml

    source = loaded.what()
    return (f"# the effective stack.yaml (defaults filled in, secrets masked) of {source}; "
            f"host_ip {plan.host_ip}\n" + to_yaml(loaded.config))


@dataclass(frozen=True)
class Made:
    manifest: dict[str, Any]


def make(
    target: IO[bytes], *, loaded: LoadedConfig, plan: Plan, now: datetime, timeout: float,
    name: str | None = None,
) -> Made:
    """Collect everything about the stack and write the bundle to `target`, its files under
    the top directory `name` (default: the usual name of the stack and `now`)."""
    started = time.monotonic()
    found = discover(loaded, plan)
    outcomes = [*found.problems, *gather(parts(found), timeout=timeout)]
    secrets = known_secrets(found)
    for index, o in enumerate(outcomes):
        if o.ok and o.path == "zookeeper/tree.txt":
            secrets |= tree_secrets(o.content)
            outcomes[index] = replace(o, content=render_tree(o.content))
        elif o.ok and not isinstance(o.content, str):
            secrets |= find_secrets(o.content)
    name = name or bundle_name(plan.stack, now)
    source = loaded.what()
    heading = Heading(name=name, stack=plan.stack, created=now, stack_file=source,
                      seconds=time.monotonic() - started, masked=len({s for s in secrets if s}))
    document = manifest(heading, outcomes=outcomes, containers=container_rows(found))
    extra = {"stack.yaml": effective_config(loaded, plan),
             "versions.json": versions(found, outcomes),
             "manifest.json": document, "README.txt": readme(document)}
    write(target, top=name, outcomes=outcomes, secrets=secrets, extra=extra,
          mtime=now.timestamp())
    return Made(document)
