"""Mesos agent ("slave") stand-in: finds the leader, registers, runs command and Docker tasks.

Follows Apache Mesos as seen from outside (``shared/design/contract.md``):
- env `MESOS_MASTER` (`zk://.../mesos` or `host:port`), `MESOS_IP`, `MESOS_HOSTNAME`,
  `MESOS_PORT` (5051), `MESOS_RESOURCES` (`cpus:2;mem:2048`), `MESOS_WORK_DIR` (/tmp/mesos),
  `MESOS_DOCKER_KILL_ORPHANS` (true);
- re-registers with each new leading master; `/state` (legacy `/state.json`) has `id` "" until
  registered and `master_hostname` once a master is known; `/health` 200 from the start;
- recovers at every start, serving HTTP meanwhile (`Agent.recover`): compares the SlaveInfo it
  checkpointed in <work_dir>/meta/slaves/latest once registered with the one its flags make,
  and exits with the real lines when they differ (`agent_rules.recovery`), else keeps its agent
  id; it waits --executor_reregistration_timeout when executors were running when it stopped;
  meanwhile the modern `/state` answers 503 "Agent has not finished recovery", the legacy one
  200 with the recovered id (`agent_rules.RECOVERING`);
- a command task runs `sh -c CMD` in its sandbox inside this container; a `DOCKER` task is a
  sibling container on the host's engine named `mesos-<agentId>.<containerId>` (legacy) or
  `mesos-<containerId>` (modern), its output copied to the sandbox's stdout/stderr; with
  `MESOS_DOCKER_MESOS_IMAGE` its executor runs in a container of that image beside it, named
  the same plus `.executor` (`agent_rules.executor_container`);
- sandbox files through `/files/read` (legacy `/files/read.json`), offsets and lengths in
  bytes, at most 16 pages a read, the bytes written into JSON as each generation does
  (`agent_rules.file_range`, `agent_rules.files_body`); `/standin/reads` lists the slices
  served;
- at start, removes running `mesos-*` containers it did not start (`--docker_kill_orphans`);
- at start, creates its containerizers as the real one does against the host's cgroups and
  exits when one cannot be made (`agent_rules.start_failure`); its Docker containerizer then
  lists the engine's containers (`docker ps -a`) and exits when the engine refuses its client;
- runs each task as its user (the task's, else the framework's) and fails a task none of its
  containerizers takes, as the real agent does (`agent_rules`);
- told to shut down by its master (a legacy master that removed it, when it comes back), kills
  its tasks, forgets its id and exits 0 (`Agent.shut_down`).
Command-line flags (`--name=value`) beat `MESOS_*` variables, as Mesos' flags loader has it.
`STANDIN_REGISTRATION_DELAY` keeps a healthy agent unregistered that long;
`STANDIN_RECOVERY_DELAY` keeps it recovering that much longer. `STANDIN_HOST_CGROUP`
(1 or 2; default: what /proc/mounts shows) states only the host's cgroup layout.
`STANDIN_DOCKER_API` (e.g. 1.20) pins the API version its Docker client speaks, as an image's
bundled CLI does (unset: the engine's own). `STANDIN_ASSUME_WRITABLE_CGROUPS=1` (set by the
generic test image only) takes the cgroups as writable, as a privileged container's are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import agent_rules as rules
from common import (
    LEGACY,
    Request,
    Response,
    apply_argv_flags,
    call,
    connect_zk,
    env_seconds,
    exit_on_sigterm,
    json_response,
    leading_master,
    log,
    master_address,
    mesos_duration,
    mesos_exit,
    parse_zk_url,
    serve,
)

VERSION = "0.23.0" if LEGACY else "1.4.0"
C = "slave.cpp"
TERMINAL_STATES = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
                   "TASK_DROPPED"}
# where each generation's EXIT(1) is logged from (1.7.1 src/slave/main.cpp l.483 and
# src/slave/slave.cpp l.7311; 0.23.0's EXIT prints no location)
CONTAINERIZER_EXIT = "main.cpp:483"
RECOVERY_EXIT = "slave.cpp:7311"
# the Docker CLI's answer when nothing listens on its socket (1.8 as in mesoscloud's image;
# 17.05 as in mesosphere's)
NO_DAEMON = ("Cannot connect to the Docker daemon. Is the docker daemon running on this host?"
             if LEGACY else "Cannot connect to the Docker daemon at unix://{socket}. Is the "
             "docker daemon running?")


class Docker:
    """The host's engine through the mounted socket, as the docker containerizer uses it,
    in the API version its client speaks (`/v1.20/...`), or the engine's own when unpinned."""

    def __init__(self, path: str, api: str | None) -> None:
        self.socket = path
        self.prefix = f"/v{api}" if api else ""

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        path = self.socket

        class _Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)

        return _Connection("localhost", timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, *, timeout: float | None = 60
                ) -> tuple[int, Any]:
        conn = self._connection(timeout)
        payload = None if body is None else json.dumps(body)
        conn.request(method, self.prefix + path, payload, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        raw = answer.read()
        conn.close()
        try:
            return answer.status, json.loads(raw) if raw else None
        except ValueError:
            return answer.status, raw.decode(errors="replace")

    def stream_logs(self, container: str, stdout: Path, stderr: Path) -> None:
        """Copy a container's output into the sandbox files (demultiplexing Docker's frames)."""
        conn = self._connection(None)
        conn.request("GET", f"{self.prefix}/containers/{container}/logs?follow=1&stdout=1"
                            "&stderr=1")
        answer = conn.getresponse()
        with stdout.open("ab") as out, stderr.open("ab") as err:
            while header := answer.read(8):
                if len(header) < 8:
                    break
                chunk = answer.read(int.from_bytes(header[4:8], "big"))
                target = err if header[0] == 2 else out
                target.write(chunk)
                target.flush()
        conn.close()


class Agent:
    def __init__(self) -> None:
        self.ip = os.environ.get("MESOS_IP", "127.0.0.1")
        self.port = int(os.environ.get("MESOS_PORT", "5051"))
        self.hostname = os.environ.get("MESOS_HOSTNAME", self.ip)
        self.work_dir = Path(os.environ.get("MESOS_WORK_DIR", "/tmp/mesos"))
        self.pid = f"slave(1)@{self.ip}:{self.port}"
        self.resources = parse_resources(os.environ.get("MESOS_RESOURCES", ""))
        self.start_time = time.time()
        self.lock = threading.RLock()
        self.id = ""
        self.master: dict[str, Any] | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.docker = Docker(rules.docker_socket(os.environ, legacy=LEGACY),
                             rules.api_version(os.environ.get("STANDIN_DOCKER_API")))
        self.meta = self.work_dir / "meta"
        self.started_containers = self.meta / "docker-containers"
        self.frameworks: dict[str, dict[str, Any]] = {}  # framework id -> its FrameworkInfo
        self.reads: list[dict[str, Any]] = []  # each slice of a file /files/read served
        self.recovering = True  # Slave::RECOVERING, from the start until `recover` is done
        self.registered = False
        self.info = rules.slave_info(hostname=self.hostname, port=self.port,
                                     resources=self.resources)

    # --- docker_kill_orphans ----------------------------------------------------------------

    def kill_orphans(self) -> None:
        if os.environ.get("MESOS_DOCKER_KILL_ORPHANS", "true").lower() == "false":
            return
        if not Path(self.docker.socket).exists():
            return
        ours = set(self.started_containers.read_text().split()) if (
            self.started_containers.exists()) else set()
        status, containers = self.docker.request("GET", "/containers/json")
        if status != 200:
            log("docker.cpp", f"Not killing orphans: {rules.daemon_error(containers).strip()}")
            return
        for container in containers or []:
            name = container["Names"][0].lstrip("/")
            if name.startswith("mesos-") and name not in ours:
                log("docker.cpp", f"Killing orphaned container {name}")
                self.docker.request("DELETE", f"/containers/{container['Id']}?force=1")

    def recover_docker(self, *, checkpointed: bool) -> None:
        """The Docker containerizer's recovery: `docker ps -a` through the agent's client; an
        engine that refuses it (or none) ends the agent (`rules.recovers_docker`)."""
        if "docker" not in rules.containerizers(os.environ) or not rules.recovers_docker(
                legacy=LEGACY, checkpointed=checkpointed):
            return
        log("docker.cpp", "Recovering Docker containers")
        try:
            status, answer = self.docker.request("GET", "/containers/json?all=1", timeout=30)
            refused = None if status == 200 else rules.daemon_error(answer)
        except OSError:
            refused = NO_DAEMON.format(socket=self.docker.socket) + "\n"
        if refused is not None:
            cause = rules.cli_failure(rules.docker_command(os.environ, "ps -a", legacy=LEGACY),
                                      refused, legacy=LEGACY)
            mesos_exit(RECOVERY_EXIT, rules.recovery_exit(cause, legacy=LEGACY,
                                                          meta_dir=str(self.meta)))

    def checkpoint(self, agent_id: str) -> None:
        """A registered agent checkpoints its info (slave.info) and links meta/slaves/latest to
        it, which a restart on this work dir then recovers: 0.23.0 slave.cpp `registered`
        l.874-883, 1.7.1 l.1512-1522 and paths.cpp `createSlaveDirectory` l.817-847. The info
        is written as JSON here (the real one: a protobuf)."""
        slaves = self.meta / "slaves"
        (slaves / agent_id).mkdir(parents=True, exist_ok=True)
        (slaves / agent_id / "slave.info").write_text(json.dumps({**self.info, "id": agent_id}))
        latest = slaves / "latest"
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(slaves / agent_id)

    def checkpointed(self) -> rules.Checkpoint | None:
        """The agent meta/slaves/latest points at, and its slave.info if there is one."""
        latest = self.meta / "slaves" / "latest"
        if not latest.exists():
            return None
        info_path = latest / "slave.info"
        info = json.loads(info_path.read_text()) if info_path.is_file() else None
        return rules.Checkpoint(latest.resolve().name, info)

    def recover(self) -> None:
        """Slave::recover, _recover and __recover (0.23.0 slave.cpp l.3856-4109, 1.7.1
        l.6945-7422): the checkpointed agent against this one's flags (exit 1 with the real
        text when they differ), its Docker containers, the executors that were running, then
        the boot id; only then does it look for a master. Its HTTP answers meanwhile."""
        rebooted = self.rebooted()
        decision = rules.recovery(self.checkpointed(), self.info, legacy=LEGACY,
                                  env=os.environ, rebooted=rebooted)
        if decision.info_line:
            log("state.cpp", decision.info_line)
        if decision.warning:
            warn(C, decision.warning)
        if decision.forget:
            (self.meta / "slaves" / "latest").unlink()
        if decision.failure:
            mesos_exit(RECOVERY_EXIT, rules.recovery_exit(decision.failure, legacy=LEGACY,
                                                          meta_dir=str(self.meta)))
        with self.lock:
            self.id = decision.agent_id  # the legacy /state.json shows it from here on
        self.recover_docker(checkpointed=decision.slave_state)
        self.kill_orphans()
        if decision.agent_id:  # its frameworks and executors come with the agent's info
            self.wait_for_executors()
        time.sleep(env_seconds("STANDIN_RECOVERY_DELAY"))
        log(C, "Finished recovery")
        self.meta.mkdir(parents=True, exist_ok=True)
        (self.meta / "boot_id").write_text(boot_id())
        with self.lock:
            self.recovering = False

    def rebooted(self) -> bool:
        """Whether the host rebooted since the checkpoint: its boot id changed (0.23.0
        state.cpp l.58-69, 1.7.1 l.87-102). A container shares the host's boot id."""
        saved = self.meta / "boot_id"
        return saved.is_file() and saved.read_text().strip() != boot_id()

    def wait_for_executors(self) -> None:
        """The executors the checkpoint shows running get --executor_reregistration_timeout
        to reconnect (`rules.live_executors`); this stand-in's never do (it keeps no task
        across a restart), so each is then marked ended."""
        latest = self.meta / "slaves" / "latest"
        runs = sorted(latest.glob("frameworks/*/executors/*/runs/*")) if latest.exists() else []
        live = rules.live_executors([(str(r), (r / "executor.sentinel").exists())
                                     for r in runs if r.is_dir()])
        if not live:
            return
        log(C, "Recovering executors")
        time.sleep(mesos_duration(os.environ.get("MESOS_EXECUTOR_REREGISTRATION_TIMEOUT")
                                  or rules.EXECUTOR_REREGISTRATION_TIMEOUT))
        for run in live:
            (Path(run) / "executor.sentinel").touch()

    def executor_meta(self, task: dict[str, Any]) -> Path:
        """Where an executor's run is checkpointed (src/slave/paths.cpp getExecutorRunPath
        under the meta dir; its `executor.sentinel` once it ended, written here when its one
        task ends)."""
        return (self.meta / "slaves" / self.id / "frameworks" / task["framework_id"]
                / "executors" / task["executor_id"] / "runs" / task["container"])

    # --- finding the leader and registering --------------------------------------------------

    def register_forever(self) -> None:
        spec = os.environ.get("MESOS_MASTER", "")
        zk, path = None, ""
        if spec.startswith("zk://"):
            hosts, path = parse_zk_url(spec)
            zk = connect_zk(C, hosts)
        delay = env_seconds("STANDIN_REGISTRATION_DELAY")
        delayed = False
        while True:
            leader = leading_master(zk, path) if zk else {"pid": f"master@{spec}",
                                                          "hostname": spec.split(":")[0]}
            with self.lock:
                if leader and (self.master or {}).get("pid") != leader["pid"]:
                    log(C, f"New master detected at {leader['pid']}")
                self.master = leader
            if leader is not None:
                if delay and not delayed:
                    log(C, f"registration delay {delay}s: healthy, not registering yet")
                    time.sleep(delay)
                    delayed = True
                self.register(master_address(leader))
            time.sleep(1.0 if self.id else 0.1)

    def register(self, address: str) -> None:
        with self.lock:
            body = {"id": self.id or None, "pid": self.pid, "hostname": self.hostname,
                    "url": f"http://{self.ip}:{self.port}", "resources": self.resources,
                    "version": VERSION, "attributes": {},
                    "tasks": [self.task_report(t) for t in self.tasks.values()]}
        try:
            status, answer = call("POST", f"http://{address}/standin/agents", body, timeout=2)
        except OSError:
            return
        if status == 200 and answer.get("shutdown"):
            self.shut_down(f"master@{address}", answer["shutdown"])
        if status == 200:
            with self.lock:
                if self.id != answer["id"]:
                    log(C, f"Registered with master {address}; given agent ID {answer['id']}")
                    self.checkpoint(answer["id"])
                elif not self.registered:  # the id it recovered
                    log(C, f"Re-registered with master {address}")
                self.id = answer["id"]
                self.registered = True

    def shut_down(self, master: str, message: str) -> None:
        """A ShutdownMessage from the master: the agent shuts its frameworks' executors down,
        removes meta/slaves/latest (so its next start registers as a new agent) and its process
        ends with status 0 (0.23.0 src/slave/slave.cpp `shutdown` l.596-624, `finalize`
        l.562-592, main.cpp l.262-276; 1.7.1 slave.cpp l.957-990 and l.930 say "Agent")."""
        what = "Slave" if LEGACY else "Agent"
        log(C, f"{what} asked to shut down by {master} because '{message}'")
        with self.lock:
            live = [t["id"] for t in self.tasks.values() if t["state"] not in TERMINAL_STATES]
        for task_id in live:
            with contextlib.suppress(OSError, KeyError):
                self.kill({"task_id": task_id})
        log(C, f"{what} terminating")
        latest = self.meta / "slaves" / "latest"
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        os._exit(0)

    def report(self, task_id: str, state: str, message: str = "", reason: str = "") -> None:
        with self.lock:
            task = self.tasks[task_id]
            if task.get("state") in TERMINAL_STATES and state not in TERMINAL_STATES:
                return  # updates of one task keep their order, as Mesos' update manager does
            task["state"] = state
            task["message"] = message
            task["reason"] = reason
            master = self.master
            if state in TERMINAL_STATES and "meta" in task:  # its executor ends with it
                with contextlib.suppress(OSError):
                    (Path(task["meta"]) / "executor.sentinel").touch()
        log(C, f"Status update {state} ({reason or 'no reason'}) for task {task_id} "
               f"{message}".rstrip())
        if master is not None:
            with contextlib.suppress(OSError):  # else the next registration carries it
                call("POST", f"http://{master_address(master)}/standin/status",
                     {"task_id": task_id, "state": state, "message": message,
                      "reason": reason}, timeout=2)

    def task_report(self, task: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "name", "framework_id", "executor_id", "slave_id", "state", "resources",
                "message", "reason", "marathon")
        return {k: task[k] for k in keys if k in task}

    # --- running tasks ----------------------------------------------------------------------

    def launch(self, body: dict[str, Any]) -> Response:
        task = dict(body["task"])
        framework = dict(body.get("framework") or {})
        container_id = str(uuid.uuid4())
        sandbox = (self.work_dir / "slaves" / self.id / "frameworks" / task["framework_id"]
                   / "executors" / task["id"] / "runs" / container_id)
        user = rules.task_user(task, str(framework.get("user", "")), os.environ)
        task.update(executor_id=task["id"], container=container_id, directory=str(sandbox),
                    slave_id=self.id, state="TASK_STAGING", running=threading.Event(),
                    user=user)
        with self.lock:
            self.tasks[task["id"]] = task
            self.frameworks[task["framework_id"]] = framework
        task["meta"] = str(self.executor_meta(task))
        Path(task["meta"]).mkdir(parents=True, exist_ok=True)
        failure = self.make_sandbox(sandbox, user, framework) or self.unlaunchable(task)
        if failure is None:
            failure = self.start(task, sandbox, user)
        if failure is not None:
            self.report(task["id"], failure.state, failure.message, failure.reason)
            return json_response({})
        self.report(task["id"], "TASK_RUNNING")
        task["running"].set()  # only now may the watcher report how it ended
        return json_response({})

    def start(self, task: dict[str, Any], sandbox: Path, user: str | None
              ) -> rules.Failure | None:
        """Launch the task's process or container; a failure as the agent reports it."""
        env = {**os.environ, **task.get("env", {}), "MESOS_SANDBOX": str(sandbox),
               "MESOS_TASK_ID": task["id"], "HOST": self.hostname}
        try:
            if task.get("docker"):
                self.launch_docker(task, sandbox, env)
                return None
            switch, refused = become(user)
            if refused is None:
                self.launch_command(task, sandbox, env, switch)
                return None
        except Exception as exc:
            return rules.Failure("TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED",
                                 f"Failed to launch container: {exc}")
        with (sandbox / "stderr").open("a") as err:
            err.write(rules.su_failure(str(user), refused) + "\n")
        return rules.executor_ended(legacy=LEGACY)

    def make_sandbox(self, sandbox: Path, user: str | None, framework: dict[str, Any]
                     ) -> rules.Failure | None:
        """The executor's sandbox, given to the task's user (`rules.sandbox_failure`): 1.7.1
        makes it 0750 (src/slave/paths.cpp `createSandboxDirectory`); 0.23.0 keeps the
        agent's umask."""
        sandbox.mkdir(parents=True)
        if not LEGACY:
            sandbox.chmod(0o750)
        (sandbox / "stdout").touch()
        (sandbox / "stderr").touch()
        refused = None if user is None else chown(user, [sandbox, sandbox / "stdout",
                                                         sandbox / "stderr"], legacy=LEGACY)
        if refused is not None and LEGACY:
            log("paths.cpp", f"Failed to chown executor directory '{sandbox}': {refused}")
        aware = "PARTITION_AWARE" in framework.get("capabilities", [])
        return rules.sandbox_failure(user, refused, str(sandbox), legacy=LEGACY,
                                     partition_aware=aware)

    def unlaunchable(self, task: dict[str, Any]) -> rules.Failure | None:
        """A task none of the enabled containerizers takes (`rules.no_containerizer`)."""
        failure = rules.no_containerizer(bool(task.get("docker")), os.environ, legacy=LEGACY)
        if failure is not None:
            log(C, rules.not_launched_log(task["container"], task["executor_id"],
                                          task["framework_id"], os.environ, legacy=LEGACY))
        return failure

    def launch_command(self, task: dict[str, Any], sandbox: Path, env: dict[str, str],
                       switch: dict[str, Any]) -> None:
        with (sandbox / "stdout").open("ab") as out, (sandbox / "stderr").open("ab") as err:
            process = subprocess.Popen(["sh", "-c", task["command"]], cwd=sandbox, env=env,
                                       stdout=out, stderr=err, start_new_session=True,
                                       **switch)
        self.processes[task["id"]] = process

        threading.Thread(target=self.watch, daemon=True, args=(
            task, process.wait, "Command", "Command terminated with signal Terminated")).start()

    def watch(self, task: dict[str, Any], wait: Callable[[], int], what: str,
              killed: str) -> None:
        """Wait for a task's process or container to end and report how it ended."""
        code = wait()
        if "executor_container" in task:  # its executor ends with it
            self.docker.request("POST", f"/containers/{task['executor_container']}/stop?t=2")
        task["running"].wait(timeout=30)
        if task.get("killing"):
            self.report(task["id"], "TASK_KILLED", killed)
        else:
            state = "TASK_FINISHED" if code == 0 else "TASK_FAILED"
            self.report(task["id"], state, f"{what} exited with status {code}")

    def pull(self, docker: dict[str, Any]) -> None:
        """`docker inspect` the task's image, then `docker pull` it when missing (or forced)."""
        image = docker["image"]
        status, _ = self.docker.request("GET", f"/images/{quote(image, safe='')}/json")
        if status != 200 or docker.get("forcePullImage"):
            status, answer = self.docker.request(
                "POST", f"/images/create?fromImage={quote(image, safe='')}", timeout=300)
            if status != 200:
                pull = rules.docker_command(os.environ, f"pull {rules.with_tag(image)}",
                                            legacy=LEGACY)
                raise RuntimeError(rules.cli_failure(pull, rules.daemon_error(answer),
                                                     legacy=LEGACY))

    def run_container(self, name: str, create: dict[str, Any]) -> None:
        """Create and start one container of ours, recorded as started by this agent."""
        status, answer = self.docker.request("POST", f"/containers/create?name={name}", create)
        if status != 201:
            raise RuntimeError(f"Failed to create container {name}: {answer}")
        with self.lock:
            self.started_containers.parent.mkdir(parents=True, exist_ok=True)
            with self.started_containers.open("a") as f:
                f.write(name + "\n")
        status, answer = self.docker.request("POST", f"/containers/{name}/start")
        if status not in (204, 304):
            raise RuntimeError(f"Failed to start container {name}: {answer}")

    def launch_docker(self, task: dict[str, Any], sandbox: Path, env: dict[str, str]) -> None:
        docker = task["docker"]
        name = rules.task_container(self.id, task["container"], legacy=LEGACY)
        image = docker["image"]
        self.pull(docker)
        labels = dict(p["value"].split("=", 1) for p in docker.get("parameters", [])
                      if p.get("key") == "label" and "=" in p.get("value", ""))
        create = {
            "Image": image,
            "Env": [f"{k}={v}" for k, v in {**task.get("env", {}), "MESOS_SANDBOX": "/mnt/mesos/"
                                            "sandbox", "MESOS_TASK_ID": task["id"]}.items()],
            "Labels": labels,
            "HostConfig": {"NetworkMode": "host", "Privileged": bool(docker.get("privileged")),
                           "Binds": [f"{sandbox}:/mnt/mesos/sandbox"]},
        }
        if task.get("command"):
            create["Cmd"] = ["sh", "-c", task["command"]]
        mesos_image = os.environ.get("MESOS_DOCKER_MESOS_IMAGE")
        if mesos_image:  # the executor's container first: it is what runs the task's
            executor, body = rules.executor_container(
                name, mesos_image, sandbox=str(sandbox), legacy=LEGACY,
                socket=rules.docker_socket(os.environ, legacy=LEGACY))
            self.run_container(executor, body)
            task["executor_container"] = executor
        self.run_container(name, create)
        task["docker_name"] = name
        threading.Thread(target=self.docker.stream_logs,
                         args=(name, sandbox / "stdout", sandbox / "stderr"), daemon=True).start()

        def wait() -> int:
            _, answer = self.docker.request("POST", f"/containers/{name}/wait", timeout=None)
            return int((answer or {}).get("StatusCode", -1))

        threading.Thread(target=self.watch, daemon=True,
                         args=(task, wait, "Container", "Container was killed")).start()

    def kill(self, body: dict[str, Any]) -> Response:
        with self.lock:
            task = self.tasks.get(body["task_id"])
        if task is None:
            return json_response({"message": "unknown task"}, 404)
        task["killing"] = True
        if "docker_name" in task:
            self.docker.request("POST", f"/containers/{task['docker_name']}/stop?t=2")
        elif task["id"] in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.processes[task["id"]].pid, signal.SIGTERM)
        return json_response({})

    # --- HTTP -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.lock:
            frameworks: dict[str, dict[str, Any]] = {}
            for task in self.tasks.values():
                info = self.frameworks.get(task["framework_id"], {})
                fw = frameworks.setdefault(task["framework_id"], {
                    "id": task["framework_id"], "name": task.get("framework_name", "marathon"),
                    "user": info.get("user", "root"), "executors": [],
                    "completed_executors": []})
                public = self.task_report(task)
                executor = {"id": task["executor_id"], "name": f"Command Executor (Task: "
                            f"{task['id']})", "source": task["id"],
                            "container": task["container"], "directory": task["directory"],
                            "resources": task["resources"]}
                if task["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"):
                    fw["executors"].append({**executor, "tasks": [public], "queued_tasks": [],
                                            "completed_tasks": []})
                else:
                    fw["completed_executors"].append({**executor, "tasks": [],
                                                      "queued_tasks": [],
                                                      "completed_tasks": [public]})
            master = self.master
            return {
                "version": VERSION, "id": self.id, "pid": self.pid, "hostname": self.hostname,
                "start_time": self.start_time, "resources": self.resources, "attributes": {},
                "master_hostname": master.get("hostname", "") if master else "",
                "frameworks": list(frameworks.values()), "completed_frameworks": [],
                "flags": {"port": str(self.port), "work_dir": str(self.work_dir),
                          "master": os.environ.get("MESOS_MASTER", ""),
                          # src/slave/flags.cpp (0.23.0, 1.x): --containerizers defaults to
                          # "mesos"; the state endpoint reports every flag as a string
                          "containerizers": os.environ.get("MESOS_CONTAINERIZERS", "mesos"),
                          "docker_kill_orphans": os.environ.get("MESOS_DOCKER_KILL_ORPHANS",
                                                                "true")},
            }

    def state_answer(self) -> Response:
        """The state document, or, on the modern generation while recovering, 503 with
        `rules.RECOVERING` as plain text (libprocess ServiceUnavailable: text/plain;
        charset=utf-8, 1.7.1 3rdparty/libprocess/include/process/http.hpp l.606-617, 838-844)."""
        with self.lock:
            recovering = self.recovering
        if recovering and not LEGACY:
            return Response(503, rules.RECOVERING.encode(),
                            {"Content-Type": "text/plain; charset=utf-8"})
        return json_response(self.state())

    def read_file(self, query: dict[str, str]) -> Response:
        """`/files/read` (legacy `/files/read.json`): a slice of a sandbox file, chosen and
        written as each generation does (`rules.file_range`, `rules.files_body`); each slice
        served is recorded in `self.reads` (see `served`)."""
        if not query.get("path"):
            return Response(400, b"Expecting 'path=value' in query.\n")
        path = Path(query["path"])
        try:
            path.resolve().relative_to(self.work_dir.resolve())
        except ValueError:
            return Response(404, "")
        if not path.is_file():
            return Response(404, "")
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            chosen = rules.file_range(query.get("offset"), query.get("length"), size,
                                      path=str(path.resolve()), legacy=LEGACY,
                                      page_size=os.sysconf("SC_PAGE_SIZE"))
            if chosen.status != 200:
                return Response(chosen.status, chosen.error)
            f.seek(chosen.start)
            data = f.read(chosen.length)
            following = f.read(1) if data else b""
        if data:
            with self.lock:
                self.reads.append({"path": str(path), "offset": chosen.start,
                                   "length": len(data),
                                   "ends_inside_character":
                                       rules.ends_inside_character(following)})
        return Response(200, rules.files_body(data, chosen.offset, legacy=LEGACY),
                        {"Content-Type": "application/json"})

    def shutdown_message(self, request: Request) -> Response:
        """The master's ShutdownMessage sent on its own (0.23.0 `shutdownSlave`), after the
        answer is on its way."""
        message = str(request.json().get("message", ""))
        with self.lock:
            master = self.master
        sender = str(master["pid"]) if master else "master"
        threading.Timer(0.1, self.shut_down, args=(sender, message)).start()
        return json_response({})

    def served(self) -> Response:
        """`/standin/reads` (the test bed's own): every slice of a file served so far, its
        byte range and whether it ended inside a UTF-8 character."""
        with self.lock:
            return json_response({"reads": list(self.reads)})

    def handle(self, request: Request) -> Response:
        state_paths = ("/state.json", "/slave(1)/state.json") if LEGACY else (
            "/state", "/slave(1)/state")
        files = "/files/read.json" if LEGACY else "/files/read"
        routes = {
            ("GET", "/health"): lambda: Response(200, b""),
            ("GET", files): lambda: self.read_file(request.query),
            ("POST", "/standin/launch"): lambda: self.launch(request.json()),
            ("POST", "/standin/kill"): lambda: self.kill(request.json()),
            ("POST", "/standin/shutdown"): lambda: self.shutdown_message(request),
            ("GET", "/standin/reads"): self.served,
            **{("GET", p): self.state_answer for p in state_paths},
        }
        route = routes.get((request.method, request.path))
        return route() if route else Response(404, b"")


def chown(user: str, paths: list[Path], *, legacy: bool) -> str | None:
    """os::chown(user, path) as stout has it, or why it fails: an unknown user (1.7.1 "No
    such user 'U'" (os/posix/chown.hpp); 0.23.0 "Failed to get user information for 'U':"
    and errno's text, 0 for a missing entry), or the kernel's refusal (not root)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return (f"Failed to get user information for '{user}': {os.strerror(0)}" if legacy
                else f"No such user '{user}'")
    try:
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    except OSError as exc:
        return os.strerror(exc.errno or 1)
    return None


def become(user: str | None) -> tuple[dict[str, Any], str | None]:
    """How the launch helper becomes the task's user (0.23.0 stout os::su: setgid, then the
    user's groups, then setuid; 1.7.1 launch.cpp l.772-800 skips it for the agent's own
    user): Popen's arguments for it, or what fails (then nothing is started)."""
    if user is None:
        return {}, None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return {}, "Failed to getgid: unknown user"
    if os.geteuid() == 0:
        return {"user": entry.pw_uid, "group": entry.pw_gid,
                "extra_groups": os.getgrouplist(user, entry.pw_gid)}, None
    if entry.pw_gid != os.getegid():
        return {}, "Failed to set gid: Operation not permitted"
    if entry.pw_uid != os.geteuid():
        return {}, "Failed to setuid: Operation not permitted"
    return {}, None


def warn(component: str, message: str) -> None:
    """A glog WARNING line (`W1125 22:30:01.123 slave.cpp] ...`) on stderr."""
    print(f"W{dt.datetime.now():%m%d %H:%M:%S.%f} {component}] {message}", file=sys.stderr,
          flush=True)


def boot_id() -> str:
    """The host's boot id (stout os::bootId reads this file); "" where there is none."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def parse_resources(text: str) -> dict[str, Any]:
    """`cpus:2;mem:2048` over defaults from this machine (as the real agent detects them)."""
    resources: dict[str, Any] = {
        "cpus": float(os.cpu_count() or 1),
        "mem": float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024),
        "disk": 10240.0,
        "ports": "[31000-32000]",
    }
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, _, value = item.partition(":")
        resources[key] = value if value.startswith("[") else float(value)
    return resources


def host_cgroups() -> rules.CgroupHost:
    """This container's cgroups as the agent reads them, under STANDIN_HOST_CGROUP's layout."""
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    assume = os.environ.get("STANDIN_ASSUME_WRITABLE_CGROUPS", "") == "1"
    return rules.cgroup_host(read("/proc/self/mounts"), read("/proc/cgroups"),
                             stated=os.environ.get("STANDIN_HOST_CGROUP") or None,
                             euid=os.geteuid(), assume_writable=assume)


def create_containerizers() -> None:
    """Containerizer::create at start: a containerizer that cannot be made ends the agent."""
    missing = rules.flags_failure(os.environ, legacy=LEGACY)
    if missing is not None:
        print(missing, file=sys.stderr, flush=True)
        sys.exit(1)
    # what each start logs once its flags are loaded (src/slave/main.cpp: 0.23.0 l.162-164,
    # 1.7.1 l.349-350)
    log("main.cpp", f"Build: {time.strftime('%Y-%m-%d %H:%M:%S')} by the test bed")
    log("main.cpp", f"Version: {VERSION}")
    try:
        host = host_cgroups()
        rules.api_version(os.environ.get("STANDIN_DOCKER_API"))
    except ValueError as exc:
        mesos_exit(CONTAINERIZER_EXIT, str(exc))
        return
    launcher = rules.launcher(os.environ, host) if not LEGACY else "by isolation"
    log("containerizer.cpp", f"Containerizers {rules.containerizers(os.environ)}, launcher "
                             f"{launcher}, isolation {os.environ.get('MESOS_ISOLATION', '')!r}, "
                             f"cgroup v1 hierarchies {[h.path for h in host.hierarchies]}")
    failure = rules.start_failure(os.environ, host, legacy=LEGACY)
    if failure is not None:
        mesos_exit(CONTAINERIZER_EXIT, failure)


def main() -> None:
    exit_on_sigterm(C)
    apply_argv_flags(C, "MESOS_")
    create_containerizers()
    agent = Agent()
    log(C, f"Agent started on {agent.ip}:{agent.port}, {'legacy' if LEGACY else 'modern'} "
           f"generation, resources {agent.resources}")
    serve(C, agent.ip, agent.port, agent.handle)
    agent.recover()
    agent.register_forever()


if __name__ == "__main__":
    main()
