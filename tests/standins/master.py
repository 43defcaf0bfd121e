"""Mesos master stand-in: ZooKeeper election, registrar quorum, agents, frameworks, tasks.

Follows Apache Mesos as seen from outside (``shared/design/contract.md``):
- env `MESOS_IP`, `MESOS_HOSTNAME`, `MESOS_PORT` (5050), `MESOS_ZK`, `MESOS_QUORUM`,
  `MESOS_REGISTRY` (`replicated_log` | `in_memory`), `MESOS_REGISTRY_FETCH_TIMEOUT` (1mins),
  `MESOS_ZK_SESSION_TIMEOUT` (10secs: how long a dead leader's znode outlives it, and how long a
  master waits for a dropped ZooKeeper connection before it gives its session up: `contend`),
  `MESOS_AGENT_PING_TIMEOUT` x `MESOS_MAX_AGENT_PING_TIMEOUTS` (legacy `MESOS_SLAVE_PING_TIMEOUT`
  x `MESOS_MAX_SLAVE_PING_TIMEOUTS`; 15secs x 5: `ping_settings`);
- election: an EPHEMERAL|SEQUENCE znode `info_` (legacy: protobuf) or `json.info_` (modern: JSON)
  under the `MESOS_ZK` path; the smallest sequence leads (src/master/detector);
- the elected leader recovers its registry only with `MESOS_QUORUM` masters up, else aborts
  after the fetch timeout with the real message;
- an agent silent for the total ping timeout is removed (legacy: its tasks TASK_LOST, and told
  to shut down when it comes back) or marked unreachable (modern: TASK_UNREACHABLE for
  PARTITION_AWARE frameworks, else TASK_LOST; back in `slaves` with its tasks when it
  re-registers): `Master.agent_unreachable`, `Master.reregistered`; a framework silent for
  `FRAMEWORK_SILENCE_S` is disconnected, and removed after its failover_timeout;
- HTTP: `/health`, `/master/redirect`, state per generation (legacy `/master/state.json` and
  `/state.json`, non-leaders answer their own state; modern `/master/state` and `/state`,
  `/master/slaves`, `/master/frameworks`, non-leaders 307 to the leader, 503 with none).
`STANDIN_ELECTION_DELAY` keeps a healthy master out of the election that long. Command-line
flags (`--registry=in_memory`, as mesosphere's image CMD has) beat `MESOS_*` variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from typing import Any

from common import (
    LEGACY,
    GroupSession,
    Request,
    Response,
    apply_argv_flags,
    call,
    connect_zk,
    die,
    encode_master_info,
    env_seconds,
    exit_on_sigterm,
    json_response,
    leading_master,
    log,
    master_address,
    master_info,
    mesos_duration,
    mesos_exit,
    parse_zk_url,
    sequence_of,
    serve,
    warn,
)

VERSION = "0.23.0" if LEGACY else "1.4.0"
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}
C = "master.cpp"
# Our frameworks reach the master over plain HTTP, asking for their tasks every tick; how long
# one may stay silent stands in for the scheduler's link that the real master watches (a closed
# link: "Framework ... disconnected", 1.7.1 master.cpp `_exited` l.1390). It is ours, no flag.
FRAMEWORK_SILENCE_S = 5.0
# Where each generation's master gives up on losing the election (0.23.0 master.cpp
# `lostCandidacy` l.1460 and `detected` l.1487; 1.7.1 l.2081, l.2124-2125 and l.2161-2162).
LEADER_EXITS = {
    "lost": "master.cpp:2081",
    "conceded": "master.cpp:2124",
    "indecisive": "master.cpp:2161",
}


def ping_settings(env: dict[str, str] | os._Environ[str], *, legacy: bool) -> tuple[float, int]:
    """The master's ping of each agent: every `--agent_ping_timeout`, and an agent that misses
    `--max_agent_ping_timeouts` pings in a row is marked unreachable (1.7.1 src/master/flags.cpp
    l.513-544, which still takes the 0.23 names as deprecated ones, from the environment too:
    3rdparty/stout/include/stout/flags/flags.hpp l.727-760 and l.811-813); 0.23.0 names them
    `--slave_ping_timeout` and `--max_slave_ping_timeouts` (flags.cpp l.380-409). Defaults 15secs
    and 5 (0.23.0 src/master/constants.cpp l.34-35; 1.7.1 constants.hpp l.68-71); the timeout
    must lie within 1secs and 15mins and the count be at least 1 (ValueError with the real
    words otherwise)."""
    names = [("slave_ping_timeout", "max_slave_ping_timeouts")]
    if not legacy:
        names.insert(0, ("agent_ping_timeout", "max_agent_ping_timeouts"))

    def first(index: int, default: str) -> str:
        return next((env[f"MESOS_{n[index].upper()}"] for n in names
                     if env.get(f"MESOS_{n[index].upper()}")), default)

    timeout, most = mesos_duration(first(0, "15secs")), int(first(1, "5"))
    flag, count = names[0]
    quote = "" if legacy else "`"
    if not 1 <= timeout <= 900:
        raise ValueError(f"Expected {quote}--{flag}{quote} to be between 1secs and 15mins")
    if most < 1:
        raise ValueError(f"Expected {quote}--{count}{quote} to be at least 1")
    return timeout, most


def overdue(silence: float, timeout: float, most: int) -> bool:
    """Whether an agent silent that long has missed `most` pings in a row: the SlaveObserver
    pings every `timeout` and counts each ping without a pong (0.23.0 master.cpp l.161-192;
    1.7.1 l.200-238). Our agents' registrations, every second, are their pongs."""
    return silence >= timeout * most


def unreachable_status(*, legacy: bool, partition_aware: bool, hostname: str
                       ) -> tuple[str, str, str]:
    """(state, reason, message) the master gives a task of an agent it stopped hearing:
    0.23.0 removes the agent, TASK_LOST "Slave H removed: health check timed out"
    (master.cpp `removeSlave` l.4990-5000); 1.7.1 marks it unreachable, TASK_UNREACHABLE for a
    PARTITION_AWARE framework, else TASK_LOST, "health check timed out" (`__removeSlave`
    l.10799-10835, the message from the SlaveObserver l.283)."""
    if legacy:
        return "TASK_LOST", "REASON_SLAVE_REMOVED", f"Slave {hostname} removed: health check " \
                                                     "timed out"
    state = "TASK_UNREACHABLE" if partition_aware else "TASK_LOST"
    return state, "REASON_SLAVE_REMOVED", "health check timed out"


def leader_exit(*, was_elected: bool, leader: str | None, me: str, legacy: bool
                ) -> tuple[str, str] | None:
    """What a master that led says as it exits when the detector names another leader or none
    (where it is logged from, the words), or None when it goes on: 0.23.0 master.cpp `detected`
    l.1486-1487 "Lost leadership... committing suicide!" either way; 1.7.1 l.2124-2125
    "Conceded leadership to another master..." or l.2161-2162 "Lost leadership after
    indecisive election..."."""
    if not was_elected or leader == me:
        return None
    if legacy:
        return "", "Lost leadership... committing suicide!"
    if leader is not None:
        return LEADER_EXITS["conceded"], ("Conceded leadership to another master... committing "
                                          "suicide!")
    return LEADER_EXITS["indecisive"], ("Lost leadership after indecisive election... committing "
                                        "suicide!")


def candidacy_lost(*, elected: bool, legacy: bool) -> tuple[str, str] | None:
    """A master whose ZooKeeper session expired has lost its candidacy: the leader exits with
    these words (where logged from, text), a follower (None) contends again (0.23.0 master.cpp
    `lostCandidacy` l.1451-1465; 1.7.1 l.2072-2086)."""
    if not elected:
        return None
    if legacy:
        return "", "Lost leadership... committing suicide!"
    return LEADER_EXITS["lost"], "Lost candidacy as a leader... committing suicide!"


class Master:
    def __init__(self) -> None:
        self.ip = os.environ.get("MESOS_IP", "127.0.0.1")
        self.port = int(os.environ.get("MESOS_PORT", "5050"))
        self.hostname = os.environ.get("MESOS_HOSTNAME", self.ip)
        self.id = str(uuid.uuid4())
        self.pid = f"master@{self.ip}:{self.port}"
        self.start_time = time.time()
        self.lock = threading.RLock()
        self.leader: dict[str, Any] | None = None  # the leader's MasterInfo, once detected
        self.elected_time: float | None = None
        self.recovered = False
        self.agents: dict[str, dict[str, Any]] = {}  # the registered ones
        self.unreachable: dict[str, dict[str, Any]] = {}  # modern: id -> agent, once unreachable
        self.removed: set[str] = set()  # legacy: the agents removed, refused when they come back
        self.admitted = 0  # agent ids given
        self.frameworks: dict[str, dict[str, Any]] = {}
        self.completed_frameworks: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}  # task id -> task, as in state.json
        self.clock = time.time  # when agents and frameworks were last heard (tests set it)
        try:
            self.ping = ping_settings(os.environ, legacy=LEGACY)
        except ValueError as exc:
            die(C, str(exc))
        self.zk: Any = None
        self.zk_path = ""
        self.session: GroupSession | None = None

    # --- election and registrar recovery ----------------------------------------------------

    def contend(self) -> None:
        zk_url = os.environ.get("MESOS_ZK")
        registry = os.environ.get("MESOS_REGISTRY", "replicated_log")
        if not zk_url:
            log(C, "no --zk: standalone, elected at once")
            self.become_leader(quorum=1, members=lambda: 1)
            return
        if registry == "replicated_log" and not os.environ.get("MESOS_QUORUM"):
            die(C, "Need to specify --quorum for replicated log based registry when using "
                   "ZooKeeper")
        quorum = int(os.environ.get("MESOS_QUORUM", "1")) if registry == "replicated_log" else 1
        hosts, path = parse_zk_url(zk_url)
        # --zk_session_timeout: 10secs (0.23.0 src/master/flags.cpp l.67-70, constants.cpp l.46;
        # 1.7.1 flags.cpp l.82-85, constants.hpp l.133), kazoo's session and the group's timer
        self.session = GroupSession(
            mesos_duration(os.environ.get("MESOS_ZK_SESSION_TIMEOUT", "10secs")),
            self.lost_candidacy)
        zk = connect_zk(C, hosts, on_state=self.session.changed,
                        session_timeout=self.session.timeout)
        self.zk, self.zk_path = zk, path
        self.session.session_id = lambda: (zk.client_id or (None,))[0]
        delay = env_seconds("STANDIN_ELECTION_DELAY")
        if delay:
            log(C, f"election delay {delay}s: healthy, not contending yet")
            time.sleep(delay)
        self.join()

        def members() -> int:
            return sum(1 for c in zk.get_children(path) if sequence_of(c) >= 0)

        @zk.ChildrenWatch(path)  # type: ignore[misc]
        def _on_change(_children: list[str]) -> None:
            leader = leading_master(zk, path)
            if self.detected(leader):
                threading.Thread(target=self.become_leader, args=(quorum, members),
                                 daemon=True).start()

    def join(self) -> None:
        """Our candidacy: an EPHEMERAL|SEQUENCE znode holding our MasterInfo."""
        info = master_info(master_id=self.id, ip=self.ip, port=self.port, hostname=self.hostname,
                           version=VERSION)
        label, data = (("info_", encode_master_info(info)) if LEGACY
                       else ("json.info_", json.dumps(info).encode()))
        mine = self.zk.create(f"{self.zk_path}/{label}", data, ephemeral=True, sequence=True,
                              makepath=True)
        log("group.cpp", f"Created ZooKeeper znode {mine}")

    def detected(self, leader: dict[str, Any] | None) -> bool:
        """The detector named `leader` (or none): a master that led and no longer does exits
        (`leader_exit`); True when we are newly the leader."""
        with self.lock:
            was_elected = self.leading
            changed = (leader or {}).get("id") != (self.leader or {}).get("id")
            self.leader = leader
        verdict = leader_exit(was_elected=was_elected, leader=(leader or {}).get("id"),
                              me=self.id, legacy=LEGACY)
        if verdict is not None:
            mesos_exit(*verdict)
            return False
        if changed and leader is not None:
            log("detector.cpp", f"A new leading master (UPID={leader['pid']}) is detected")
            return bool(leader["id"] == self.id) and not was_elected
        if changed:  # 0.23.0 master.cpp l.1481-1484; 1.7.1 l.2158
            log(C, "The newly elected leader is None" if LEGACY else "No master was elected.")
        return False

    def lost_candidacy(self) -> None:
        """Our ZooKeeper session expired (`GroupSession`): the leader exits, a follower
        contends again with a new session (`candidacy_lost`)."""
        verdict = candidacy_lost(elected=self.leading, legacy=LEGACY)
        if verdict is not None:
            mesos_exit(*verdict)
            return
        log(C, "Lost candidacy as a follower... Contend again")
        self.detected(None)  # the expiry emptied the group: no leader known (group.cpp `expired`)
        threading.Thread(target=self.contend_again, daemon=True).start()

    def contend_again(self) -> None:
        """As the group does after an expiry (group.cpp `expired`: a new client, then the
        candidacy anew): a new session, retried until ZooKeeper answers, and a new znode."""
        assert self.session is not None
        while True:
            try:
                self.zk.restart()
                break
            except Exception as exc:
                log(C, f"waiting for ZooKeeper: {exc}")
                time.sleep(0.5)
        self.session.renewed()
        self.join()

    def become_leader(self, quorum: int, members: Any) -> None:
        with self.lock:
            if self.elected_time is not None:
                return
            self.elected_time = time.time()
            if not os.environ.get("MESOS_ZK"):
                self.leader = master_info(master_id=self.id, ip=self.ip, port=self.port,
                                          hostname=self.hostname, version=VERSION)
        log(C, "Elected as the leading master!")
        timeout_text = os.environ.get("MESOS_REGISTRY_FETCH_TIMEOUT", "1mins")
        deadline = time.monotonic() + mesos_duration(timeout_text)
        while members() < quorum:
            if time.monotonic() > deadline:
                die(C, "Recovery failed: Failed to recover registrar: Failed to perform fetch "
                       f"within {timeout_text}")
            time.sleep(0.1)
        with self.lock:
            self.recovered = True
        log(C, "Recovered registrar; accepting agents and frameworks")

    @property
    def leading(self) -> bool:
        return self.elected_time is not None

    # --- agents, frameworks and tasks (our own JSON protocol) -------------------------------

    def register_agent(self, body: dict[str, Any]) -> Response:
        """Agents (re-)register here every second; that is also their heartbeat (the pong) and
        task report. A removed legacy agent is told to shut down instead (`refused`)."""
        with self.lock:
            agent_id = body.get("id") or self.new_agent_id()
            if agent_id in self.removed:
                return self.refused(agent_id, body)
            known = self.agents.get(agent_id)
            was_unreachable = self.unreachable.pop(agent_id, None) is not None
            now = self.clock()
            self.agents[agent_id] = {
                **body, "id": agent_id, "active": True, "last_seen": now,
                "registered_time": known["registered_time"] if known else now,
            }
            if known is None and not was_unreachable:
                log(C, f"Registered agent {agent_id} at {body['pid']}")
            for task in body.get("tasks", []):
                self.tasks[task["id"]] = {**self.tasks.get(task["id"], {}), **task}
            if was_unreachable:
                self.reregistered(agent_id, body, now)
        return json_response({"id": agent_id, "master_id": self.id})

    def new_agent_id(self) -> str:
        """<master id>-S<n>, n counting every agent this master admitted (master.cpp
        `newSlaveId`), so a removed agent's id is never given again."""
        self.admitted += 1
        return f"{self.id}-S{self.admitted - 1}"

    def refused(self, agent_id: str, body: dict[str, Any]) -> Response:
        """0.23.0 refuses an agent it removed and tells it to shut down (master.cpp
        `reregisterSlave` l.3441-3455); our ShutdownMessage rides on the answer."""
        warn(C, f"Slave {agent_id} at {body['pid']} ({body['hostname']}) attempted to "
                "re-register after removal; shutting it down")
        return json_response({"shutdown": "Slave attempted to re-register after removal"})

    def reregistered(self, agent_id: str, body: dict[str, Any], now: float) -> None:
        """1.7.1 takes an unreachable agent back with the tasks it reports, each told to its
        framework in the state the agent has it, "Unreachable agent re-reregistered"
        (master.cpp `__reregisterSlave` l.7393-7431, whatever the framework's capabilities)."""
        log(C, f"Received reregister agent message from agent {agent_id} at {body['pid']} "
               f"({body['hostname']})")
        for reported in body.get("tasks", []):
            task = self.tasks[reported["id"]]
            if not task.pop("unreachable", False):
                continue
            task.update(message="Unreachable agent re-reregistered",
                        reason="REASON_SLAVE_REREGISTERED")
            task["statuses"] = [*task.get("statuses", []),
                                {"state": task["state"], "timestamp": now}]
        log(C, f"Re-registered agent {agent_id} at {body['pid']} ({body['hostname']})")

    def agent_unreachable(self, agent: dict[str, Any], now: float) -> str | None:
        """An agent overdue (`overdue`) leaves the registered ones, its tasks ended or
        unreachable (`unreachable_status`): 0.23.0 shuts it down and removes it (master.cpp
        `shutdownSlave` l.3901-3920, `removeSlave` l.4967, `_removeSlave` l.5079); 1.7.1 marks it
        unreachable (`markUnreachable` l.8811, `_markUnreachable` l.8854). Returns where the
        legacy ShutdownMessage goes (the cut-off agent does not get it)."""
        agent_id, hostname = agent["id"], agent["hostname"]
        del self.agents[agent_id]
        if LEGACY:
            warn(C, f"Shutting down slave {agent_id} at {agent['pid']} ({hostname}) with message "
                    "'health check timed out'")
            log(C, f"Removing slave {agent_id} at {agent['pid']} ({hostname}): health check "
                   "timed out")
            self.removed.add(agent_id)
        else:
            log(C, f"Marking agent {agent_id} ({hostname}) unreachable: health check timed out")
            self.unreachable[agent_id] = {**agent, "unreachable_time": now}
        for task in self.tasks.values():
            if task["slave_id"] != agent_id or task["state"] in TERMINAL:
                continue
            aware = "PARTITION_AWARE" in self.frameworks.get(task["framework_id"], {}).get(
                "capabilities", [])
            state, reason, message = unreachable_status(legacy=LEGACY, partition_aware=aware,
                                                        hostname=hostname)
            task.update(state=state, reason=reason, message=message, unreachable=not LEGACY)
            task["statuses"] = [*task.get("statuses", []), {"state": state, "timestamp": now}]
        if LEGACY:
            log(C, f"Removed slave {agent_id} ({hostname}): health check timed out")
        else:
            log(C, f"Marked agent {agent_id} ({hostname}) unreachable: health check timed out")
        return f"{agent['url']}/standin/shutdown" if LEGACY else None

    def register_framework(self, body: dict[str, Any]) -> Response:
        with self.lock:
            framework_id = body.get("id") or f"{self.id}-{len(self.frameworks):04d}"
            known = self.frameworks.get(framework_id)
            now = self.clock()
            self.frameworks[framework_id] = {
                "id": framework_id, "name": body["name"], "hostname": body.get("hostname", ""),
                "webui_url": body.get("webui_url", ""), "active": True, "last_seen": now,
                "registered_time": known["registered_time"] if known else now,
                # FrameworkInfo.user, .capabilities and .failover_timeout, as registered
                "user": body.get("user", "root"), "capabilities": body.get("capabilities", []),
                "failover_timeout": float(body.get("failover_timeout", 0.0)),
            }
            if known is None:
                log(C, f"Registered framework {framework_id} ({body['name']})")
        return json_response({"id": framework_id})

    def expire(self) -> None:
        """Every half second, `expire_once`."""
        while True:
            time.sleep(0.5)
            self.expire_once(self.clock())

    def expire_once(self, now: float) -> None:
        """Agents that missed their pings leave (`agent_unreachable`); frameworks that went
        silent are disconnected, and removed after their failover_timeout (`frameworks_at`)."""
        with self.lock:
            shutdowns = [self.agent_unreachable(agent, now) for agent in list(self.agents.values())
                         if overdue(now - agent["last_seen"], *self.ping)]
            kills = self.frameworks_at(now)
        for url in filter(None, shutdowns):
            with contextlib.suppress(OSError):
                call("POST", url, {"message": "health check timed out"}, timeout=2)
        for url, task_id in kills:
            with contextlib.suppress(OSError):
                call("POST", f"{url}/standin/kill", {"task_id": task_id}, timeout=2)

    def frameworks_at(self, now: float) -> list[tuple[str, str]]:
        """A framework silent for FRAMEWORK_SILENCE_S is disconnected (inactive); one that stays
        so for its failover_timeout is removed, its live tasks killed (0.23.0 master.cpp
        `frameworkFailoverTimeout` l.4146-4160; 1.7.1 l.9327-9341). Returns the kills to send."""
        kills: list[tuple[str, str]] = []
        for framework in list(self.frameworks.values()):
            silence = now - framework["last_seen"]
            if framework["active"] and silence > FRAMEWORK_SILENCE_S:
                framework["active"] = False
                log(C, f"Framework {framework['id']} ({framework['name']}) disconnected")
            elif not framework["active"] and silence <= FRAMEWORK_SILENCE_S:
                framework["active"] = True
            if framework["active"] or silence < FRAMEWORK_SILENCE_S + framework[
                    "failover_timeout"]:
                continue
            log(C, f"Framework failover timeout, removing framework {framework['id']} "
                   f"({framework['name']})")
            del self.frameworks[framework["id"]]
            self.completed_frameworks.append(framework)
            for task in self.tasks.values():
                agent = self.agents.get(task["slave_id"])
                if task["framework_id"] == framework["id"] and self.live(task) and agent:
                    kills.append((agent["url"], task["id"]))
        return kills

    @staticmethod
    def live(task: dict[str, Any]) -> bool:
        """A task that holds its agent's resources: not ended, not on an unreachable agent."""
        return task["state"] not in TERMINAL and not task.get("unreachable")

    def free(self, agent: dict[str, Any]) -> dict[str, float]:
        free = {k: float(v) for k, v in agent["resources"].items() if k != "ports"}
        for task in self.tasks.values():
            if task["slave_id"] == agent["id"] and self.live(task):
                for key, amount in task["resources"].items():
                    if key in free:
                        free[key] -= float(amount)
        return free

    def offers(self) -> Response:
        with self.lock:
            return json_response({"offers": [
                {"slave_id": a["id"], "hostname": a["hostname"], "resources": self.free(a),
                 "ports": a["resources"].get("ports", "")}
                for a in self.agents.values() if a["active"]]})

    def launch(self, body: dict[str, Any]) -> Response:
        task = body["task"]
        with self.lock:
            agent = self.agents.get(task["slave_id"])
            if agent is None or not agent["active"]:
                return json_response({"message": "unknown or inactive agent"}, 409)
            free = self.free(agent)
            short = [k for k, v in task["resources"].items() if k in free and v > free[k] + 1e-9]
            if short:
                return json_response({"message": f"insufficient {', '.join(short)}"}, 409)
            self.tasks[task["id"]] = {**task, "state": "TASK_STAGING", "statuses": []}
            url = agent["url"]
            framework = self.frameworks.get(task["framework_id"], {})
            # the agent gets the FrameworkInfo with the task, as RunTaskMessage carries it
            info = {"user": framework.get("user", "root"),
                    "capabilities": framework.get("capabilities", [])}
        status, answer = call("POST", f"{url}/standin/launch", {**body, "framework": info})
        if status != 200:
            self.update({"task_id": task["id"], "state": "TASK_FAILED",
                         "message": f"agent refused the launch: {answer}"})
        return json_response({"launched": status == 200}, 200 if status == 200 else 502)

    def kill(self, body: dict[str, Any]) -> Response:
        with self.lock:
            task = self.tasks.get(body["task_id"])
            agent = self.agents.get(task["slave_id"]) if task else None
        if task is None or agent is None:
            return json_response({"message": "unknown task"}, 404)
        status, _ = call("POST", f"{agent['url']}/standin/kill", body)
        return json_response({}, status)

    def update(self, body: dict[str, Any]) -> Response:
        """A status update from an agent."""
        with self.lock:
            task = self.tasks.get(body["task_id"])
            if task is not None and task["slave_id"] in self.removed:
                task = None  # a removed agent's update: dropped (0.23.0 master.cpp l.3721)
            if task is not None:
                task["state"] = body["state"]
                task["statuses"] = [*task.get("statuses", []),
                                    {"state": body["state"], "timestamp": time.time()}]
                task["message"] = body.get("message", "")
                task["reason"] = body.get("reason", "")
        return json_response({})

    # --- state, as the real endpoints answer it ---------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.lock:
            leading = self.leading
            frameworks = []
            for fw in self.frameworks.values() if leading else []:
                frameworks.append(self.public_framework(fw))
            slaves = [self.public_agent(a) for a in self.agents.values()] if leading else []
            state: dict[str, Any] = {
                "version": VERSION, "id": self.id, "pid": self.pid, "hostname": self.hostname,
                "start_time": self.start_time,
                "activated_slaves": float(sum(1 for a in slaves if a["active"])),
                "deactivated_slaves": float(sum(1 for a in slaves if not a["active"])),
                "flags": self.flags(), "slaves": slaves, "frameworks": frameworks,
                "completed_frameworks": [self.public_framework(f) for f in
                                         self.completed_frameworks] if leading else [],
                "orphan_tasks": [], "unregistered_frameworks": [],
            }
            if not LEGACY:  # 1.7.1 src/master/http.cpp l.2916: how many, not which
                state["unreachable_slaves"] = float(len(self.unreachable)) if leading else 0.0
            if self.leader is not None:
                state["leader"] = self.leader["pid"]
                if not LEGACY:
                    state["leader_info"] = self.leader
            if self.elected_time is not None:
                state["elected_time"] = self.elected_time
            return state

    def public_framework(self, fw: dict[str, Any]) -> dict[str, Any]:
        """A framework as state.json has it; 1.x lists the tasks of unreachable agents as
        `unreachable_tasks`, not among the others (1.7.1 src/master/http.cpp l.341-350)."""
        tasks = [t for t in self.tasks.values() if t["framework_id"] == fw["id"]]
        public = {
            **{k: v for k, v in fw.items() if k not in ("last_seen", "capabilities")},
            "checkpoint": True,
            "tasks": [self.public_task(t) for t in tasks if self.live(t)],
            "completed_tasks": [self.public_task(t) for t in tasks
                                if t["state"] in TERMINAL and not t.get("unreachable")],
            "offers": [], "executors": [],
            "resources": self.used(fw["id"]), "used_resources": self.used(fw["id"]),
        }
        if not LEGACY:
            public["unreachable_tasks"] = [self.public_task(t) for t in tasks
                                           if t.get("unreachable")]
        return public

    def used(self, framework_id: str) -> dict[str, float]:
        used = {"cpus": 0.0, "mem": 0.0, "disk": 0.0}
        for task in self.tasks.values():
            if task["framework_id"] == framework_id and self.live(task):
                for key in used:
                    used[key] += float(task["resources"].get(key, 0))
        return used

    def public_task(self, task: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "name", "framework_id", "executor_id", "slave_id", "state", "resources",
                "statuses", "container")
        return {k: task[k] for k in keys if k in task}

    def public_agent(self, agent: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "pid", "hostname", "resources", "active", "registered_time", "version",
                "attributes")
        public = {k: agent[k] for k in keys if k in agent}
        public["used_resources"] = {k: agent["resources"][k] - v
                                    for k, v in self.free(agent).items()}
        return public

    def flags(self) -> dict[str, str]:
        flags = {"port": str(self.port), "hostname": self.hostname, "ip": self.ip,
                 "registry": os.environ.get("MESOS_REGISTRY", "replicated_log"),
                 "work_dir": os.environ.get("MESOS_WORK_DIR", "/var/lib/mesos")}
        for name in ("zk", "quorum", "registry_fetch_timeout"):
            if os.environ.get(f"MESOS_{name.upper()}"):
                flags[name] = os.environ[f"MESOS_{name.upper()}"]
        return flags

    # --- routing ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/health", "/master/health"):
            return Response(200, b"")
        if path in ("/redirect", "/master/redirect"):
            return self.redirect_to_leader(path, always=True)
        state_paths = (("/master/state.json", "/state.json") if LEGACY
                       else ("/master/state", "/state"))
        if path in state_paths:
            if not LEGACY and not self.leading:
                return self.redirect_to_leader(path)
            return json_response(self.state())
        if not LEGACY and path in ("/master/slaves", "/slaves", "/master/frameworks",
                                   "/frameworks"):
            if not self.leading:
                return self.redirect_to_leader(path)
            state = self.state()
            if path.endswith("slaves"):
                return json_response({"slaves": state["slaves"], "recovered_slaves": []})
            return json_response({"frameworks": state["frameworks"], "completed_frameworks": [],
                                  "unregistered_frameworks": []})
        if path.startswith("/standin/"):
            return self.handle_internal(request)
        return Response(404, b"")

    def redirect_to_leader(self, path: str, *, always: bool = False) -> Response:
        with self.lock:
            leader = self.leader
        if leader is None:
            return Response(503, "No leader elected")
        if leader["id"] == self.id and not always:
            return Response(404, b"")
        host, port = master_address(leader).split(":")
        target = "" if path.endswith("redirect") else path
        return Response(307, b"", {"Location": f"//{leader.get('hostname', host)}:{port}{target}"})

    def handle_internal(self, request: Request) -> Response:
        with self.lock:
            ready = self.leading and self.recovered
        if not ready:
            return json_response({"message": "not the leading master"}, 503)
        routes = {
            ("POST", "/standin/agents"): lambda: self.register_agent(request.json()),
            ("POST", "/standin/frameworks"): lambda: self.register_framework(request.json()),
            ("GET", "/standin/offers"): self.offers,
            ("POST", "/standin/launch"): lambda: self.launch(request.json()),
            ("POST", "/standin/kill"): lambda: self.kill(request.json()),
            ("POST", "/standin/status"): lambda: self.update(request.json()),
            ("GET", "/standin/tasks"): lambda: self.framework_tasks(request.query),
        }
        route = routes.get((request.method, request.path))
        return route() if route else Response(404, b"")

    def framework_tasks(self, query: dict[str, str]) -> Response:
        with self.lock:
            framework = self.frameworks.get(query.get("framework_id", ""))
            if framework is not None:
                framework["last_seen"] = self.clock()
            tasks = [t for t in self.tasks.values()
                     if t["framework_id"] == query.get("framework_id")]
            return json_response({"tasks": tasks})


def main() -> None:
    exit_on_sigterm(C)
    apply_argv_flags(C, "MESOS_")
    master = Master()
    log(C, f"Master {master.id} ({master.hostname}) started on {master.ip}:{master.port}, "
           f"{'legacy' if LEGACY else 'modern'} generation, version {VERSION}")
    serve(C, master.ip, master.port, master.handle)
    threading.Thread(target=master.expire, daemon=True).start()
    master.contend()
    threading.Event().wait()


if __name__ == "__main__":
    main()
