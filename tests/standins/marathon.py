"""Marathon stand-in: leader election, framework registration, apps, groups, deployments, events.

Follows Marathon as seen from outside (``shared/design/contract.md``; legacy = v0.11.1,
modern = v1.10):
- env `MARATHON_<FLAG>` is `--<flag>`: `MASTER` (required), `ZK` (zk://localhost:2181/marathon),
  `HOSTNAME`, `HTTP_ADDRESS`, `HTTP_PORT` (8080), `HTTP_CREDENTIALS` (basic auth);
- leader election under the ZK path (legacy `leader/member_<seq>`, modern `leader-curator/`);
  every path passes Marathon's leader proxy filter (`LEADER_LOOKS`): a standby forwards the
  request to the leader (1.x redirects `/v2/events` there), and with no leader the filter waits
  2.75 s (`STANDIN_LEADER_RETRY_INTERVAL` x 11) and answers 503 (legacy) / 502 (modern) with
  Jetty's error page (`jetty_error`);
- 1.x refuses changes while `--max_running_deployments` deployments run (403) and answers 503
  when its task tracker does not answer within `--task_tracker_request_timeout`
  (`STANDIN_TASK_TRACKER_DELAY`);
- registers as framework `marathon` with the leading master (after `STANDIN_REGISTRATION_DELAY`);
  `/v2/info` says `elected` before, and shows `frameworkId` once registered;
- apps, groups and deployments kept in ZooKeeper under `<zk>/state`, so a restarted or newly
  elected Marathon still knows them; tasks are reconciled from the master;
- `/v2/apps`, `/v2/groups`, `/v2/deployments`, `/v2/queue`, `/v2/tasks`, `/v2/info`,
  `/v2/leader`, `/v2/events` (SSE), `/ping`, with both generations' errors;
- keeps every version of each app (up to `--zk_max_versions`) and of the whole set of apps, for
  `GET /v2/apps/{id}/versions` and rollback (`PUT` with `{"id", "version"}`, a group's
  `{"version"}`), answering `version` beside other fields as each generation does;
- keeps `instances` tasks running: places each where cpus/mem/disk fit (else it waits in the
  queue), relaunches ended tasks, with back-off after those its rate limiter counts, and
  records `lastTaskFailure` for the failure states only (`FAILURE_STATES`, `backs_off`);
- registers with the user `MESOS_USER` names, by default the user it runs as, and gives a
  task the app's `user` when it has one (the agent runs it as that user);
- on losing ZooKeeper (`zk_changed`; the session is `MARATHON_ZK_TIMEOUT` ms in 0.11,
  `MARATHON_ZK_SESSION_TIMEOUT` ms in 1.x, 10000 both): 0.11 abdicates when its session
  expires and offers its leadership again; 1.x takes the leader as unknown as soon as the
  connection drops, and a leader exits (status 103) for its supervisor to restart it;
- replaces the tasks of a lost agent: 0.11 on TASK_LOST; 1.x keeps an unreachable task for its
  app's `unreachableStrategy` (`inactiveAfterSeconds` 0, `expungeAfterSeconds` 0 by default),
  replaces it once inactive, forgets it once expunged and kills it if it comes back then
  (`unreachable_fate`); places tasks after the `hostname:UNIQUE` constraint (`place`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import queue
import re
import signal
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

from common import (
    LEGACY,
    Request,
    Response,
    basic_auth_ok,
    call,
    connect_zk,
    die,
    env_seconds,
    iso_now,
    json_response,
    leading_master,
    log,
    master_address,
    parse_zk_url,
    serve,
)
from marathon_api import REPORTED, VERSION, later, marathon_time, route

C = "marathon"
ACTIVE = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"}
TICK_S = env_seconds("STANDIN_TICK", 0.1)
# --- the leader proxy filter ------------------------------------------------------------------
# Marathon's LeaderProxyFilter stands in front of every path ("/*": v0.11.1
# api/MarathonRestModule.scala l.17-22; v1.10.26 api/HttpBindings.scala l.39; releases/1.11 the
# same), so /ping, /v2/leader and /v2/info are not exempt; basic auth comes before it (Jetty's
# security handler on "/*": chaos v0.7.0 http/HttpModule.scala l.165 and l.190-193; v1.10.26
# api/HttpModule.scala l.149 and l.188-191). With no leader, or itself named but not elected,
# it looks again `retries = 10` times while retries >= 0, sleeping 250 ms after each look
# (v0.11.1 api/LeaderProxyFilter.scala l.89-119 and l.155-159; v1.10.26 l.49-76 and l.124-126):
# 11 looks, 2.75 s, then it gives up; the sleep is a setting here.
LEADER_LOOKS = 11
LEADER_RETRY_S = env_seconds("STANDIN_LEADER_RETRY_INTERVAL", 0.25)
NO_LEADER = "Could not determine the current leader"  # v0.11.1 l.170; v1.10.26 l.136
NO_LEADER_STATUS = 503 if LEGACY else 502  # v0.11.1 l.137 SC_SERVICE_UNAVAILABLE; 1.10.26 l.95
# The forwarder's words and its loop-detecting header (v0.11.1 LeaderProxyFilter.scala
# l.337-339; v1.10.26 api/forwarder/RequestForwarder.scala l.16-20).
VIA = "X-Marathon-Via"
LOOP = "Detected proxying loop."
REFUSED = "Connection to leader refused."
# What Marathon 1.x reads through its instance tracker (AppsResource.index l.94 and show l.162
# embed task counts, AppInfoBaseData.scala l.68-71; AppTasksResource l.49 and l.97;
# TasksResource l.58 and l.103): GET of the apps, an app, its tasks, all tasks.
TRACKER_READS = re.compile(r"/v2/tasks|/v2/apps(/.+)?")
JETTY = "9.3.2.v20150730"  # under 0.11.1: chaos v0.7.0 project/build.scala l.124
# The task ends Marathon records as the app's lastTaskFailure: TaskFailure.isFailureState
# (v0.11.1 state/TaskFailure.scala l.98-104; v1.10.26 l.127-133), never TASK_FINISHED or
# TASK_KILLED (1.10 also records a kill for failed health checks, HistoryActor.scala l.25-26:
# this stand-in runs no health checks).
FAILURE_STATES = frozenset(("TASK_FAILED", "TASK_LOST", "TASK_ERROR") if LEGACY else (
    "TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE",
    "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"))
# The ends that delay the app's next launch (the launch queue's rate limiter): v0.11.1
# NotifyRateLimiterStepImpl.scala l.24-47, every end but TASK_KILLED; v1.10.26 l.84-90
# `limitWorthy`, the conditions Dropped, Error, Failed, Gone (GONE and GONE_BY_OPERATOR,
# TaskCondition.scala l.61) and Finished; a 1.x TASK_LOST is one of them unless its reason
# makes it Unreachable or Unknown (`backs_off`).
BACKOFF_STATES = frozenset(("TASK_ERROR", "TASK_FAILED", "TASK_FINISHED", "TASK_LOST") if LEGACY
                           else ("TASK_DROPPED", "TASK_ERROR", "TASK_FAILED", "TASK_GONE",
                                 "TASK_GONE_BY_OPERATOR", "TASK_FINISHED"))
# What takes a new task back out of a start or restart deployment's count of started ones:
# v0.11.1 upgrade/StartingBehavior.scala l.103-107 `StartErrorState` (TASK_FINISHED not among
# them), v1.10.26 core/deployment/impl/TaskStartActor.scala l.46-50 any terminal condition.
UNSTARTING_STATES = frozenset(("TASK_ERROR", "TASK_FAILED", "TASK_KILLED", "TASK_LOST") if LEGACY
                              else ("TASK_ERROR", "TASK_FAILED", "TASK_KILLED", "TASK_LOST",
                                    "TASK_FINISHED", "TASK_DROPPED", "TASK_GONE",
                                    "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"))
# v1.10.26 TaskConditionMapping.scala l.19-27: the reasons of a TASK_LOST that is Unreachable
# or Unknown; any other (an absent one reads as the enum's first) makes it Gone.
LOST_NOT_GONE = frozenset(("REASON_RECONCILIATION", "REASON_SLAVE_DISCONNECTED",
                           "REASON_SLAVE_REMOVED", "REASON_TASK_UNKNOWN"))


def backs_off(state: str, reason: str, message: str) -> bool:
    """Whether a task's end delays its app's next launch (`BACKOFF_STATES`; a 1.x TASK_LOST
    as TaskCondition.scala l.80-92 `inferStateForLost` sees it)."""
    if not LEGACY and state == "TASK_LOST":
        unknown = message.startswith("Reconciliation: Task is unknown to the")
        return not unknown and reason not in LOST_NOT_GONE
    return state in BACKOFF_STATES


# FrameworkInfo capabilities: 1.x registers PARTITION_AWARE (v1.10.26 and releases/1.11
# MarathonSchedulerDriver.scala l.84), so agents drop rather than lose its unlaunchable tasks
# and the master makes its tasks of an unreachable agent TASK_UNREACHABLE; 0.11.1 registers none.
CAPABILITIES = [] if LEGACY else ["PARTITION_AWARE"]
# 1.x's exit code on losing leadership (v1.10.26 core/base/CrashStrategy.scala l.19
# LeadershipLoss, l.32-34 the JVM exits with it).
LEADERSHIP_LOSS = 103
# 0.11.1's first wait before it offers its leadership again (MarathonSchedulerService.scala
# l.316 offerLeadershipBackOff).
OFFER_BACKOFF_S = 0.5
# An app's unreachableStrategy unless it names one: 1.10.26 state/UnreachableStrategy.scala
# l.32-33 (and the RAML type's defaults, types/unreachableStrategy.raml l.11-31).
UNREACHABLE_DEFAULT = {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}


def unreachable_fate(strategy: dict[str, Any] | str | None, since: float, now: float) -> str:
    """What 1.x makes of a task unreachable since `since`: "counted" (it still stands for its
    instance), "inactive" (a new instance replaces it; v1.10.26 core/instance/Instance.scala
    l.234-264 `conditionFromTasks`, `shouldBecomeInactive`) or "expunged" (forgotten, killed if
    it comes back: InstanceUpdater.scala l.101-104 at once when due, else the
    ExpungeOverdueLostTasksActor's sweep l.38-46; its 30 s `--task_lost_expunge_interval` is
    not modelled). `disabled` keeps it counted."""
    if not isinstance(strategy, dict):
        return "counted"
    elapsed = now - since
    if elapsed >= float(strategy.get("expungeAfterSeconds", 0)):
        return "expunged"
    if elapsed >= float(strategy.get("inactiveAfterSeconds", 0)):
        return "inactive"
    return "counted"


def unique_hosts(app: dict[str, Any]) -> bool:
    """Whether the app asks for at most one task per host (`["hostname", "UNIQUE"]`: v0.11.1
    Constraints.scala and v1.10.26 mesosphere/mesos/Constraints.scala, the UNIQUE operator on
    the hostname field)."""
    return any(list(c)[:2] == ["hostname", "UNIQUE"] for c in app.get("constraints") or [])
APP_DEFAULTS: dict[str, Any] = {
    "cmd": None, "args": None, "user": None, "env": {}, "instances": 1, "cpus": 1.0,
    "mem": 128.0, "disk": 0.0, "executor": "", "constraints": [], "uris": [], "ports": [0],
    "requirePorts": False, "backoffSeconds": 1, "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 3600, "container": None, "healthChecks": [], "dependencies": [],
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "labels": {}, "acceptedResourceRoles": None,
}


class Marathon:
    def __init__(self) -> None:
        self.master_spec = os.environ.get("MARATHON_MASTER") or die(
            C, "--master is required: set MARATHON_MASTER")  # type: ignore[func-returns-value]
        self.hostname = os.environ.get("MARATHON_HOSTNAME", "127.0.0.1")
        self.http_address = os.environ.get("MARATHON_HTTP_ADDRESS", "0.0.0.0")
        self.http_port = int(os.environ.get("MARATHON_HTTP_PORT", "8080"))
        self.me = f"{self.hostname}:{self.http_port}"
        self.credentials = os.environ.get("MARATHON_HTTP_CREDENTIALS")
        self.mesos_user = os.environ.get("MARATHON_MESOS_USER") or process_user()
        self.zk_hosts, self.zk_path = parse_zk_url(
            os.environ.get("MARATHON_ZK", "zk://localhost:2181/marathon"))
        self.lock = threading.RLock()
        self.zk: Any = None
        self.master_zk: Any = None
        self.leader: str | None = None
        self.elected = False
        self.term = 0  # counts elections won: a lead() loop runs only in its own term
        self.leader_path = ""
        self.mine = ""  # our election znode
        self.stopping = False
        self.unknown: list[str] = []  # tasks reported running that Marathon had forgotten
        # the election's ZooKeeper session, in ms: 0.11.1 --zk_timeout (ZookeeperConf.scala
        # l.18-20, Main.scala l.21-30), 1.10.26 --zk_session_timeout (ZookeeperConf.scala l.15-19)
        self.zk_session_ms = int(os.environ.get("MARATHON_ZK_TIMEOUT" if LEGACY
                                                else "MARATHON_ZK_SESSION_TIMEOUT") or 10000)
        # --failover_timeout in seconds, 604800 (0.11.1 MarathonConf.scala l.29-31; 1.10.26 l.80)
        self.failover_timeout = float(os.environ.get("MARATHON_FAILOVER_TIMEOUT") or 604800)
        self.framework_id: str | None = None
        self.registered = False
        self.apps: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}  # group id -> its record (dependencies)
        self.deployments: dict[str, dict[str, Any]] = {}
        # deployment id -> app id -> its new tasks that reported TASK_RUNNING (finish_deployments)
        self.started: dict[str, dict[str, set[str]]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}  # task id -> Marathon's view of the task
        self.killed: set[str] = set()
        self.done: set[str] = set()  # ended tasks the master still lists among completed ones
        self.backoff: dict[str, tuple[float, float]] = {}  # app id -> (launch not before, delay)
        self.failures: dict[str, dict[str, Any]] = {}
        self.waiting: dict[str, dict[str, Any]] = {}  # app id -> queue entry
        self.subscribers: list[queue.Queue[dict[str, Any]]] = []
        self.versions: dict[str, list[dict[str, Any]]] = {}  # app id -> stored, oldest first
        self.root_versions: dict[str, dict[str, dict[str, Any]]] = {}  # version -> every app
        self.last_version = ""
        # --zk_max_versions: 25 in 0.11.1 (ZookeeperConf.scala l.33-36), 50 in 1.10.26
        # (storage/StorageConf.scala l.25-29); older versions are dropped.
        self.max_versions = int(os.environ.get("MARATHON_ZK_MAX_VERSIONS")
                                or (25 if LEGACY else 50))
        # --leader_proxy_connection_timeout and --leader_proxy_read_timeout, in ms: 5000 and
        # 10000 (v0.11.1 LeaderProxyConf.scala l.12-19; v1.10.26 l.18-29).
        self.proxy_connect_s = int(os.environ.get("MARATHON_LEADER_PROXY_CONNECTION_TIMEOUT")
                                   or 5000) / 1000
        self.proxy_read_s = int(os.environ.get("MARATHON_LEADER_PROXY_READ_TIMEOUT")
                                or 10000) / 1000
        # 1.x: --max_running_deployments (100: core/group/GroupManagerConfig.scala l.33-38) and
        # --task_tracker_request_timeout (ms, 10000: core/task/tracker/InstanceTrackerConfig.scala
        # l.8-13); how long the stand-in's task tracker takes to answer is ours.
        self.max_deployments = int(os.environ.get("MARATHON_MAX_RUNNING_DEPLOYMENTS") or 100)
        self.tracker_timeout_ms = int(os.environ.get("MARATHON_TASK_TRACKER_REQUEST_TIMEOUT")
                                      or 10000)
        self.tracker_delay = env_seconds("STANDIN_TASK_TRACKER_DELAY")
        self.sleep = time.sleep  # the filter's and the tracker's waits (tests give a fake clock)

    # --- election and state in ZooKeeper ----------------------------------------------------

    def elect(self) -> None:
        self.zk = connect_zk(C, self.zk_hosts, on_state=self.zk_changed,
                             session_timeout=self.zk_session_ms / 1000)
        self.leader_path = f"{self.zk_path}/leader" if LEGACY else f"{self.zk_path}/leader-curator"
        self.offer_leadership()

        @self.zk.ChildrenWatch(self.leader_path)  # type: ignore[misc]
        def _on_change(children: list[str]) -> None:
            self.children_changed(children)

    def offer_leadership(self) -> None:
        """Our candidacy: an EPHEMERAL|SEQUENCE znode holding host:port."""
        node = "member_" if LEGACY else f"_c_{uuid.uuid4()}-latch-"
        self.mine = self.zk.create(f"{self.leader_path}/{node}", self.me.encode(), ephemeral=True,
                                   sequence=True, makepath=True).rsplit("/", 1)[1]

    def children_changed(self, children: list[str]) -> None:
        """The smallest sequence leads; when that is us, lead."""
        ordered = sorted(children, key=lambda c: int(re.sub(r"\D", "", c[-10:]) or -1))
        leader = None
        if ordered:
            try:
                leader = self.zk.get(f"{self.leader_path}/{ordered[0]}")[0].decode()
            except Exception:
                leader = None
        with self.lock:
            self.leader = leader
            won = bool(ordered) and ordered[0] == self.mine and not self.elected
            if won:
                self.elected = True
                self.term += 1
        if won:
            threading.Thread(target=self.lead, args=(self.term,), daemon=True).start()

    def zk_changed(self, state: str) -> None:
        """A change of the ZooKeeper connection (kazoo's SUSPENDED, CONNECTED, LOST).
        1.x: a dropped or lost connection makes the leader unknown ("Connection SUSPENDED;
        assuming leader is unknown", v1.10.26 core/election/CuratorElectionStream.scala
        l.251-267), and a leader that becomes a standby crashes ("Lost leadership; crashing",
        ElectionService.scala l.179-182, exit LEADERSHIP_LOSS); back, it reads the leader again.
        0.11: only an expired session (LOST) defeats it: `abdicate`."""
        if self.stopping:
            return
        if LEGACY:
            if state == "LOST":
                threading.Thread(target=self.abdicate, daemon=True).start()
            return
        if state in ("SUSPENDED", "LOST"):
            log(C, f"Connection {state}; assuming leader is unknown")
            with self.lock:
                self.leader = None
                was_leader = self.elected
            if was_leader:
                log(C, "Lost leadership; crashing")
                os._exit(LEADERSHIP_LOSS)
        elif state == "CONNECTED" and self.leader_path:
            log(C, "Connection reestablished; spawning new leader watch loop")
            threading.Thread(target=self.read_leader, daemon=True).start()

    def read_leader(self) -> None:
        """Who leads now. 1.x, back on ZooKeeper, first puts its candidacy back when the lost
        session took its znode along (Curator's LeaderLatch resets itself on RECONNECTED; read
        from its documented behaviour, Curator is not vendored in Marathon)."""
        with contextlib.suppress(Exception):
            if not LEGACY and self.mine and not self.zk.exists(f"{self.leader_path}/{self.mine}"):
                self.offer_leadership()
            self.children_changed(self.zk.get_children(self.leader_path))

    def abdicate(self) -> None:
        """0.11.1 defeated (its ZooKeeper membership gone with the session): it stops its
        driver, stays up as a standby and offers its leadership again after a back-off
        (MarathonSchedulerService.scala `onDefeated` l.234-238, `defeatLeadership` l.279-292,
        `runDriver` l.186-220, `offerLeadership` l.331-345)."""
        with self.lock:
            was_leader = self.elected
            self.elected = self.registered = False
            self.leader = None
        if was_leader:
            log(C, "Defeated (Leader Interface)")
            log(C, "Defeat leadership")
            log(C, "Stopping driver")
            log(C, "Driver future completed. Executing optional abdication command.")
        log(C, f"Will offer leadership after {int(OFFER_BACKOFF_S * 1000)} milliseconds backoff")
        self.sleep(OFFER_BACKOFF_S)
        while not self.stopping:
            try:
                self.offer_leadership()
                break
            except Exception as exc:
                log(C, f"offering leadership: {exc}")
                self.sleep(OFFER_BACKOFF_S)
        self.read_leader()

    def lead(self, term: int = 0) -> None:
        log(C, "Elected as leader; loading state from ZooKeeper")
        with self.lock:
            self.elected = True
            self.load_state()
        delay = env_seconds("STANDIN_REGISTRATION_DELAY")
        if delay:
            log(C, f"registration delay {delay}s: elected, not registered yet")
            time.sleep(delay)
        last_registration = 0.0
        while self.leads(term):
            if time.monotonic() - last_registration > 1.0:
                self.register()
                last_registration = time.monotonic()
            if self.registered:
                try:
                    self.schedule()
                except OSError as exc:
                    log(C, f"master unreachable: {exc}")
            time.sleep(TICK_S)

    def leads(self, term: int) -> bool:
        """Whether the leadership of `term` (0: any) still holds."""
        with self.lock:
            return self.elected and (term in (0, self.term))

    def load_state(self) -> None:
        self.apps = {a["id"]: a for a in self.load("apps")}
        self.groups = {g["id"]: g for g in self.load("groups")}
        self.deployments = {d["id"]: d for d in self.load("deployments")}
        self.versions = {v["id"]: v["versions"] for v in self.load("versions")}
        roots = sorted(self.load("root-versions"), key=lambda r: str(r["version"]))
        self.root_versions = {r["version"]: r["apps"] for r in roots}
        self.last_version = max([self.last_version, *self.root_versions])
        stored = self.zk.exists(f"{self.zk_path}/state/framework-id")
        if stored:
            self.framework_id = self.zk.get(f"{self.zk_path}/state/framework-id")[0].decode()

    def load(self, kind: str) -> list[dict[str, Any]]:
        path = f"{self.zk_path}/state/{kind}"
        self.zk.ensure_path(path)
        return [json.loads(self.zk.get(f"{path}/{child}")[0])
                for child in self.zk.get_children(path)]

    def store(self, kind: str, item: dict[str, Any] | None, key: str) -> None:
        path = f"{self.zk_path}/state/{kind}/{urllib.parse.quote(key, safe='')}"
        if item is None:
            self.zk.delete(path) if self.zk.exists(path) else None
        elif self.zk.exists(path):
            self.zk.set(path, json.dumps(item).encode())
        else:
            self.zk.create(path, json.dumps(item).encode(), makepath=True)

    def master_url(self) -> str | None:
        if self.master_spec.startswith("zk://"):
            hosts, path = parse_zk_url(self.master_spec)
            if self.master_zk is None:
                self.master_zk = self.zk if hosts == self.zk_hosts else connect_zk(C, hosts)
            info = leading_master(self.master_zk, path)
            return f"http://{master_address(info)}" if info else None
        return f"http://{self.master_spec}"

    def register(self) -> None:
        url = self.master_url()
        if url is None:
            return
        try:
            status, answer = call("POST", f"{url}/standin/frameworks",
                                  {"name": "marathon", "id": self.framework_id,
                                   "hostname": self.hostname,
                                   "webui_url": f"http://{self.me}", "user": self.mesos_user,
                                   "capabilities": CAPABILITIES,
                                   "failover_timeout": self.failover_timeout}, timeout=2)
        except OSError:
            return
        if status != 200:
            return
        with self.lock:
            if not self.registered:
                log(C, f"Registered with master {url} as framework {answer['id']}")
            if self.framework_id != answer["id"]:
                self.framework_id = answer["id"]
                node = f"{self.zk_path}/state/framework-id"
                if self.zk.exists(node):
                    self.zk.set(node, answer["id"].encode())
                else:
                    self.zk.create(node, answer["id"].encode(), makepath=True)
            self.registered = True

    # --- the scheduler ----------------------------------------------------------------------

    def schedule(self) -> None:
        url = self.master_url()
        if url is None:
            return
        status, answer = call("GET", f"{url}/standin/tasks?framework_id={self.framework_id}")
        if status != 200:
            return
        with self.lock:
            self.reconcile(answer["tasks"])
            self.expunge(time.time())
            for task_id in self.unknown:
                log(C, f"Kill unknown {task_id}")  # v1.10.26 TaskStatusUpdateProcessorImpl l.108
                self.kill(url, {"id": task_id})
            self.unknown.clear()
            offers: list[dict[str, Any]] | None = None
            for task in list(self.tasks.values()):
                if task["appId"] not in self.apps and task["state"] in ACTIVE:
                    self.kill(url, task)
            for app in list(self.apps.values()):
                tasks = [t for t in self.tasks.values()
                         if t["appId"] == app["id"] and self.counted(t, app, time.time())]
                stale = [t for t in tasks if t["version"] != app["version"]]
                tasks = [t for t in tasks if t["version"] == app["version"]]
                stale += tasks[app["instances"]:]
                tasks = tasks[:app["instances"]]
                for task in stale:
                    self.kill(url, task)
                missing = app["instances"] - len(tasks)
                if missing <= 0:
                    self.waiting.pop(app["id"], None)
                    continue
                if time.time() < self.backoff.get(app["id"], (0.0, 0.0))[0]:
                    continue
                if offers is None:
                    offers = call("GET", f"{url}/standin/offers")[1]["offers"]
                for _ in range(missing):
                    if not self.place(url, app, offers):
                        break
            self.finish_deployments()

    def counted(self, task: dict[str, Any], app: dict[str, Any], now: float) -> bool:
        """Whether a task stands for one of its app's instances: it runs (or is starting), or
        1.x holds it unreachable but not yet inactive (`unreachable_fate`)."""
        if task["state"] in ACTIVE:
            return True
        return task["state"] == "TASK_UNREACHABLE" and unreachable_fate(
            app.get("unreachableStrategy"), task["unreachable_since"], now) == "counted"

    def expunge(self, now: float) -> None:
        """1.x forgets the unreachable tasks its apps' strategies expunge (`unreachable_fate`)."""
        for task in list(self.tasks.values()):
            app = self.apps.get(task["appId"], {})
            if task["state"] == "TASK_UNREACHABLE" and unreachable_fate(
                    app.get("unreachableStrategy"), task["unreachable_since"], now) == "expunged":
                log(C, f"Instance {task['id']} is unreachable since "
                       f"{task['unreachable_at']} and will be expunged.")
                self.tasks.pop(task["id"])
                self.done.add(task["id"])

    def reconcile(self, reported: list[dict[str, Any]]) -> None:
        for task in reported:
            if task["id"] in self.done:
                if task["state"] in ACTIVE and task["id"] not in self.killed:
                    self.unknown.append(task["id"])  # came back after Marathon let it go
                continue
            labels = task.get("marathon", {})
            ours = self.tasks.get(task["id"])
            if ours is None:
                if "appId" not in labels:
                    continue
                ours = self.tasks[task["id"]] = {
                    "id": task["id"], "appId": labels["appId"], "version": labels["version"],
                    "host": labels.get("host", ""), "ports": labels.get("ports", []),
                    "slaveId": task["slave_id"], "stagedAt": iso_now(), "startedAt": None,
                    "state": None,
                }
            for state in self.new_states(ours, task):
                self.status_update(ours, task, state)
                if state == "TASK_UNREACHABLE" and not LEGACY:
                    ours.setdefault("unreachable_since", time.time())
                    ours.setdefault("unreachable_at", iso_now())
                    continue
                ours.pop("unreachable_since", None)
                ours.pop("unreachable_at", None)
                if state not in ACTIVE:
                    self.tasks.pop(task["id"])
                    self.done.add(task["id"])
                    self.task_ended(ours, task)
                    break

    @staticmethod
    def new_states(ours: dict[str, Any], task: dict[str, Any]) -> list[str]:
        """The states the master reported for a task since the last tick, in order: Marathon
        hears every status update (a task that ran and exited between two ticks was RUNNING
        first), not only the latest."""
        states = [s["state"] for s in task.get("statuses") or []][ours.get("seen", 0):]
        ours["seen"] = ours.get("seen", 0) + len(states)
        states = states or [task["state"]]
        return [s for i, s in enumerate(states)
                if s != (states[i - 1] if i else ours["state"])]

    def status_update(self, ours: dict[str, Any], task: dict[str, Any], state: str) -> None:
        ours["state"] = state
        if state == "TASK_RUNNING" and not ours["startedAt"]:
            ours["startedAt"] = iso_now()
        self.publish("status_update_event", slaveId=ours["slaveId"], taskId=ours["id"],
                     taskStatus=state, message=task.get("message", ""),
                     appId=ours["appId"], host=ours["host"], ports=ours["ports"],
                     version=ours["version"])
        app = self.apps.get(ours["appId"])
        for deployment in list(self.deployments.values()):
            started = self.started.setdefault(deployment["id"], {})
            if app is None or app["id"] not in deployment["affectedApps"] or (
                    ours["version"] != app["version"]):
                continue
            if state == "TASK_RUNNING":
                started.setdefault(app["id"], set()).add(ours["id"])
            elif state in UNSTARTING_STATES:
                started.get(app["id"], set()).discard(ours["id"])
        if state == "TASK_RUNNING":
            self.finish_deployments()

    def task_ended(self, ours: dict[str, Any], task: dict[str, Any]) -> None:
        """A task ended: its app's lastTaskFailure when Marathon counts the end as a failure
        (`FAILURE_STATES`), and its relaunch held back (backoffFactor) when the rate limiter
        does (`backs_off`); a TASK_KILLED, Marathon's own kills included, does neither."""
        app = self.apps.get(ours["appId"])
        if app is None:
            return
        if task["state"] in FAILURE_STATES:
            self.failures[app["id"]] = {
                "appId": app["id"], "host": ours["host"], "message": task.get("message", ""),
                "state": task["state"], "taskId": ours["id"], "timestamp": iso_now(),
                "version": ours["version"],
            }
        if not backs_off(task["state"], task.get("reason") or "", task.get("message") or ""):
            return
        _, previous = self.backoff.get(app["id"], (0.0, 0.0))
        delay = min(previous * app["backoffFactor"] if previous else app["backoffSeconds"],
                    app["maxLaunchDelaySeconds"])
        self.backoff[app["id"]] = (time.time() + delay, delay)
        log(C, f"Task {ours['id']} of {app['id']} ended {task['state']}: relaunch in {delay:.2f}s")

    def place(self, url: str, app: dict[str, Any], offers: list[dict[str, Any]]) -> bool:
        need = {"cpus": app["cpus"], "mem": app["mem"], "disk": app["disk"]}
        reasons = {"InsufficientCpus": 0, "InsufficientMemory": 0, "InsufficientDisk": 0}
        taken = {t["host"] for t in self.tasks.values() if t["appId"] == app["id"]
                 and self.counted(t, app, time.time())} if unique_hosts(app) else set()
        for offer in offers:
            if offer["hostname"] in taken:
                reasons["UnfulfilledConstraint"] = reasons.get("UnfulfilledConstraint", 0) + 1
                continue
            short = [k for k, v in need.items() if v > offer["resources"].get(k, 0.0) + 1e-9]
            for key in short:
                reasons[{"cpus": "InsufficientCpus", "mem": "InsufficientMemory",
                         "disk": "InsufficientDisk"}[key]] += 1
            if short:
                continue
            if self.launch(url, app, offer):
                for key, value in need.items():
                    offer["resources"][key] -= value
                return True
        entry = self.waiting.setdefault(app["id"], {"since": iso_now(), "processed": 0})
        entry["processed"] += len(offers)
        entry["reasons"] = {k: entry.get("reasons", {}).get(k, 0) + v for k, v in reasons.items()}
        return False

    def launch(self, url: str, app: dict[str, Any], offer: dict[str, Any]) -> bool:
        slug = app["id"].strip("/").replace("/", "_")
        task_id = (f"{slug}.{uuid.uuid1()}" if LEGACY
                   else f"{slug}.instance-{uuid.uuid1()}._app.1")
        low, high = map(int, re.findall(r"\d+", offer.get("ports") or "[31000-32000]")[:2])
        used = {p for t in self.tasks.values() if t["slaveId"] == offer["slave_id"]
                for p in t["ports"]}
        ports = [p for p in range(low, high + 1) if p not in used][:len(app["ports"])]
        env = {**app["env"], **{f"PORT{i}": str(p) for i, p in enumerate(ports)},
               "PORTS": ",".join(map(str, ports)), "MARATHON_APP_ID": app["id"],
               "MARATHON_APP_VERSION": app["version"]}
        if ports:
            env["PORT"] = str(ports[0])
        task: dict[str, Any] = {
            "id": task_id, "name": slug, "framework_id": self.framework_id,
            "slave_id": offer["slave_id"], "env": env,
            "resources": {"cpus": app["cpus"], "mem": app["mem"], "disk": app["disk"]},
            "marathon": {"appId": app["id"], "version": app["version"],
                         "host": offer["hostname"], "ports": ports},
        }
        command = app["cmd"] if app["cmd"] is not None else (
            " ".join(app["args"]) if app["args"] else None)
        if command is not None:
            task["command"] = command
        if app.get("user"):  # CommandInfo.user (TaskBuilder.scala: app.user.foreach(setUser))
            task["user"] = app["user"]
        container = app.get("container") or {}
        if container.get("type", "DOCKER") == "DOCKER" and container.get("docker"):
            task["docker"] = container["docker"]
        self.tasks[task_id] = {"id": task_id, "appId": app["id"], "version": app["version"],
                               "host": offer["hostname"], "ports": ports,
                               "slaveId": offer["slave_id"], "stagedAt": iso_now(),
                               "startedAt": None, "state": "TASK_STAGING"}
        status, _ = call("POST", f"{url}/standin/launch", {"task": task}, timeout=30)
        if status != 200:
            self.tasks.pop(task_id, None)
            return False
        log(C, f"Launched task {task_id} of {app['id']} on {offer['hostname']}")
        return True

    def kill(self, url: str, task: dict[str, Any]) -> None:
        if task["id"] not in self.killed:
            self.killed.add(task["id"])
            call("POST", f"{url}/standin/kill", {"task_id": task["id"]})

    def finish_deployments(self) -> None:
        """A deployment ends as soon as each app's new tasks have each reported TASK_RUNNING
        once, whatever became of them since (v0.11.1 upgrade/StartingBehavior.scala l.63-69 and
        l.87-94, TaskReplaceActor.scala l.79-82 and l.128-133; v1.10.26
        core/deployment/impl/ReadinessBehavior.scala l.123-137 and TaskStartActor.scala l.80-91:
        an app without health checks counts a task on its first TASK_RUNNING), or when every
        app is as it should be (a scale down, a removal, a deployment a new leader took over)."""
        for deployment in list(self.deployments.values()):
            started = self.started.get(deployment["id"], {})
            if all(self.settled(app_id) or self.started_enough(app_id, started)
                   for app_id in deployment["affectedApps"]):
                del self.deployments[deployment["id"]]
                self.started.pop(deployment["id"], None)
                self.store("deployments", None, deployment["id"])
                self.publish("deployment_success", id=deployment["id"],
                             plan={"id": deployment["id"], "version": deployment["version"]})
                log(C, f"Deployment {deployment['id']} finished")

    def started_enough(self, app_id: str, started: dict[str, set[str]]) -> bool:
        app = self.apps.get(app_id)
        return app is not None and len(started.get(app_id, ())) >= app["instances"] > 0

    def settled(self, app_id: str) -> bool:
        tasks = [t for t in self.tasks.values() if t["appId"] == app_id and t["state"] in ACTIVE]
        app = self.apps.get(app_id)
        if app is None:
            return not tasks
        running = [t for t in tasks
                   if t["state"] == "TASK_RUNNING" and t["version"] == app["version"]]
        return len(running) == app["instances"] == len(tasks)

    # --- apps, groups, deployments ----------------------------------------------------------

    def new_version(self) -> str:
        """A change's version: when it was made, later than the one before."""
        version = iso_now()
        if version <= self.last_version:
            version = later(self.last_version)
        self.last_version = version
        return version

    def stored_version(self, app_id: str, version: str) -> dict[str, Any] | None:
        """The app as stored in `version` (any ISO form of the instant: Marathon parses it)."""
        wanted = marathon_time(version)
        return next((a for a in self.versions.get(app_id, []) if a["version"] == wanted), None)

    def normalise(self, body: dict[str, Any], app_id: str, version: str) -> dict[str, Any]:
        body = {k: v for k, v in body.items() if k not in REPORTED}  # read, never stored
        app = {**APP_DEFAULTS, **body, "id": app_id, "version": version}
        taken = {p for a in self.apps.values() if a["id"] != app_id for p in a["ports"]}
        free = (p for p in range(10000, 20000) if p not in taken)
        app["ports"] = [p or next(free) for p in app["ports"]]  # service ports, as Marathon
        app["upgradeStrategy"] = {**APP_DEFAULTS["upgradeStrategy"],
                                  **(body.get("upgradeStrategy") or {})}
        if not LEGACY:
            app["portDefinitions"] = [{"port": p, "protocol": "tcp", "labels": {}}
                                      for p in app["ports"]]
            app["unreachableStrategy"] = body.get("unreachableStrategy") or dict(
                UNREACHABLE_DEFAULT)
        app["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
        return app

    def deploy(self, affected: list[str], action: str, version: str | None = None
               ) -> dict[str, Any]:
        version = version or self.new_version()
        self.keep_root_version(version)
        actions = [{"action": action, "app": app_id} for app_id in affected]
        steps: list[Any] = [actions] if LEGACY else [{"actions": actions}]
        deployment = {"id": str(uuid.uuid4()), "version": version, "affectedApps": affected,
                      "steps": steps, "currentActions": actions, "currentStep": 1,
                      "totalSteps": 1}
        if not LEGACY:
            deployment["affectedPods"] = []
            deployment["currentActions"] = [{**a, "readinessCheckResults": []} for a in actions]
        self.deployments[deployment["id"]] = deployment
        self.store("deployments", deployment, deployment["id"])
        self.publish("deployment_info", plan=deployment, currentStep=steps[0])
        return deployment

    def keep_root_version(self, version: str) -> None:
        """Every app as it is after a change: the version a group rolls back to (Marathon keeps
        the root group's versions, GroupRepository)."""
        self.root_versions[version] = dict(self.apps)
        self.store("root-versions", {"version": version, "apps": self.apps}, version)
        for old in list(self.root_versions)[:-self.max_versions]:
            del self.root_versions[old]
            self.store("root-versions", None, old)

    def locked(self, app_ids: list[str], force: bool) -> Response | None:
        holding = [d for d in self.deployments.values()
                   if set(d["affectedApps"]) & set(app_ids)]
        if not holding:
            return None
        if force:
            for deployment in holding:
                del self.deployments[deployment["id"]]
                self.store("deployments", None, deployment["id"])
                self.publish("deployment_failed", id=deployment["id"])
            return None
        return json_response({
            "message": "App is locked by one or more deployments. Override with the option "
                       "'?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
            "deployments": [{"id": d["id"]} for d in holding]}, 409)

    def put_app(self, app_id: str, body: dict[str, Any], version: str) -> None:
        previous = self.apps.get(app_id)
        app = self.normalise(body, app_id, version)
        if previous is not None and set(body) == {"instances"}:
            app = {**previous, "instances": body["instances"], "version": version}
            app["versionInfo"] = {**previous["versionInfo"], "lastScalingAt": version}
            for task in self.tasks.values():  # scaling keeps the running tasks
                if task["appId"] == app_id:
                    task["version"] = version
        self.apps[app_id] = app
        self.backoff.pop(app_id, None)
        self.store("apps", app, app_id)
        kept = [*self.versions.get(app_id, []), app][-self.max_versions:]
        self.versions[app_id] = kept
        self.store("versions", {"id": app_id, "versions": kept}, app_id)

    def app_view(self, app: dict[str, Any], *, embed_tasks: bool) -> dict[str, Any]:
        tasks = [t for t in self.tasks.values() if t["appId"] == app["id"]]
        view = {**app,
                "tasksStaged": sum(t["state"] == "TASK_STAGING" for t in tasks),
                "tasksRunning": sum(t["state"] == "TASK_RUNNING" for t in tasks),
                "tasksHealthy": (sum(t["state"] == "TASK_RUNNING" for t in tasks)
                                 if app["healthChecks"] else 0),
                "tasksUnhealthy": 0,
                "deployments": [{"id": d["id"]} for d in self.deployments.values()
                                if app["id"] in d["affectedApps"]]}
        if embed_tasks:
            view["tasks"] = [self.task_view(t) for t in tasks]
            if app["id"] in self.failures:
                view["lastTaskFailure"] = self.failures[app["id"]]
        return view

    def task_view(self, task: dict[str, Any]) -> dict[str, Any]:
        view = {k: task[k] for k in ("id", "appId", "host", "ports", "slaveId", "stagedAt",
                                     "startedAt", "version")}
        view["servicePorts"] = self.apps[task["appId"]]["ports"] if (
            task["appId"] in self.apps) else []
        if not LEGACY:
            view["state"] = task["state"]
            view["ipAddresses"] = [{"ipAddress": task["host"], "protocol": "IPv4"}]
        return view

    # --- events -----------------------------------------------------------------------------

    def publish(self, event_type: str, **fields: Any) -> None:
        event = {**fields, "eventType": event_type, "timestamp": iso_now()}
        for subscriber in list(self.subscribers):
            subscriber.put(event)

    def events(self, request: Request) -> Response:
        inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.subscribers.append(inbox)
        # `?event_type=a&event_type=b`: a repeated parameter, as Marathon takes it
        wanted = set(filter(None, request.query_all.get("event_type", [])))

        def stream() -> Iterator[bytes]:
            try:
                yield self.sse({"remoteAddress": "127.0.0.1", "eventType":
                                "event_stream_attached", "timestamp": iso_now()})
                while True:
                    try:
                        event = inbox.get(timeout=15)
                    except queue.Empty:
                        yield b"\r\n"  # keeps idle connections open, as Marathon's heartbeat
                        continue
                    if not wanted or event["eventType"] in wanted:
                        yield self.sse(event)
            finally:
                self.subscribers.remove(inbox)

        return Response(200, headers={"Content-Type": "text/event-stream"}, stream=stream())

    @staticmethod
    def sse(event: dict[str, Any]) -> bytes:
        return f"event: {event['eventType']}\ndata: {json.dumps(event)}\n\n".encode()

    # --- HTTP -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Basic auth, then the leader proxy filter: the elected leader answers, a standby
        passes the request on (1.x: redirects the event stream), none gives up (`NO_LEADER`)."""
        if not basic_auth_ok(request, self.credentials):
            return Response(401, {"message": "Invalid username or password."},
                            {"WWW-Authenticate": 'Basic realm="Mesosphere Marathon"',
                             "Content-Type": "application/json"})
        leader = self.consistent_leader()
        if leader is None:
            return jetty_error(request, NO_LEADER_STATUS, NO_LEADER)
        if leader != self.me:
            if not LEGACY and request.path.startswith("/v2/events"):
                return redirect(request, leader)
            return self.forward(request, leader)
        response = self.answer(request)
        # the leader names itself (v0.11.1 LeaderProxyFilter.scala l.125-127; v1.10.26
        # l.82-86, with two headers against framing and XSS, l.130-134)
        response.headers["X-Marathon-Leader"] = f"http://{self.me}"
        if not LEGACY:
            response.headers |= {"X-Frame-Options": "DENY", "X-XSS-Protection": "1; mode=block"}
        return response

    def consistent_leader(self) -> str | None:
        """Who answers: us when elected, else the leader ZooKeeper names when that is another;
        with none (or ourselves, from before a restart), look again `LEADER_LOOKS` times, one
        `LEADER_RETRY_S` apart, then None (waitForConsistentLeadership)."""
        for _ in range(LEADER_LOOKS):
            with self.lock:
                elected, leader = self.elected, self.leader
            if elected:
                return self.me
            if leader is not None and leader != self.me:
                return leader
            self.sleep(LEADER_RETRY_S)
        return None

    def answer(self, request: Request) -> Response:
        """What the leader answers itself."""
        if request.path == "/ping":
            return ping(request)
        if not request.path.startswith("/v2/"):
            return Response(404, b"")
        stalled = self.ask_tracker(request)
        if stalled is not None:
            return stalled
        with self.lock:
            return route(self, request)

    def ask_tracker(self, request: Request) -> Response | None:
        """1.x reads tasks by asking its instance tracker, within --task_tracker_request_timeout
        (InstanceTrackerDelegate.scala l.40-50 and l.86 at v1.10.26); an ask that times out is a
        TimeoutException, answered 503 with its message (MarathonExceptionMapper.scala l.105).
        The stand-in's tracker takes STANDIN_TASK_TRACKER_DELAY seconds (0) to answer, outside
        the state lock. 0.11.1's tracker is read without an ask: never."""
        if LEGACY or request.method != "GET" or not TRACKER_READS.fullmatch(request.path) or (
                "/versions" in request.path):
            return None
        limit = self.tracker_timeout_ms / 1000
        if self.tracker_delay:
            self.sleep(min(self.tracker_delay, limit))
        if self.tracker_delay < limit:
            return None
        return json_response({"message": tracker_timed_out(self.tracker_timeout_ms)}, 503)

    def dismissed(self) -> Response | None:
        """1.x refuses any change of its root group while `--max_running_deployments`
        deployments run, `?force=true` or not (GroupManagerImpl.updateRootEither l.135,
        checkMaxRunningDeployments l.194-203 at v1.10.26): TooManyRunningDeploymentsException,
        answered 403 with its message (MarathonExceptionMapper.scala l.71-72 and l.113). Its
        callers ask after reading the request, before changing anything. 0.11.1 has no limit."""
        if LEGACY or len(self.deployments) < self.max_deployments:
            return None
        return json_response({"message": too_many_deployments(self.max_deployments)}, 403)

    def forward(self, request: Request, leader: str) -> Response:
        """A standby passes the request to the leader as its forwarder does (v0.11.1
        JavaUrlConnectionRequestForwarder, LeaderProxyFilter.scala l.180-317; v1.10.26
        AsyncUrlConnectionRequestForwarder.scala l.62-208): redirects not followed (0.11.1
        l.210), every header but Host and Connection sent on, `X-Marathon-Via: 1.1 <me>` added,
        and found in a request it is a loop, 502 (0.11.1 l.292-294; 1.10.26 l.161-166). The
        answer comes back as the leader gave it, status, headers and body (an event stream as
        it flows), the Via header added (0.11.1 l.260-287; 1.10.26 l.62-80). 1.10.26's
        X-Forwarded-For (l.112-116) is not sent: the stand-in does not know the client."""
        via = f"1.1 {self.me}"
        if via in (v.strip() for v in request.headers.get("x-marathon-via", "").split(",")):
            return jetty_error(request, 502, LOOP)
        host, _, port = leader.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=self.proxy_connect_s)
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(self.proxy_read_s)
            headers = {k: v for k, v in request.headers.items() if k not in ("host", "connection")}
            headers["x-marathon-via"] = ", ".join(
                filter(None, (request.headers.get("x-marathon-via"), via)))
            query = urllib.parse.urlencode(request.query_all, doseq=True)
            connection.request(request.method, request.path + (f"?{query}" if query else ""),
                               body=request.body or None, headers=headers)
            answer = connection.getresponse()
            relayed = relay(answer, connection)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            return not_forwarded(request, exc)
        relayed.headers[VIA] = via
        return relayed


def relay(answer: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> Response:
    """The leader's answer as the standby sends it on: its status (without the leader's
    words), its headers but those this server writes itself, its body; an event stream flows
    on, flushed at each read, until it ends or stays silent for the read timeout (0.11.1
    io/IO.scala l.89-107; the failed read ends the answer, LeaderProxyFilter.scala l.277-286)."""
    own = {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
    headers = {k: v for k, v in answer.getheaders() if k.lower() not in own}
    if "text/event-stream" not in (answer.getheader("Content-Type") or ""):
        body = answer.read()
        connection.close()
        return Response(answer.status, body, headers)

    def flowing() -> Iterator[bytes]:
        try:
            while chunk := answer.read1(65536):
                yield chunk
        except OSError:
            return
        finally:
            connection.close()

    return Response(answer.status, headers=headers, stream=flowing())


def not_forwarded(request: Request, exc: Exception) -> Response:
    """The leader could not be asked. 0.11.1: a refused connection is 502 (a ConnectException,
    LeaderProxyFilter.scala l.303-304), anything else escapes the filter as
    RuntimeException("while proxying") (l.145-147), Jetty's 500 page with the exception (9.3.2
    ServletHandler.java l.599-648, Response.sendError l.552-557). 1.10.26: any failure of the
    TCP connection, refused or silent, is 502 (AsyncUrlConnectionRequestForwarder.scala
    l.171-179)."""
    if not LEGACY or isinstance(exc, ConnectionRefusedError):
        return jetty_error(request, 502, REFUSED)
    cause = "java.lang.RuntimeException: while proxying"
    return jetty_error(request, 500, cause, reason=None,
                       stacks=f"<h3>Caused by:</h3><pre>{sanitize(cause)}</pre>\n")


def redirect(request: Request, leader: str) -> Response:
    """1.x sends a client of a standby's event stream to the leader: 302, Location the same
    path and query on the leader (v1.10.26 LeaderProxyFilter.scala l.97-106 and l.120-122,
    `buildUrl` l.35-44; Jetty 9.4.8 Response.sendRedirect l.684-729, no body); releases/1.11
    the same."""
    query = urllib.parse.urlencode(request.query_all, doseq=True)
    location = f"http://{leader}{request.path}" + (f"?{query}" if query else "")
    return Response(302, b"", {"Location": location})


def jetty_error(request: Request, status: int, message: str, *, reason: str | None = "",
                stacks: str = "") -> Response:
    """`response.sendError(status, message)` as Jetty answers it: the message in the status
    line (`reason` "": the message; HttpGenerator.generateResponseLine, 9.3.2 l.529-543, 9.4.8
    l.581-596) and, for GET, POST and HEAD only (ErrorHandler.java 9.3.2 l.69-76, 9.4.8
    l.82-89), its HTML error page in Latin-1 (9.3.2 l.108; 9.4.8 l.196-204), never cached;
    9.4.8 (1.10's) writes the page only when Accept is absent or names text/html, text/* or
    */* (l.157-175, l.236-253)."""
    said = message if reason == "" else reason
    if request.method not in ("GET", "POST", "HEAD") or not admits_html(request):
        return Response(status, b"", reason=said)
    return Response(status, error_page(status, message, request.path, stacks).encode(
        "latin-1", errors="replace"), {"Content-Type": "text/html;charset=iso-8859-1",
                                       "Cache-Control": "must-revalidate,no-cache,no-store"},
                    reason=said)


def admits_html(request: Request) -> bool:
    """Whether Jetty writes its error page for this Accept (always in 9.3.2)."""
    if LEGACY or "accept" not in request.headers:
        return True
    return bool({k for _, k in accepted(request.headers["accept"])}
                & {"text/html", "text/*", "*/*"})


def accepted(accept: str) -> list[tuple[float, str]]:
    """An Accept header's media ranges, most wanted first, those of quality 0 left out."""
    ranges: list[tuple[float, str]] = []
    for part in accept.split(","):
        kind, *params = (p.strip().lower() for p in part.split(";"))
        quality = next((p[2:].strip() for p in params if p.startswith("q=")), "1")
        try:
            weight = float(quality)
        except ValueError:
            weight = 0.0
        if kind and weight > 0:
            ranges.append((weight, kind))
    return sorted(ranges, key=lambda r: -r[0])


def error_page(status: int, message: str, uri: str, stacks: str = "") -> str:
    """Jetty's ErrorHandler.writeErrorPage and the parts it writes (9.3.2 l.128-183; 9.4.8
    l.264-318, the same text). 0.11.1's Jetty signs it (HttpConfiguration's sendServerVersion,
    on unless turned off: 9.3.2 l.61 and l.254-264; chaos v0.7.0 HttpModule.scala l.41-44
    leaves it on); 1.10.26 turns it off (api/HttpModule.scala l.41)."""
    text = sanitize(message)
    signed = (f'<hr><a href="http://eclipse.org/jetty">Powered by Jetty:// {JETTY}</a><hr/>\n'
              if LEGACY else "")
    return ('<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>'
            f"\n<title>Error {status} {text}</title>\n</head>\n<body><h2>HTTP ERROR {status}</h2>"
            f"\n<p>Problem accessing {sanitize(uri)}. Reason:\n<pre>    {text}</pre></p>{stacks}"
            f"{signed}\n</body>\n</html>\n")


def sanitize(text: str) -> str:
    """Jetty's StringUtil.sanitizeXmlString (9.3.2 l.930-995): five characters as entities,
    other control characters but white space as `?`."""
    entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;"}
    return "".join(entities.get(c) or ("?" if (ord(c) < 32 or 127 <= ord(c) < 160)
                                       and not c.isspace() else c) for c in text)


def ping(request: Request) -> Response:
    """/ping as the leader answers it. 0.11.1: chaos v0.7.0's http/PingServlet.scala l.22-36,
    "pong" and a line end, text/plain, never cached. 1.10.26: api/SystemResource.scala
    l.55-97 answers after the client's Accept, "pong" as text, `"pong"` as JSON, 204 when
    neither fits."""
    if LEGACY:
        return Response(200, "pong\n", {"Content-Type": "text/plain;charset=iso-8859-1",
                                        "Cache-Control": "must-revalidate,no-cache,no-store",
                                        "Access-Control-Allow-Credentials": "true"})
    kind = ping_variant(request.headers.get("accept") or "*/*")
    if kind is None:
        return Response(204, b"")
    return Response(200, '"pong"' if kind == "application/json" else "pong",
                    {"Content-Type": kind})


def ping_variant(accept: str) -> str | None:
    """The media type 1.10.26's ping picks: the first of text/plain, text/html and
    application/json (then any text/..., as text/plain) that the most wanted range admits."""
    for _, kind in accepted(accept):
        for variant in ("text/plain", "text/html", "application/json"):
            if kind in ("*/*", variant) or (kind.endswith("/*") and variant.startswith(kind[:-1])):
                return variant
        if kind.startswith("text/"):
            return "text/plain"
    return None


def too_many_deployments(limit: int) -> str:
    """TooManyRunningDeploymentsException's message (v1.10.26 Exception.scala l.39-44), its
    missing space (`oneusing`) included."""
    return (f"Max number ({limit}) of running deployments is achieved. Wait for existing "
            "deployments to complete or cancel oneusing force=true parameter. You can increase "
            "max deployment number by using --max_running_deployments parameter but be advised "
            "that this can have negative effects on the performance.")


def tracker_timed_out(timeout_ms: int) -> str:
    """The instance tracker's TimeoutException message (v1.10.26 InstanceTrackerDelegate.scala
    l.44-48): the timeout printed as Scala prints a FiniteDuration (`10000 milliseconds`), then
    "ms.", then no space."""
    unit = "millisecond" if timeout_ms == 1 else "milliseconds"
    return (f"timeout while calling instancesBySpec() (current value = {timeout_ms} {unit}ms.If "
            "you know what you are doing, you can adjust the timeout with "
            "--task_tracker_request_timeout.")


def process_user() -> str:
    """--mesos_user's default: the JVM's `user.name`, the name of the user it runs as
    (MarathonConf.scala at v0.11.1 l.161-163 and releases/1.11 l.271-275), which the 1.11
    image makes `nobody` (tools/packager/docker/Dockerfile `USER nobody`)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "?"


def main() -> None:
    marathon = Marathon()
    log(C, f"Marathon {VERSION} ({'legacy' if LEGACY else 'modern'} generation) on "
           f"{marathon.http_address}:{marathon.http_port}, master {marathon.master_spec}")
    serve(C, marathon.http_address, marathon.http_port, marathon.handle)
    marathon.elect()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stopping.wait()
    log(C, "Shutting down: abdicating leadership")
    marathon.stopping = True
    marathon.zk.stop()  # closes the session, so the election znode goes at once
    marathon.zk.close()


if __name__ == "__main__":
    main()
