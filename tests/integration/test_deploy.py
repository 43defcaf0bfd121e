"""`mesostack deploy` and app management end to end on the test bed, both generations."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from stackbed import Stack, one_error
from testbed import IMAGES, TEST_LABEL, wait_until

pytestmark = pytest.mark.docker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MARATHON = "http://127.0.0.1:8080"


def up(stack: Stack) -> None:
    # Every readiness step takes a while, so "running" can't be claimed from a fast answer.
    stack.env("master", STANDIN_ELECTION_DELAY="0.5")
    stack.env("slave", STANDIN_REGISTRATION_DELAY="0.5")
    stack.env("marathon", STANDIN_REGISTRATION_DELAY="0.5")
    result = stack.cli("up")
    assert result.returncode == 0, result.stderr


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def master_tasks(stack: Stack) -> list[dict[str, Any]]:
    path = "/master/state" if "modern" in stack.name else "/master/state.json"
    state = requests.get(f"http://127.0.0.1:5050{path}", timeout=5).json()
    return [t for f in state["frameworks"] for t in f["tasks"]]


class EventClock:
    """Listens to Marathon's event stream and notes when each deployment_success arrives."""

    def __init__(self) -> None:
        self.success: dict[str, float] = {}
        self.ready = threading.Event()
        threading.Thread(target=self.listen, daemon=True).start()
        assert self.ready.wait(10), "the event stream did not attach"

    def listen(self) -> None:
        with requests.get(f"{MARATHON}/v2/events", stream=True, timeout=(2, 120),
                          headers={"Accept": "text/event-stream"}) as answer:
            for line in answer.iter_lines(chunk_size=1, decode_unicode=True):
                if line and line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event.get("eventType") == "event_stream_attached":
                        self.ready.set()
                    if event.get("eventType") == "deployment_success":
                        self.success[event["id"]] = time.monotonic()


def test_tutorial_app_lifecycle(stack: Stack, tmp_path: Path) -> None:
    before = stack.ids()
    up(stack)
    clock = EventClock()

    started = time.monotonic()
    deployed = stack.cli("deploy", str(EXAMPLES / "basic-0.json"))
    returned = time.monotonic()
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout == "/basic-0: running\n"
    assert "created /basic-0" in deployed.stderr
    deployment = deployed.stderr.split("(deployment ", 1)[1].split(")", 1)[0]
    assert deployment in clock.success, "deploy returned before Marathon announced success"
    print(f"deploy to running {returned - started:.2f} s; "
          f"{returned - clock.success[deployment]:.2f} s after deployment_success")
    running = [t for t in master_tasks(stack) if t["id"].startswith("basic-0.")]
    assert [t["state"] for t in running] == ["TASK_RUNNING"]

    logs = wait_until(lambda: (lambda r: r if "Hello Marathon" in r.stdout else None)(
        stack.cli("task-logs", "basic-0")), timeout=20, what="Hello Marathon in task-logs")
    assert logs.returncode == 0 and logs.stdout.startswith("Hello Marathon")

    changed = json.loads((EXAMPLES / "basic-0.json").read_text()) | {"instances": 2}
    updated = stack.cli("deploy", write(tmp_path, "basic-0.json", changed))
    assert updated.returncode == 0, updated.stderr
    assert "updated /basic-0" in updated.stderr
    listing = json.loads(stack.cli("apps", "-o", "json").stdout)
    assert [(a["id"], a["instances"], a["running"]) for a in listing] == [("/basic-0", 2, 2)]

    scaled = stack.cli("scale", "basic-0", "1")
    assert scaled.returncode == 0, scaled.stderr
    assert json.loads(stack.cli("apps", "-o", "json").stdout)[0]["running"] == 1

    removed = stack.cli("remove", "basic-0")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(stack.cli("apps", "-o", "json").stdout) == []

    group = stack.cli("deploy", str(EXAMPLES / "group.json"))
    assert group.returncode == 0, group.stderr
    assert set(group.stdout.split()) >= {"/shop/frontend:", "/shop/backend:",
                                          "/shop/jobs/worker:"}
    apps = {a["id"]: a["running"] for a in json.loads(stack.cli("apps", "-o", "json").stdout)}
    assert apps == {"/shop/frontend": 1, "/shop/backend": 2, "/shop/jobs/worker": 1}

    docker_app = {
        "id": "docker-0", "cmd": "echo from-docker; sleep 600", "cpus": 0.1, "mem": 16,
        "container": {"type": "DOCKER", "docker": {
            "image": IMAGES["task"], "network": "HOST",
            "parameters": [{"key": "label", "value": f"{TEST_LABEL}={stack.run_id}"}]}},
    }
    result = stack.cli("deploy", write(tmp_path, "docker-0.json", docker_app))
    assert result.returncode == 0, result.stderr
    siblings = [c.name for c in stack.client.containers.list(ignore_removed=True,
        filters={"label": f"{TEST_LABEL}={stack.run_id}"})]
    assert len(siblings) == 1 and siblings[0].startswith("mesos-")

    down = stack.cli("down")
    assert down.returncode == 0, down.stderr
    assert "and 1 task container" in down.stderr
    assert stack.ids() == before


def test_a_replaced_agent_takes_its_task_containers_along(
        stack: Stack, tmp_path: Path) -> None:
    """With docker_kill_orphans off, the new agent would leave the old one's Docker tasks
    running and no agent would report them: `up` removes them with the agent it replaces."""
    before = stack.ids()
    stack.env("slave", MESOS_DOCKER_KILL_ORPHANS="false")
    up(stack)
    docker_app = {
        "id": "docker-1", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
        "container": {"type": "DOCKER", "docker": {
            "image": IMAGES["task"], "network": "HOST",
            "parameters": [{"key": "label", "value": f"{TEST_LABEL}={stack.run_id}"}]}},
    }
    result = stack.cli("deploy", write(tmp_path, "docker-1.json", docker_app))
    assert result.returncode == 0, result.stderr
    first = {c.id for c in stack.client.containers.list(
        ignore_removed=True, filters={"label": f"{TEST_LABEL}={stack.run_id}"})
        if c.name.startswith("mesos-")}
    assert len(first) == 1

    stack.env("slave", MESOS_ATTRIBUTES="rack:r2")  # a changed agent: recreated
    again = stack.cli("up")
    assert again.returncode == 0, again.stderr
    assert "removed 1 task container(s) of the agent it replaces" in again.stderr
    left = {c.id for c in stack.client.containers.list(all=True, ignore_removed=True)}
    assert not first & left

    down = stack.cli("down")
    assert down.returncode == 0, down.stderr
    wait_until(lambda: stack.ids() == before or None, timeout=30,
               what="nothing of the stack left")


def test_failures_are_one_line_and_early(stack: Stack, tmp_path: Path) -> None:
    up(stack)
    crash = write(tmp_path, "crash.json", {"id": "crash", "cmd": "echo boom >&2; exit 3",
                                           "cpus": 0.1, "mem": 10, "backoffSeconds": 0.2})
    started = time.monotonic()
    failed = stack.cli("deploy", crash, "--timeout", "120")
    assert failed.returncode == 1
    assert time.monotonic() - started < 30  # early, not at the timeout
    error = one_error(failed.stderr)
    # Marathon called the deployment done at the task's first TASK_RUNNING: the settle window
    assert "app /crash: its task failed" in error
    assert "after Marathon called the deployment done" in error
    assert "TASK_FAILED: Command exited with status 3" in error

    big = write(tmp_path, "big.json", {"id": "big", "cmd": "sleep 100", "cpus": 0.1,
                                       "mem": 100000})
    unplaced = stack.cli("deploy", big, "--timeout", "120")
    assert unplaced.returncode == 1
    error = one_error(unplaced.stderr)
    assert "app /big can't be placed: no agent has enough mem" in error
    assert "free: 127.0.0.1 cpus" in error and "mem 2" in error

    # the big app's deployment never finishes: a new definition is refused, unless --force
    smaller = write(tmp_path, "big.json", {"id": "big", "cmd": "sleep 100", "cpus": 0.1,
                                           "mem": 90000})
    locked = stack.cli("deploy", smaller, "--no-wait")
    assert locked.returncode == 1
    assert "locked by deployment" in one_error(locked.stderr)
    forced = stack.cli("deploy", smaller, "--no-wait", "--force")
    assert forced.returncode == 0, forced.stderr

    unreachable = stack.cli("deploy", crash, "--marathon", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert "Marathon at http://127.0.0.1:9 does not answer" in one_error(unreachable.stderr)
    assert "mesostack status" in unreachable.stderr

    invalid = write(tmp_path, "bad.json", {"id": "Bad_Id", "cmd": "true"})
    refused = stack.cli("deploy", invalid)
    assert refused.returncode == 2
    assert "/id" in one_error(refused.stderr)


def test_credentials_are_used_and_never_shown(modern_stack: Stack, tmp_path: Path) -> None:
    secret = "s3cr3t-pa55"
    modern_stack.env("marathon", MARATHON_HTTP_CREDENTIALS=f"admin:{secret}")
    dry = modern_stack.cli("up", "--dry-run")
    assert "MARATHON_HTTP_CREDENTIALS=***" in dry.stdout and secret not in dry.stdout
    shown = modern_stack.cli("up", "--dry-run", "--show-secrets")
    assert f"MARATHON_HTTP_CREDENTIALS=admin:{secret}" in shown.stdout
    up_result = modern_stack.cli("up")  # its probes use the stack's own credentials
    assert up_result.returncode == 0, up_result.stderr
    status = modern_stack.cli("status", "-o", "json")
    assert status.returncode == 0 and json.loads(status.stdout)["apps"] == 0
    app = str(EXAMPLES / "basic-0.json")
    anonymous = modern_stack.cli("deploy", app, "--marathon", MARATHON)
    assert anonymous.returncode == 1
    assert "refused the credentials (401)" in one_error(anonymous.stderr)
    authed = modern_stack.cli("deploy", app)  # the stack's Marathon: the stack's credentials
    assert authed.returncode == 0, authed.stderr
    explicit = modern_stack.cli("scale", "basic-0", "2", "--marathon", MARATHON,
                                "--credentials", f"admin:{secret}")
    assert explicit.returncode == 0, explicit.stderr
    via_url = modern_stack.cli("apps", "--marathon", f"http://admin:{secret}@127.0.0.1:8080")
    assert via_url.returncode == 0 and "/basic-0" in via_url.stdout
    wrong = modern_stack.cli("apps", "--marathon", MARATHON, "--credentials", "admin:wrong")
    assert wrong.returncode == 1
    config = modern_stack.cli("config")
    assert "MARATHON_HTTP_CREDENTIALS: '***'" in config.stdout
    for result in (dry, up_result, status, anonymous, authed, explicit, via_url, wrong, config):
        assert secret not in result.stdout + result.stderr



def test_a_docker_app_on_command_only_agents_is_refused_at_once(stack: Stack,
                                                                tmp_path: Path) -> None:
    """Agents with the cgroup-v2 settings (MESOS_CONTAINERIZERS=mesos, their /state's
    flags.containerizers) can't run a DOCKER app: `deploy` says so before sending it, instead
    of following a deployment that never ends."""
    stack.env("slave", MESOS_CONTAINERIZERS="mesos", MESOS_LAUNCHER="posix")
    up = stack.cli("up")
    assert up.returncode == 0, up.stderr
    app = {"id": "docker-refused", "cmd": "sleep 600", "cpus": 0.1, "mem": 16,
           "container": {"type": "DOCKER", "docker": {"image": IMAGES["task"],
                                                      "network": "HOST"}}}
    path = write(tmp_path, "docker-r.json", app)
    started = time.monotonic()
    result = stack.cli("deploy", "--timeout", "30", path)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert one_error(result.stderr).startswith(
        f"mesostack: error: {path}: app /docker-refused has a DOCKER container, but no "
        "agent runs the Docker containerizer (containerizers: 127.0.0.1:5051 mesos)")
    assert took < 10
    apps = json.loads(stack.cli("apps", "-o", "json").stdout)
    assert all(a["id"] != "/docker-refused" for a in apps)
