"""Readiness: small checks over one polling loop. Ready means doing the job (a ZooKeeper mode,
a leading master, a registered agent, an active Marathon framework), not an open port.

The documents come from `mesostack.mesos`; one that does not come (an `Unanswered`) means "not
yet" here, and nowhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from mesostack import mesos, waiting
from mesostack.credentials import SERVER_VAR
from mesostack.credentials import split as split_credentials
from mesostack.marathon import CUT_OFF, NO_LEADER, Marathon, MarathonError, MarathonNotJson
from mesostack.mesos import Unanswered
from mesostack.waiting import SYSTEM, Clock, TimedOut

__all__ = ["TimedOut"]  # what `wait` raises


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
    poll = waiting.Poll(interval, retry=(NotYet,), awaited=probe.awaited)
    return waiting.wait(probe.check, deadline=deadline, poll=poll, on_wait=on_wait, alive=alive,
                        clock=clock)


@contextmanager
def _answered() -> Iterator[None]:
    """A document that did not come is readiness not reached yet: Unanswered becomes NotYet,
    with the same text."""
    try:
        yield
    except Unanswered as exc:
        raise NotYet(exc.message) from None


# --- ZooKeeper ---------------------------------------------------------------------------------


def zookeeper_mode(host: str, port: int) -> str | None:
    """`standalone`, `leader` or `follower`; None when the server does not serve (yet)."""
    try:
        answer = mesos.four_letter_word(host, port, "srvr")
    except Unanswered:
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


class Http(mesos.Http):
    """The HTTP session of readiness checks (Marathon's carries its credentials)."""

    @classmethod
    def with_credentials(cls, credentials: str | None) -> Http:
        """Basic auth from `user:pass` (Marathon's MARATHON_HTTP_CREDENTIALS), when given; text
        that isn't that sends none, and Marathon's 401 says so."""
        http = cls()
        found = split_credentials(credentials)
        if found is not None:
            http.session.auth = (found.user, found.password)
        return http


@_answered()
def leading_state(http: Http, endpoint: str) -> dict[str, Any]:
    """`mesos.leading_state`, for readiness and `status`: not answered is NotYet."""
    return mesos.leading_state(http, endpoint)


@_answered()
def agent_task_containers(endpoint: str, *, http: Http | None = None) -> tuple[str, list[str]]:
    """`mesos.agent_task_containers`, for `down`: not answered is NotYet."""
    return mesos.agent_task_containers(endpoint, http=http)


@dataclass
class MasterProbe:
    endpoint: str
    http: Http = field(default_factory=Http)
    awaited: str = "the master to be healthy with a leader elected"

    @_answered()
    def check(self) -> Ready:
        health = self.http.get(f"http://{self.endpoint}/master/health",
                               waiting=f"the master on {self.endpoint} to answer /master/health")
        if health.status_code != 200:
            raise NotYet(f"the master on {self.endpoint} to be healthy "
                         f"(/master/health: HTTP {health.status_code})")
        state = mesos.leading_state(self.http, self.endpoint)
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
                    self._state = mesos.leading_state(self._http, self.master)
                    self._error = ""
                except Unanswered as exc:
                    self._state, self._error = {}, exc.message
                self._at = time.monotonic()
            if self._error:
                raise NotYet(self._error)
            return self._state


def _leader(shared: LeaderState | None, http: Http, master: str) -> dict[str, Any]:
    return shared.get() if shared is not None else mesos.leading_state(http, master)


@dataclass
class AgentProbe:
    endpoint: str
    master: str
    http: Http = field(default_factory=Http)
    awaited: str = "the agent to register with the leading master"
    leader: LeaderState | None = None  # shared with the stage's other probes

    @_answered()
    def check(self) -> Ready:
        state = mesos.agent_state(self.http, self.endpoint)
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

    @_answered()
    def check(self) -> Ready:
        marathon = _marathon(self.endpoint, self.http)
        try:
            marathon.ping()
        except MarathonError as exc:
            raise _not_pinged(self.endpoint, exc) from None
        try:
            info = marathon.info()
        except MarathonError as exc:
            raise _not_yet(f"Marathon on {self.endpoint} /v2/info", exc) from None
        framework_id = info.get("frameworkId")
        if not framework_id:
            raise NotYet("Marathon to register with the master (no frameworkId yet)")
        leader = _leader(self.leader, self.http, self.master)
        for framework in leader.get("frameworks", []):
            if framework.get("id") == framework_id and framework.get("active"):
                return Ready(f"framework {framework_id}, Marathon {info.get('version', '?')}")
        raise NotYet(f"the leading master to list framework {framework_id} as active")


def _marathon(endpoint: str, http: Http) -> Marathon:
    """The Marathon client for checks: their session (with Marathon's credentials) and their
    short timeouts."""
    return Marathon(f"http://{endpoint}", session=http.session,
                    timeout=(mesos.CONNECT_TIMEOUT, mesos.READ_TIMEOUT))


def _not_yet(waiting: str, exc: MarathonError) -> NotYet:
    """A Marathon call that failed, as what a check still awaits."""
    if isinstance(exc, MarathonNotJson):
        return NotYet(f"{waiting} (not JSON)")
    if exc.status is None:
        return NotYet(waiting)
    return NotYet(f"{waiting} (HTTP {exc.status})")


def _not_pinged(endpoint: str, exc: MarathonError) -> NotYet:
    """/ping not answered: Marathon's leader answers it, so a standby or a Marathon without a
    leader says so there (`exc.said` is one line, never a page)."""
    if exc.status == 401:
        return NotYet(f"Marathon on {endpoint} to accept our credentials (401: set "
                      f"{SERVER_VAR} in marathon.env to the ones it uses)")
    if exc.status is None:
        return NotYet(f"Marathon on {endpoint} to answer /ping")
    if exc.status in (502, 503) and (not exc.said or NO_LEADER in exc.said):
        return NotYet(f"Marathon on {endpoint} to have a leader elected (none yet: /ping "
                      f"answered {exc.status})")
    if any(words in exc.said for words in CUT_OFF):
        return NotYet(f"Marathon on {endpoint} to reach its leader (/ping answered "
                      f"{exc.status}: {exc.said[:80]})")
    return NotYet(f"Marathon on {endpoint} to answer /ping (HTTP {exc.status}: {exc.said[:80]})")


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
    """`healthy`, `degraded` (a quorum serves, not every server) or `down`, with each mode
    (the servers asked side by side: one cut off costs its timeout once, not once each)."""
    from mesostack.waiting import run_all

    asked = run_all(lambda server: zookeeper_mode(*server), servers)
    modes = {f"{h}:{p}": mode or "not serving" for (h, p), mode in zip(servers, asked, strict=True)}
    serving = sum(1 for m in modes.values() if m != "not serving")
    if serving == len(servers):
        return "healthy", modes
    return ("degraded" if serving >= len(servers) // 2 + 1 else "down"), modes


@dataclass
class MastersInZooKeeperProbe:
    """Every master registered in ZooKeeper (its election znode), so exactly one leads."""

    zk_hosts: str
    path: str
    expected: int
    quorum: int
    awaited: str = "every master registered in ZooKeeper"

    @_answered()
    def check(self) -> Ready:
        nodes = mesos.masters_in_zookeeper(self.zk_hosts, self.path)
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
            try:
                leaders[endpoint] = _marathon(endpoint, self.http).leader()
            except MarathonError as exc:
                raise _not_yet(f"Marathon on {endpoint} to name its leader", exc) from None
        named = set(leaders.values())
        if len(named) != 1 or None in named:
            raise NotYet(f"one leader among the Marathons ({leaders})")
        return Ready(f"leader {named.pop()}")


def marathon_leader(endpoint: str, *, http: Http | None = None) -> str | None:
    """The leader Marathon on `endpoint` names; None when it does not tell (for `status`)."""
    try:
        return _marathon(endpoint, http or Http()).leader()
    except MarathonError:
        return None
