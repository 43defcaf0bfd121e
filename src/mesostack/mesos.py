"""Mesos and ZooKeeper documents over HTTP and the four-letter words: the one home of the calls
to masters, agents and ZooKeeper servers (readiness, `status`, `bundle` and `task-logs` read
them here).

What does not come is an `Unanswered`, a domain error saying what was asked; readiness turns it
into "not yet". The generation (legacy `*.json` endpoints or modern ones) is found out at run
time.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from mesostack.errors import MesostackError

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 3.0
DOCUMENT_TIMEOUT = 10.0  # a large cluster's state takes longer than a readiness check's answer

MASTER_STATE = ("/master/state", "/master/state.json")
AGENT_STATE = ("/state", "/state.json")
STATE_PATHS = {"master": MASTER_STATE, "agent": AGENT_STATE}  # by the role's document name


class Unanswered(MesostackError):
    """A master, an agent or a ZooKeeper server did not answer what was asked; the message
    says what (as what is awaited: "the agent on 10.0.0.5:5051 to answer /state")."""


class Unavailable(Unanswered):
    """A 503: the server is up and says (`said`) why it can't answer yet."""

    def __init__(self, message: str, *, said: str) -> None:
        super().__init__(message)
        self.said = said


# What a 1.x agent answers for its state while it recovers (after each start: checkpointed
# agent, containers, executors): 503 with this text (src/slave/http.cpp `Http::state`, 0.28.0
# to 1.11.0; 1.7.1 l.1270-1276, 1.11.0 l.1331-1337), for /state, /state.json (to 1.7) and
# /slave(1)/state alike. 0.23's answers 200 throughout, with the id it recovered.
AGENT_RECOVERING = "Agent has not finished recovery"


@dataclass
class Http:
    """GETs with short timeouts; connection trouble becomes Unanswered."""

    session: requests.Session = field(default_factory=requests.Session)

    def get(self, url: str, *, waiting: str, redirects: bool = True,
            read_timeout: float = READ_TIMEOUT) -> requests.Response:
        """The answer to GET `url`, whatever its status; `waiting` is the message when none."""
        try:
            return self.session.get(url, timeout=(CONNECT_TIMEOUT, read_timeout),
                                    allow_redirects=redirects)
        except requests.RequestException:
            raise Unanswered(waiting) from None

    def json(self, url: str, *, waiting: str) -> Any:
        answer = self.get(url, waiting=waiting)
        if answer.status_code != 200:
            raise Unanswered(f"{waiting} (HTTP {answer.status_code})")
        try:
            return answer.json()
        except ValueError:
            raise Unanswered(f"{waiting} (not JSON)") from None


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
            said = answer.text.strip()
            raise Unavailable(f"{waiting} ({said or 'unavailable'})", said=said)
        if answer.status_code != 200:
            raise Unanswered(f"{waiting} (HTTP {answer.status_code} from {path})")
        try:
            return path, answer.json()
        except ValueError:
            raise Unanswered(f"{waiting} ({path} is not JSON)") from None
    raise Unanswered(f"{waiting} (none of {', '.join(paths)} answered)")


# --- masters -----------------------------------------------------------------------------------


def master_state(http: Http, endpoint: str, *, waiting: str | None = None) -> dict[str, Any]:
    state = first_json(http, f"http://{endpoint}", MASTER_STATE,
                       waiting=waiting or f"the master's state on {endpoint}")
    if not isinstance(state, dict):
        raise Unanswered(f"the master's state on {endpoint} (not an object)")
    return state


def leading_state(http: Http, endpoint: str) -> dict[str, Any]:
    """The state of the leading master, reached through `endpoint`: any master, or several
    `ip:port` joined by commas, tried in turn (one may be down after a failover)."""
    last: Unanswered | None = None
    for one in endpoint.split(","):
        try:
            return _leading_state(http, one)
        except Unanswered as exc:
            last = exc
    assert last is not None
    raise last


def _leading_state(http: Http, endpoint: str) -> dict[str, Any]:
    state = master_state(http, endpoint, waiting=f"a leading master via {endpoint}")
    if not state.get("leader"):
        raise Unanswered(f"a leading master (the master on {endpoint} knows none yet)")
    if state.get("pid") != state.get("leader"):
        leader_endpoint = str(state["leader"]).rsplit("@", 1)[-1]
        state = master_state(http, leader_endpoint)
    return state


def master_role(http: Http, endpoint: str) -> str:
    """`leader` or `follower`, from the master's own answer (307 to the leader: a follower);
    "" when it does not tell."""
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


# --- agents: what they run and have free, and tasks' sandbox files -----------------------------


def agent_endpoint(pid: str) -> str:
    """`slave(1)@10.0.0.5:5051` → `10.0.0.5:5051`."""
    return pid.rsplit("@", 1)[-1]


def agent_state_at(http: Http, endpoint: str) -> tuple[str, Any]:
    """The agent's own state and which of AGENT_STATE answered it. A 1.x agent still
    recovering is Unanswered as "to finish recovering": a stage of its start, not a fault."""
    waiting = f"the agent on {endpoint} to answer /state"
    try:
        return first_json_at(http, f"http://{endpoint}", AGENT_STATE, waiting=waiting)
    except Unavailable as exc:
        if AGENT_RECOVERING not in exc.said:
            raise
        raise Unanswered(f"the agent on {endpoint} to finish recovering "
                         f"(/state: 503 {exc.said})") from None


def agent_state(http: Http, endpoint: str) -> Any:
    """`agent_state_at`'s document."""
    return agent_state_at(http, endpoint)[1]


def docker_names(agent_id: str, container_id: str) -> tuple[str, ...]:
    """The Docker containers an agent's executor with that container id may have on its
    engine: the task's, `mesos-<agentId>.<containerId>` from 0.23 to 1.3 (0.23.0
    src/slave/containerizer/docker.hpp l.258-262) or `mesos-<containerId>` from 1.4 (1.7.1
    l.326-329, 1.11.0 l.332-335), and, where the agent runs with --docker_mesos_image, its
    executor's beside it, the same name plus `.executor` (`executorName`: 0.23.0 l.354-361,
    1.7.1 l.394-401, 1.11.0 l.403-410). Mesos gives them no label; an exited one stays for
    --docker_remove_delay (6 hours)."""
    names = (f"mesos-{agent_id}.{container_id}", f"mesos-{container_id}")
    return names + tuple(f"{name}.executor" for name in names)


def agent_task_containers(endpoint: str, *, http: Http | None = None) -> tuple[str, list[str]]:
    """The agent's id and the container ids of the executors it runs or ran (Docker tasks
    run in sibling containers named after them: `docker_names`)."""
    http = http or Http()
    state = agent_state(http, endpoint)
    ids: list[str] = []
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            if executor.get("container"):
                ids.append(str(executor["container"]))
    return str(state.get("id", "")), ids


@dataclass(frozen=True)
class AgentFree:
    """What one agent has unused (resources minus used_resources in the master's state)."""

    host: str
    cpus: float
    mem: float
    disk: float

    def __str__(self) -> str:
        return f"{self.host} cpus {self.cpus:g} mem {self.mem:g} disk {self.disk:g}"


def agent_containerizers(master: str, *, http: Http | None = None
                         ) -> list[tuple[str, str]] | None:
    """Each active agent's endpoint and its `--containerizers` (from its own state's flags),
    via the leading master; None when that can't be told (no answer, or no agent says)."""
    http = http or Http()
    try:
        state = leading_state(http, master)
        found = []
        for agent in state.get("slaves", []):
            if not agent.get("active", True):
                continue
            endpoint = agent_endpoint(str(agent.get("pid", "")))
            own = agent_state(http, endpoint)
            flags = own.get("flags") if isinstance(own, dict) else None
            if isinstance(flags, dict) and "containerizers" in flags:
                found.append((endpoint, str(flags["containerizers"])))
    except Unanswered:
        return None
    return found or None


def agents_free(master: str, *, http: Http | None = None) -> list[AgentFree] | None:
    """Free resources of each active agent, via the leading master; None when it can't tell."""
    http = http or Http()
    try:
        state = leading_state(http, master)
    except Unanswered:
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


@dataclass(frozen=True)
class CompletedTask:
    """A task the leading master lists among a framework's completed ones."""

    framework_id: str
    task_id: str
    state: str  # TASK_FINISHED, TASK_FAILED, TASK_KILLED, ...
    ended_at: float | None  # its last status update's time (seconds since the epoch)


def completed_tasks(master: str, *, http: Http | None = None) -> list[CompletedTask] | None:
    """Every framework's completed tasks, from the leading master's state; None when no
    master answers. The state lists them per framework as `completed_tasks`, each with its
    `statuses` (`state`, `timestamp`): 0.23.0 src/master/http.cpp l.172-181 and
    src/common/http.cpp l.124-131; 1.7.1 the same fields (l.312-331), at most
    --max_completed_tasks_per_framework (1000) of them."""
    http = http or Http()
    try:
        state = leading_state(http, master)
    except Unanswered:
        return None
    found = []
    for framework in state.get("frameworks") or []:
        for task in framework.get("completed_tasks") or []:
            statuses = [s for s in task.get("statuses") or [] if isinstance(s, dict)]
            stamp = statuses[-1].get("timestamp") if statuses else None
            found.append(CompletedTask(
                str(framework.get("id", "")), str(task.get("id", "")),
                str(task.get("state", "")),
                float(stamp) if isinstance(stamp, int | float) else None))
    return found


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
        raise Unanswered(f"agent {agent_id} in the master's state")
    endpoint = agent_endpoint(str(pids[0]))
    answered, agent = agent_state_at(http, endpoint)
    for framework in agent.get("frameworks", []) + agent.get("completed_frameworks", []):
        for executor in framework.get("executors", []) + framework.get("completed_executors", []):
            tasks = executor.get("tasks", []) + executor.get("completed_tasks", [])
            if executor.get("id") == task_id or any(t.get("id") == task_id for t in tasks):
                legacy = answered.endswith(".json")  # 0.23's agent: /state.json, /files/read.json
                return Sandbox(endpoint, str(executor.get("directory", "")), legacy)
    raise Unanswered(f"task {task_id} on the agent {endpoint}")


# What one read of a sandbox file asks for. The agent answers at most 16 pages a read
# (src/files/files.cpp: 0.23.0 l.331-332, 1.7.1 l.698-699), at least 64 KiB on Linux, so an
# answer shorter than this is the file's end (for now).
READ_CHUNK = 65536


def read_sandbox(
    sandbox: Sandbox, name: str, offset: int, *, http: Http | None = None,
    chunk: int = READ_CHUNK,
) -> tuple[bytes, int]:
    """The bytes of `name` (stdout, stderr) from byte `offset` on, and the offset to read
    from next. The bytes are the file's own, whatever the generation (`file_bytes`); a read
    may end inside a multi-byte character."""
    http = http or Http()
    route = "/files/read.json" if sandbox.legacy else "/files/read"
    path = f"{sandbox.directory}/{name}"
    query = urlencode({"path": path, "offset": offset, "length": chunk})
    waiting = f"{path} on the agent {sandbox.agent}"
    answer = http.get(f"http://{sandbox.agent}{route}?{query}", waiting=waiting)
    if answer.status_code != 200:
        raise Unanswered(f"{waiting} (HTTP {answer.status_code})")
    try:
        # 1.x writes the file's bytes into the JSON string as they are, a cut character too
        # (rapidjson, no validation): decoded here, not by requests (which would replace
        # them), so that `file_bytes` gets every byte back.
        document = json.loads(answer.content.decode("utf-8", "surrogateescape"))
    except ValueError:
        raise Unanswered(f"{waiting} (not JSON)") from None
    document = document if isinstance(document, dict) else {}
    data = file_bytes(str(document.get("data") or ""), legacy=sandbox.legacy)
    said = document.get("offset")
    start = int(said) if isinstance(said, int | float) and not isinstance(said, bool) else offset
    return data, start + len(data)


def file_bytes(text: str, *, legacy: bool) -> bytes:
    """The file's bytes from the `data` string of a /files/read answer. 0.23's agent writes
    each byte of 0x80 and above as its own `\\u00XX` (stout json.hpp l.499-534), so each
    character is one byte; 1.x's writes the raw bytes (rapidjson), UTF-8 once decoded, a cut
    character kept by `surrogateescape`."""
    if not legacy:
        return text.encode("utf-8", "surrogateescape")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # not 0.23's writing after all: keep what can't be a byte
        return b"".join(c.encode("latin-1") if ord(c) < 0x100 else
                        c.encode("utf-8", "surrogateescape") for c in text)


# --- whole documents, for diagnostic bundles ---------------------------------------------------


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
            raise Unanswered(f"{endpoint}{path} answered HTTP {answer.status_code}"
                             + (f": {text}" if text else ""))
        try:
            return path, answer.json()
        except ValueError:
            raise Unanswered(f"{endpoint}{path} did not answer JSON") from None
    raise Unanswered(f"{endpoint} answers none of {', '.join(paths)}")


# --- ZooKeeper ---------------------------------------------------------------------------------


def four_letter_word(host: str, port: int, word: str, *, timeout: float = 2.0) -> str:
    """The server's whole answer to `word` (`srvr`, `ruok`, ...)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError as exc:
        raise Unanswered(f"ZooKeeper on {host}:{port} does not answer: "
                         f"{exc.strerror or type(exc).__name__}") from None
    return b"".join(chunks).decode(errors="replace")


_QUIET = logging.getLogger("mesostack.zookeeper")  # kazoo's connection chatter: not for users
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@contextmanager
def _session(zk_hosts: str, **options: Any) -> Iterator[Any]:
    """A started kazoo client (no retries: a server that does not answer is Unanswered at
    once), stopped and closed afterwards."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_hosts, timeout=2.0, connection_retry={"max_tries": 0},
                         **options)
    try:
        client.start(timeout=2.0)
    except Exception:  # kazoo raises its own timeout types
        raise Unanswered(f"a ZooKeeper session with {zk_hosts}") from None
    try:
        yield client
    finally:
        client.stop()
        client.close()


def masters_in_zookeeper(zk_hosts: str, path: str) -> list[str]:
    """The masters' election znodes under `path`, in sequence order (the first leads).

    Mesos 0.23 writes `info_<seq>` (protobuf), 1.x `json.info_<seq>`; a master that writes
    both is counted once (its json node)."""
    from kazoo.exceptions import KazooException, NoNodeError

    with _session(zk_hosts) as client:
        try:
            children = client.get_children(path)
        except NoNodeError:
            children = []
        except KazooException:
            raise Unanswered(f"the masters' znodes under {path}") from None
    json_nodes = [c for c in children if c.startswith("json.info_")]
    nodes = json_nodes or [c for c in children if c.startswith("info_")]
    return sorted(nodes, key=lambda c: c.rsplit("_", 1)[-1])


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
    from kazoo.exceptions import KazooException
    from kazoo.handlers.threading import KazooTimeoutError

    with _session(zk_hosts, logger=_QUIET) as client:
        try:
            return _walk(client, root, max_bytes=max_bytes, max_nodes=max_nodes, timeout=timeout)
        except (KazooException, KazooTimeoutError) as exc:
            raise Unanswered(f"ZooKeeper {zk_hosts} stopped answering: "
                             f"{type(exc).__name__}") from None


def _walk(client: Any, root: str, *, max_bytes: int, max_nodes: int, timeout: float
          ) -> ZooKeeperTree:
    from kazoo.exceptions import NoAuthError, NoNodeError

    deadline = time.monotonic() + timeout
    nodes: list[Znode] = []
    pending = [root]
    while pending:
        if len(nodes) >= max_nodes:
            return ZooKeeperTree(tuple(nodes), f"stopped after {max_nodes} znodes")
        if time.monotonic() > deadline:
            return ZooKeeperTree(tuple(nodes), f"stopped after {timeout:g} s")
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
    return ZooKeeperTree(tuple(nodes))
