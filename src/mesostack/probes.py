"""Readiness: small checks over one polling loop. Ready means doing the job (a ZooKeeper mode,
a leading master, a registered agent, an active Marathon framework), not an open port.

The generation (legacy `*.json` endpoints or modern ones) is found out at run time.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import requests

from mesostack import waiting
from mesostack.credentials import split as split_credentials
from mesostack.waiting import SYSTEM, Clock, TimedOut

__all__ = ["TimedOut"]  # what `wait` raises

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 3.0


class NotYet(Exception):
    """The component is not ready; the message says what is awaited."""


@dataclass(frozen=True)
class Ready:
    detail: str = ""


class Probe(Protocol):
    awaited: str  # what readiness means, for messages ("a leading master")

    def check(self) -> Ready:
        """Return when ready; raise NotYet saying what is awaited otherwise."""


def wait(
    probe: Probe,
    *,
    deadline: float,
    interval: float = 0.1,
    on_wait: Callable[[str], None] = lambda _: None,
    alive: Callable[[], None] = lambda: None,
    clock: Clock = SYSTEM,
) -> Ready:
    """Poll `probe` with the one wait (`mesostack.waiting.wait`) until ready or `deadline` (on
    `clock`); NotYet means "not yet". Raises TimedOut with what was last awaited."""
    return waiting.wait(probe.check, deadline=deadline, interval=interval, retry=(NotYet,),
                        awaited=probe.awaited, on_wait=on_wait, alive=alive, clock=clock)


# --- ZooKeeper ---------------------------------------------------------------------------------


def four_letter_word(host: str, port: int, word: str, *, timeout: float = 2.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode())
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def zookeeper_mode(host: str, port: int) -> str | None:
    """`standalone`, `leader` or `follower`; None when the server does not serve (yet)."""
    try:
        answer = four_letter_word(host, port, "srvr")
    except OSError:
        return None
    for line in answer.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


@dataclass
class ZooKeeperProbe:
    host: str
    port: int
    awaited: str = "ZooKeeper to answer `srvr` with a mode"

    def check(self) -> Ready:
        mode = zookeeper_mode(self.host, self.port)
        if mode is None:
            raise NotYet(f"ZooKeeper on {self.host}:{self.port} to answer `srvr` with a mode")
        return Ready(f"mode {mode}")


# --- Mesos -------------------------------------------------------------------------------------


@dataclass
class Http:
    """GETs with short timeouts; connection trouble becomes NotYet."""

    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def with_credentials(cls, credentials: str | None) -> Http:
        """Basic auth from `user:pass` (Marathon's MARATHON_HTTP_CREDENTIALS), when given; text
        that isn't that sends none, and Marathon's 401 says so."""
        http = cls()
        found = split_credentials(credentials)
        if found is not None:
            http.session.auth = (found.user, found.password)
        return http

    def get(self, url: str, *, waiting: str, redirects: bool = True,
            read_timeout: float = READ_TIMEOUT) -> requests.Response:
        try:
            return self.session.get(url, timeout=(CONNECT_TIMEOUT, read_timeout),
                                    allow_redirects=redirects)
        except requests.RequestException:
            raise NotYet(waiting) from None

    def json(self, url: str, *, waiting: str) -> Any:
        answer = self.get(url, waiting=waiting)
        if answer.status_code != 200:
            raise NotYet(f"{waiting} (HTTP {answer.status_code})")
        try:
            return answer.json()
        except ValueError:
            raise NotYet(f"{waiting} (not JSON)") from None


def first_json(http: Http, base: str, paths: tuple[str, ...], *, waiting: str) -> Any:
    """The first of `paths` that the server has (modern first; legacy `*.json` answers 404 for
    modern paths and vice versa). 307s to the leader are followed."""
    return first_json_at(http, base, paths, waiting=waiting)[1]


def first_json_at(
    http: Http, base: str, paths: tuple[str, ...], *, waiting: str
) -> tuple[str, Any]:
    """`first_json`, and which of `paths` answered (so the generation is known)."""
    for path in paths:
        answer = http.get(base + path, waiting=waiting)
        if answer.status_code == 404:
            continue
        if answer.status_code == 503:
            raise NotYet(f"{waiting} ({answer.text.strip() or 'unavailable'})")
        if answer.status_code != 200:
            raise NotYet(f"{waiting} (HTTP {answer.status_code} from {path})")
        try:
            return path, answer.json()
        except ValueError:
            raise NotYet(f"{waiting} ({path} is not JSON)") from None
    raise NotYet(f"{waiting} (none of {', '.join(paths)} answered)")


MASTER_STATE = ("/master/state", "/master/state.json")
AGENT_STATE = ("/state", "/state.json")


def master_state(http: Http, endpoint: str, *, waiting: str | None = None) -> dict[str, Any]:
    state = first_json(http, f"http://{endpoint}", MASTER_STATE,
                       waiting=waiting or f"the master's state on {endpoint}")
    if not isinstance(state, dict):
        raise NotYet(f"the master's state on {endpoint} (not an object)")
    return state


def leading_state(http: Http, endpoint: str) -> dict[str, Any]:
    """The state of the leading master, reached through `endpoint`: any master, or several
    `ip:port` joined by commas, tried in turn (one may be down after a failover)."""
    last: NotYet | None = None
    for one in endpoint.split(","):
        try:
            return _leading_state(http, one)
        except NotYet as exc:
            last = exc
    assert last is not None
    raise last


def _leading_state(http: Http, endpoint: str) -> dict[str, Any]:
    state = master_state(http, endpoint, waiting=f"a leading master via {endpoint}")
    if not state.get("leader"):
        raise NotYet(f"a leading master (the master on {endpoint} knows none yet)")
    if state.get("pid") != state.get("leader"):
        leader_endpoint = str(state["leader"]).rsplit("@", 1)[-1]
        state = master_state(http, leader_endpoint)
    return state


@dataclass
class MasterProbe:
    endpoint: str
    http: Http = field(default_factory=Http)
    awaited: str = "the master to be healthy with a leader elected"

    def check(self) -> Ready:
        health = self.http.get(f"http://{self.endpoint}/master/health",
                               waiting=f"the master on {self.endpoint} to answer /master/health")
        if health.status_code != 200:
            raise NotYet(f"the master on {self.endpoint} to be healthy "
                         f"(/master/health: HTTP {health.status_code})")
        state = leading_state(self.http, self.endpoint)
        return Ready(f"leader {state.get('leader')}, Mesos {state.get('version', '?')}")


class LeaderState:
    """The leading master's state for several probes polling at once (twenty agents asking
    which agents the master lists make one request, not twenty): fetched at most once per
    `ttl` seconds, a failure included."""

    def __init__(self, master: str, *, ttl: float, http: Http | None = None) -> None:
        self.master = master
        self.ttl = ttl
        self._http = http or Http()
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._state: dict[str, Any] = {}
        self._error = ""

    def get(self) -> dict[str, Any]:
        with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                try:
                    self._state, self._error = leading_state(self._http, self.master), ""
                except NotYet as exc:
                    self._state, self._error = {}, str(exc)
                self._at = time.monotonic()
            if self._error:
                raise NotYet(self._error)
            return self._state


def _leader(shared: LeaderState | None, http: Http, master: str) -> dict[str, Any]:
    return shared.get() if shared is not None else leading_state(http, master)


@dataclass
class AgentProbe:
    endpoint: str
    master: str
    http: Http = field(default_factory=Http)
    awaited: str = "the agent to register with the leading master"
    leader: LeaderState | None = None  # shared with the stage's other probes

    def check(self) -> Ready:
        state = first_json(self.http, f"http://{self.endpoint}", AGENT_STATE,
                           waiting=f"the agent on {self.endpoint} to answer /state")
        agent_id = state.get("id") if isinstance(state, dict) else None
        if not agent_id:
            raise NotYet(f"the agent on {self.endpoint} to register (it has no id yet)")
        leader = _leader(self.leader, self.http, self.master)
        for agent in leader.get("slaves", []):
            if agent.get("id") == agent_id and agent.get("active", True):
                return Ready(f"agent {agent_id}")
        raise NotYet(f"the leading master to list agent {agent_id} as active")


@dataclass
class MarathonProbe:
    endpoint: str
    master: str
    http: Http = field(default_factory=Http)
    awaited: str = "Marathon to answer /ping and be an active framework"
    leader: LeaderState | None = None  # shared with the stage's other probes

    def check(self) -> Ready:
        base = f"http://{self.endpoint}"
        ping = self.http.get(f"{base}/ping", waiting=f"Marathon on {self.endpoint} to answer /ping")
        if ping.status_code == 401:
            raise NotYet(f"Marathon on {self.endpoint} to accept our credentials (401: set "
                         "MARATHON_HTTP_CREDENTIALS in marathon.env to the ones it uses)")
        if ping.status_code != 200:
            raise NotYet(f"Marathon on {self.endpoint} to answer /ping "
                         f"(HTTP {ping.status_code}: {ping.text.strip()[:80]})")
        info = self.http.json(f"{base}/v2/info", waiting=f"Marathon on {self.endpoint} /v2/info")
        framework_id = info.get("frameworkId") if isinstance(info, dict) else None
        if not framework_id:
            raise NotYet("Marathon to register with the master (no frameworkId yet)")
        leader = _leader(self.leader, self.http, self.master)
        for framework in leader.get("frameworks", []):
            if framework.get("id") == framework_id and framework.get("active"):
                version = info.get("version", "?") if isinstance(info, dict) else "?"
                return Ready(f"framework {framework_id}, Marathon {version}")
        raise NotYet(f"the leading master to list framework {framework_id} as active")


def agent_task_containers(endpoint: str, *, http: Http | None = None) -> tuple[str, list[str]]:
    """The agent's id and the container ids of the executors it runs (Docker tasks run in
    sibling containers named `mesos-<agentId>.<id>` or `mesos-<id>`)."""
    http = http or Http()
    state = first_json(http, f"http://{endpoint}", AGENT_STATE,
                       waiting=f"the agent on {endpoint} to answer /state")
    ids: list[str] = []
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            if executor.get("container"):
                ids.append(str(executor["container"]))
    return str(state.get("id", "")), ids


# --- what agents have free, and tasks' sandbox files --------------------------------------------


@dataclass(frozen=True)
class AgentFree:
    """What one agent has unused (resources minus used_resources in the master's state)."""

    host: str
    cpus: float
    mem: float
    disk: float

    def __str__(self) -> str:
        return f"{self.host} cpus {self.cpus:g} mem {self.mem:g} disk {self.disk:g}"


def agents_free(master: str, *, http: Http | None = None) -> list[AgentFree] | None:
    """Free resources of each active agent, via the leading master; None when it can't tell."""
    http = http or Http()
    try:
        state = leading_state(http, master)
    except NotYet:
        return None
    free = []
    for agent in state.get("slaves", []):
        if not agent.get("active", True):
            continue
        total = agent.get("resources") or {}
        used = agent.get("used_resources") or {}
        free.append(AgentFree(
            host=str(agent.get("hostname", "?")),
            **{key: float(total.get(key) or 0) - float(used.get(key) or 0)
               for key in ("cpus", "mem", "disk")},
        ))
    return free


def agent_endpoint(pid: str) -> str:
    """`slave(1)@10.0.0.5:5051` → `10.0.0.5:5051`."""
    return pid.rsplit("@", 1)[-1]


@dataclass(frozen=True)
class Sandbox:
    agent: str  # host:port
    directory: str
    legacy: bool  # /files/read.json rather than /files/read


def task_sandbox(master: str, agent_id: str, task_id: str, *, http: Http | None = None) -> Sandbox:
    """Where a task's stdout and stderr are: its executor's directory on its agent."""
    http = http or Http()
    state = leading_state(http, master)
    pids = [a.get("pid", "") for a in state.get("slaves", []) if a.get("id") == agent_id]
    if not pids:
        raise NotYet(f"agent {agent_id} in the master's state")
    endpoint = agent_endpoint(str(pids[0]))
    answered, agent = first_json_at(http, f"http://{endpoint}", AGENT_STATE,
                                    waiting=f"the agent on {endpoint} to answer /state")
    for framework in agent.get("frameworks", []) + agent.get("completed_frameworks", []):
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            tasks = executor.get("tasks", []) + executor.get("completed_tasks", [])
            if executor.get("id") == task_id or any(t.get("id") == task_id for t in tasks):
                legacy = answered.endswith(".json")  # 0.23's agent: /state.json, /files/read.json
                return Sandbox(endpoint, str(executor.get("directory", "")), legacy)
    raise NotYet(f"task {task_id} on the agent {endpoint}")


def read_sandbox(
    sandbox: Sandbox, name: str, offset: int, *, http: Http | None = None, chunk: int = 65536
) -> tuple[str, int]:
    """Text of `name` (stdout, stderr) from `offset`, and the offset to read from next."""
    http = http or Http()
    route = "/files/read.json" if sandbox.legacy else "/files/read"
    path = f"{sandbox.directory}/{name}"
    query = urlencode({"path": path, "offset": offset, "length": chunk})
    document = http.json(f"http://{sandbox.agent}{route}?{query}",
                         waiting=f"{path} on the agent {sandbox.agent}")
    data = str(document.get("data", "")) if isinstance(document, dict) else ""
    return data, offset + len(data.encode())


# --- whole stages: ensembles, master quorums, Marathon leadership ------------------------------


@dataclass
class EnsembleProbe:
    """A ZooKeeper ensemble: a quorum of servers with a mode, exactly one of them leading."""

    servers: list[tuple[str, int]]
    awaited: str = "a ZooKeeper quorum with one leader"

    def check(self) -> Ready:
        modes = {f"{h}:{p}": zookeeper_mode(h, p) for h, p in self.servers}
        serving = {k: m for k, m in modes.items() if m}
        leaders = [k for k, m in serving.items() if m == "leader"]
        quorum = len(self.servers) // 2 + 1
        if len(serving) < quorum or len(leaders) != 1:
            shown = ", ".join(f"{k} {m or 'not serving'}" for k, m in modes.items())
            raise NotYet(f"a ZooKeeper quorum ({quorum} of {len(self.servers)}) with one "
                         f"leader ({shown})")
        return Ready(f"leader {leaders[0]}, {len(serving)} of {len(self.servers)} serving")


def ensemble_health(servers: list[tuple[str, int]]) -> tuple[str, dict[str, str]]:
    """`healthy`, `degraded` (a quorum serves, not every server) or `down`, with each mode."""
    modes = {f"{h}:{p}": zookeeper_mode(h, p) or "not serving" for h, p in servers}
    serving = sum(1 for m in modes.values() if m != "not serving")
    if serving == len(servers):
        return "healthy", modes
    return ("degraded" if serving >= len(servers) // 2 + 1 else "down"), modes


def masters_in_zookeeper(zk_hosts: str, path: str) -> list[str]:
    """The masters' election znodes under `path`, in sequence order (the first leads).

    Mesos 0.23 writes `info_<seq>` (protobuf), 1.x `json.info_<seq>`; a master that writes
    both is counted once (its json node)."""
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException, NoNodeError

    client = KazooClient(hosts=zk_hosts, timeout=2.0, connection_retry={"max_tries": 0})
    try:
        client.start(timeout=2.0)
    except Exception:  # kazoo raises its own timeout types
        raise NotYet(f"a ZooKeeper session with {zk_hosts}") from None
    try:
        children = client.get_children(path)
    except NoNodeError:
        children = []
    except KazooException:
        raise NotYet(f"the masters' znodes under {path}") from None
    finally:
        client.stop()
        client.close()
    json_nodes = [c for c in children if c.startswith("json.info_")]
    nodes = json_nodes or [c for c in children if c.startswith("info_")]
    return sorted(nodes, key=lambda c: c.rsplit("_", 1)[-1])


@dataclass
class MastersInZooKeeperProbe:
    """Every master registered in ZooKeeper (its election znode), so exactly one leads."""

    zk_hosts: str
    path: str
    expected: int
    quorum: int
    awaited: str = "every master registered in ZooKeeper"

    def check(self) -> Ready:
        nodes = masters_in_zookeeper(self.zk_hosts, self.path)
        if len(nodes) < self.expected:
            raise NotYet(f"every master registered in ZooKeeper ({len(nodes)} of "
                         f"{self.expected}; the quorum is {self.quorum})")
        return Ready(f"{len(nodes)} masters in ZooKeeper, {nodes[0]} leads")


@dataclass
class MarathonLeaderProbe:
    """Every Marathon names the same leader (`/v2/leader`)."""

    endpoints: list[str]
    http: Http = field(default_factory=Http)
    awaited: str = "one leader among the Marathons"

    def check(self) -> Ready:
        leaders = {}
        for endpoint in self.endpoints:
            answer = self.http.json(f"http://{endpoint}/v2/leader",
                                    waiting=f"Marathon on {endpoint} to name its leader")
            leaders[endpoint] = answer.get("leader") if isinstance(answer, dict) else None
        named = set(leaders.values())
        if len(named) != 1 or None in named:
            raise NotYet(f"one leader among the Marathons ({leaders})")
        return Ready(f"leader {named.pop()}")


def master_role(http: Http, endpoint: str) -> str:
    """`leader` or `follower`, from the master's own answer (307 to the leader: a follower)."""
    for path in MASTER_STATE:
        try:
            answer = http.session.get(f"http://{endpoint}{path}", allow_redirects=False,
                                      timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException:
            return ""
        if answer.status_code == 404:
            continue
        if answer.status_code in (301, 302, 307):
            return "follower"
        try:
            state = answer.json()
        except ValueError:
            return ""
        leading = "elected_time" in state or (state.get("pid") and
                                               state.get("pid") == state.get("leader"))
        return "leader" if leading else "follower"
    return ""


def marathon_leader(endpoint: str, *, http: Http | None = None) -> str | None:
    try:
        answer = (http or Http()).json(f"http://{endpoint}/v2/leader", waiting="leader")
    except NotYet:
        return None
    return str(answer.get("leader")) if isinstance(answer, dict) else None


# --- whole documents, for diagnostic bundles ---------------------------------------------------

DOCUMENT_TIMEOUT = 10.0  # a large cluster's state takes longer than a readiness check's answer


def component_state(
    endpoint: str, paths: tuple[str, ...], *, http: Http | None = None,
    timeout: float = DOCUMENT_TIMEOUT,
) -> tuple[str, Any]:
    """A master's or agent's own state document: the first of `paths` it answers, and that path.
    A redirect is not followed (a non-leading modern master's 307 is its answer, kept as
    `{"redirect": location}`), so each master shows what it says itself."""
    http = http or Http()
    for path in paths:
        answer = http.get(f"http://{endpoint}{path}", waiting=f"{endpoint} does not answer",
                          redirects=False, read_timeout=timeout)
        if answer.status_code == 404:
            continue
        if answer.status_code in (301, 302, 307, 308):
            return path, {"redirect": answer.headers.get("Location", "")}
        if answer.status_code != 200:
            text = answer.text.strip().splitlines()[0][:120] if answer.text.strip() else ""
            raise NotYet(f"{endpoint}{path} answered HTTP {answer.status_code}"
                         + (f": {text}" if text else ""))
        try:
            return path, answer.json()
        except ValueError:
            raise NotYet(f"{endpoint}{path} did not answer JSON") from None
    raise NotYet(f"{endpoint} answers none of {', '.join(paths)}")


_QUIET = logging.getLogger("mesostack.zookeeper")  # kazoo's connection chatter: not for users
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class Znode:
    path: str
    data: bytes  # at most the walk's `max_bytes`
    size: int  # the whole data's length
    error: str = ""  # e.g. "no access" (an ACL); data is then empty


@dataclass(frozen=True)
class ZooKeeperTree:
    nodes: tuple[Znode, ...]
    truncated: str = ""  # why the walk stopped early; "" when it saw every znode


def zookeeper_tree(
    zk_hosts: str,
    *,
    root: str = "/",
    max_bytes: int = 4096,
    max_nodes: int = 5000,
    timeout: float = 20.0,
) -> ZooKeeperTree:
    """Every znode under `root` (depth first, sorted) with the start of its data; stops at
    `max_nodes` znodes or after `timeout` seconds and says so."""
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException, NoAuthError, NoNodeError
    from kazoo.handlers.threading import KazooTimeoutError

    client = KazooClient(hosts=zk_hosts, timeout=2.0, connection_retry={"max_tries": 0},
                         logger=_QUIET)
    try:
        client.start(timeout=2.0)
    except Exception:  # kazoo raises its own timeout types
        raise NotYet(f"a ZooKeeper session with {zk_hosts}") from None
    deadline = time.monotonic() + timeout
    nodes: list[Znode] = []
    truncated = ""
    pending = [root]
    try:
        while pending:
            if len(nodes) >= max_nodes:
                truncated = f"stopped after {max_nodes} znodes"
                break
            if time.monotonic() > deadline:
                truncated = f"stopped after {timeout:g} s"
                break
            path = pending.pop()
            try:
                data, stat = client.get(path)
                children = client.get_children(path)
            except NoNodeError:
                continue  # an ephemeral znode gone while walking
            except NoAuthError:
                nodes.append(Znode(path, b"", 0, "no access"))
                continue
            raw = data or b""
            nodes.append(Znode(path, raw[:max_bytes], int(stat.dataLength)))
            prefix = path.rstrip("/")
            pending.extend(f"{prefix}/{child}" for child in sorted(children, reverse=True))
    except (KazooException, KazooTimeoutError) as exc:
        raise NotYet(f"ZooKeeper {zk_hosts} stopped answering: {type(exc).__name__}") from None
    finally:
        client.stop()
        client.close()
    return ZooKeeperTree(tuple(nodes), truncated)
