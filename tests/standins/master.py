"""Mesos master stand-in: ZooKeeper election, registrar quorum, agents, frameworks, tasks.

Follows Apache Mesos as seen from outside (``shared/design/contract.md``):
- env `MESOS_IP`, `MESOS_HOSTNAME`, `MESOS_PORT` (5050), `MESOS_ZK`, `MESOS_QUORUM`,
  `MESOS_REGISTRY` (`replicated_log` | `in_memory`), `MESOS_REGISTRY_FETCH_TIMEOUT` (1mins),
  `MESOS_ZK_SESSION_TIMEOUT` (10secs: how long a dead leader's znode outlives it);
- election: an EPHEMERAL|SEQUENCE znode `info_` (legacy: protobuf) or `json.info_` (modern: JSON)
  under the `MESOS_ZK` path; the smallest sequence leads (src/master/detector);
- the elected leader recovers its registry only with `MESOS_QUORUM` masters up, else aborts
  after the fetch timeout with the real message;
- HTTP: `/health`, `/master/redirect`, state per generation (legacy `/master/state.json` and
  `/state.json`, non-leaders answer their own state; modern `/master/state` and `/state`,
  `/master/slaves`, `/master/frameworks`, non-leaders 307 to the leader, 503 with none).
`STANDIN_ELECTION_DELAY` keeps a healthy master out of the election that long. Command-line
flags (`--registry=in_memory`, as mesosphere's image CMD has) beat `MESOS_*` variables.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from typing import Any

from common import (
    LEGACY,
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
    parse_zk_url,
    sequence_of,
    serve,
)

VERSION = "0.23.0" if LEGACY else "1.4.0"
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}
AGENT_TIMEOUT_S = env_seconds("STANDIN_AGENT_TIMEOUT", 5.0)
C = "master.cpp"


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
        self.agents: dict[str, dict[str, Any]] = {}
        self.frameworks: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}  # task id -> task, as in state.json

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
        zk = connect_zk(C, hosts, on_lost=lambda: die(C, "Lost leadership... committing suicide!"),
                        session_timeout=mesos_duration(
                            os.environ.get("MESOS_ZK_SESSION_TIMEOUT", "10secs")))
        delay = env_seconds("STANDIN_ELECTION_DELAY")
        if delay:
            log(C, f"election delay {delay}s: healthy, not contending yet")
            time.sleep(delay)
        info = master_info(master_id=self.id, ip=self.ip, port=self.port, hostname=self.hostname,
                           version=VERSION)
        label, data = (("info_", encode_master_info(info)) if LEGACY
                       else ("json.info_", json.dumps(info).encode()))
        mine = zk.create(f"{path}/{label}", data, ephemeral=True, sequence=True, makepath=True)
        log("group.cpp", f"Created ZooKeeper znode {mine}")

        def members() -> int:
            return sum(1 for c in zk.get_children(path) if sequence_of(c) >= 0)

        @zk.ChildrenWatch(path)  # type: ignore[misc]
        def _on_change(_children: list[str]) -> None:
            leader = leading_master(zk, path)
            with self.lock:
                changed = (leader or {}).get("id") != (self.leader or {}).get("id")
                self.leader = leader
            if changed and leader is not None:
                log("detector.cpp", f"A new leading master (UPID={leader['pid']}) is detected")
                if leader["id"] == self.id:
                    threading.Thread(target=self.become_leader, args=(quorum, members),
                                     daemon=True).start()

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
        """Agents (re-)register here every second; that is also their heartbeat and task report."""
        with self.lock:
            agent_id = body.get("id") or f"{self.id}-S{len(self.agents)}"
            known = self.agents.get(agent_id)
            now = time.time()
            self.agents[agent_id] = {
                **body, "id": agent_id, "active": True, "last_seen": now,
                "registered_time": known["registered_time"] if known else now,
            }
            if known is None:
                log(C, f"Registered agent {agent_id} at {body['pid']}")
            for task in body.get("tasks", []):
                self.tasks[task["id"]] = {**self.tasks.get(task["id"], {}), **task}
        return json_response({"id": agent_id, "master_id": self.id})

    def register_framework(self, body: dict[str, Any]) -> Response:
        with self.lock:
            framework_id = body.get("id") or f"{self.id}-{len(self.frameworks):04d}"
            known = self.frameworks.get(framework_id)
            self.frameworks[framework_id] = {
                "id": framework_id, "name": body["name"], "hostname": body.get("hostname", ""),
                "webui_url": body.get("webui_url", ""), "active": True, "last_seen": time.time(),
                "registered_time": known["registered_time"] if known else time.time(),
                # FrameworkInfo.user and .capabilities, as the scheduler registers them
                "user": body.get("user", "root"), "capabilities": body.get("capabilities", []),
            }
            if known is None:
                log(C, f"Registered framework {framework_id} ({body['name']})")
        return json_response({"id": framework_id})

    def expire(self) -> None:
        """Agents and frameworks that stop calling become inactive; lost agents' tasks are LOST."""
        while True:
            time.sleep(0.5)
            now = time.time()
            with self.lock:
                for agent in self.agents.values():
                    if agent["active"] and now - agent["last_seen"] > AGENT_TIMEOUT_S:
                        agent["active"] = False
                        log(C, f"Agent {agent['id']} timed out; its tasks are lost")
                        for task in self.tasks.values():
                            if task["slave_id"] == agent["id"] and task["state"] not in TERMINAL:
                                task["state"] = "TASK_LOST"
                for framework in self.frameworks.values():
                    framework["active"] = now - framework["last_seen"] <= AGENT_TIMEOUT_S

    def free(self, agent: dict[str, Any]) -> dict[str, float]:
        free = {k: float(v) for k, v in agent["resources"].items() if k != "ports"}
        for task in self.tasks.values():
            if task["slave_id"] == agent["id"] and task["state"] not in TERMINAL:
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
                tasks = [self.public_task(t) for t in self.tasks.values()
                         if t["framework_id"] == fw["id"]]
                frameworks.append({
                    **{k: v for k, v in fw.items() if k not in ("last_seen", "capabilities")},
                    "checkpoint": True, "failover_timeout": 604800.0,
                    "tasks": [t for t in tasks if t["state"] not in TERMINAL],
                    "completed_tasks": [t for t in tasks if t["state"] in TERMINAL],
                    "offers": [], "executors": [],
                    "resources": self.used(fw["id"]), "used_resources": self.used(fw["id"]),
                })
            slaves = [self.public_agent(a) for a in self.agents.values()] if leading else []
            state: dict[str, Any] = {
                "version": VERSION, "id": self.id, "pid": self.pid, "hostname": self.hostname,
                "start_time": self.start_time,
                "activated_slaves": float(sum(1 for a in slaves if a["active"])),
                "deactivated_slaves": float(sum(1 for a in slaves if not a["active"])),
                "flags": self.flags(), "slaves": slaves, "frameworks": frameworks,
                "completed_frameworks": [], "orphan_tasks": [], "unregistered_frameworks": [],
            }
            if self.leader is not None:
                state["leader"] = self.leader["pid"]
                if not LEGACY:
                    state["leader_info"] = self.leader
            if self.elected_time is not None:
                state["elected_time"] = self.elected_time
            return state

    def used(self, framework_id: str) -> dict[str, float]:
        used = {"cpus": 0.0, "mem": 0.0, "disk": 0.0}
        for task in self.tasks.values():
            if task["framework_id"] == framework_id and task["state"] not in TERMINAL:
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
                framework["last_seen"] = time.time()
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
