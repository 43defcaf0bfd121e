"""`mesostack bundle` on the test bed, both generations: every part there, no secret anywhere,
and still a bundle when the master is stopped."""

from __future__ import annotations

import base64
import json
import tarfile
import time
from pathlib import Path

import docker
import pytest

from stackbed import Stack, all_container_ids
from testbed import IMAGES, TEST_LABEL, wait_until

pytestmark = pytest.mark.docker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MARATHON_PASSWORD = "m4rathon-pa55"
CREDENTIALS = f"admin:{MARATHON_PASSWORD}"
DB_PASSWORD = "db-hunter-2"
TOKEN = "t0ken-for-the-master"
APP_PASSWORD = "app-only-s3cret"
SECRETS = [MARATHON_PASSWORD, CREDENTIALS, DB_PASSWORD, TOKEN, APP_PASSWORD,
           base64.b64encode(CREDENTIALS.encode()).decode()]
ROLES = ("zookeeper", "master", "slave", "marathon")


def bundle(stack: Stack, directory: Path) -> tuple[Path, dict[str, bytes], str, float]:
    """Run `mesostack bundle -o DIR`; the tarball, its members (top directory stripped), the
    command's stderr, and how long it took."""
    started = time.monotonic()
    result = stack.cli("bundle", "-o", str(directory))
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.parent == directory and path.name.startswith(f"mesostack-bundle-{stack.name}-")
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        tops = {m.name.split("/", 1)[0] for m in members}
        assert tops == {path.name.removesuffix(".tar.gz")}
        contents = {m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
                    for m in members}
    return path, contents, result.stderr, took


def test_bundle_of_a_running_stack_then_with_the_master_stopped(
        stack: Stack, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    before = all_container_ids(docker_client)
    stack.env("marathon", MARATHON_HTTP_CREDENTIALS=CREDENTIALS)
    stack.env("slave", DB_PASSWORD=DB_PASSWORD)
    stack.env("master", FOO_TOKEN=TOKEN)
    up = stack.cli("up")
    assert up.returncode == 0, up.stderr
    deployed = stack.cli("deploy", str(EXAMPLES / "basic-0.json"))
    assert deployed.returncode == 0, deployed.stderr
    # A Docker task that prints secrets into its own log: one from its app's env, one the
    # stack file names (Marathon's password, here under an innocent name).
    app = {"id": "echo-secrets", "cmd": 'echo "connecting with $APP_PASSWORD and $PLAIN"; '
                                        "sleep 600",
           "cpus": 0.1, "mem": 16, "env": {"APP_PASSWORD": APP_PASSWORD,
                                           "PLAIN": MARATHON_PASSWORD},
           "container": {"type": "DOCKER", "docker": {
               "image": IMAGES["task"], "network": "HOST",
               "parameters": [{"key": "label", "value": f"{TEST_LABEL}={stack.run_id}"}]}}}
    app_file = tmp_path / "echo-secrets.json"
    app_file.write_text(json.dumps(app))
    deployed = stack.cli("deploy", str(app_file))
    assert deployed.returncode == 0, deployed.stderr
    task = next(c for c in docker_client.containers.list(
        filters={"label": f"{TEST_LABEL}={stack.run_id}"}))
    # its echo, before the bundle reads its log
    wait_until(lambda: b"connecting with" in task.logs(), timeout=10,
               what=f"the echo in the log of {task.name}")

    out = tmp_path / "bundles"
    out.mkdir()
    path, members, stderr, took = bundle(stack, out)
    print(f"\n{stack.name}: bundle of a running stack in {took:.2f} s, "
          f"{path.stat().st_size} bytes, {len(members)} members")

    names = [f"{stack.name}-{role}" for role in ROLES] + [task.name]
    expected = {f"containers/{n}/{f}" for n in names for f in ("logs.txt", "inspect.json")} | {
        "mesos/master-1-state.json", "mesos/agent-1-state.json", "marathon/apps.json",
        "marathon/deployments.json", "marathon/queue.json", "marathon/info.json",
        "zookeeper/tree.txt", "zookeeper/srvr-1.txt", "stack.yaml", "versions.json",
        "manifest.json", "README.txt"}
    assert set(members) == expected
    for name, data in members.items():
        assert data.strip(), f"{name} is empty"
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} in {name}"

    manifest = json.loads(members["manifest.json"])
    assert manifest["failed"] == []
    assert sorted(c["name"] for c in manifest["containers"]) == sorted(names)
    assert [c["name"] for c in manifest["containers"] if c["task"]] == [task.name]
    assert "5 containers" not in stderr and "4 containers and 1 task containers" in stderr
    assert "nothing missing" in stderr

    task_log = members[f"containers/{task.name}/logs.txt"].decode()
    assert "connecting with *** and ***" in task_log
    assert task_log[:4].isdigit()  # lines start with Docker's timestamps
    for role in ROLES:
        log = members[f"containers/{stack.name}-{role}/logs.txt"].decode()
        assert log[:4].isdigit(), role
        inspect = json.loads(members[f"containers/{stack.name}-{role}/inspect.json"])
        assert inspect["Name"] == f"/{stack.name}-{role}"
    env = json.loads(members[f"containers/{stack.name}-marathon/inspect.json"])["Config"]["Env"]
    assert "MARATHON_HTTP_CREDENTIALS=***" in env
    master_env = json.loads(members[f"containers/{stack.name}-master/inspect.json"])
    assert "FOO_TOKEN=***" in master_env["Config"]["Env"]

    legacy = "legacy" in stack.name
    master_state = json.loads(members["mesos/master-1-state.json"])
    assert master_state["leader"] and master_state["frameworks"][0]["name"] == "marathon"
    source = next(c["source"] for c in manifest["collected"]
                  if c["path"] == "mesos/master-1-state.json")
    assert source.endswith("/master/state.json" if legacy else "/master/state")
    assert json.loads(members["mesos/agent-1-state.json"])["id"]
    apps = json.loads(members["marathon/apps.json"])["apps"]
    assert {a["id"] for a in apps} == {"/basic-0", "/echo-secrets"}
    assert next(a for a in apps if a["id"] == "/echo-secrets")["env"]["APP_PASSWORD"] == "***"
    assert json.loads(members["marathon/info.json"])["frameworkId"]
    assert json.loads(members["marathon/deployments.json"]) == []
    assert "queue" in json.loads(members["marathon/queue.json"])
    tree = members["zookeeper/tree.txt"].decode()
    assert "\n/mesos/" in tree and ("/mesos/info_" if legacy else "/mesos/json.info_") in tree
    assert "\n/marathon/" in tree
    assert "Mode: standalone" in members["zookeeper/srvr-1.txt"].decode()
    config = members["stack.yaml"].decode()
    assert f"name: {stack.name}" in config and "MARATHON_HTTP_CREDENTIALS: '***'" in config
    versions = json.loads(members["versions.json"])
    assert versions["engines"][0]["server_version"]
    assert set(versions["components"]) == {"master-1", "agent-1", "marathon", "zookeeper-1"}
    assert all(versions["components"].values())
    assert {c["image"] for c in versions["containers"]} == {
        IMAGES[k] for k in ("zookeeper-official", "mesos-master", "mesos-slave", "marathon",
                            "task")}

    # The master stopped: still a bundle, and the manifest says what is missing and why.
    stack.containers()["master"].stop(timeout=2)
    path, members, stderr, took = bundle(stack, out)
    print(f"{stack.name}: bundle with the master stopped in {took:.2f} s, "
          f"{path.stat().st_size} bytes")
    manifest = json.loads(members["manifest.json"])
    failed = {f["path"]: f["error"] for f in manifest["failed"]}
    assert "mesos/master-1-state.json" in failed
    assert failed["mesos/master-1-state.json"] == (
        f"not asked: its container {stack.name}-master is exited")
    assert "not collected: mesos/master-1-state.json" in stderr
    assert f"containers/{stack.name}-master/logs.txt" in members  # a stopped one's log too
    assert "zookeeper/tree.txt" in members and "mesos/agent-1-state.json" in members
    assert "mesos/master-1-state.json  the master's state on 127.0.0.1:5050: " in (
        members["README.txt"].decode())
    for name, data in members.items():
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} in {name}"

    down = stack.cli("down")
    assert down.returncode == 0, down.stderr
    assert all_container_ids(docker_client) - before == set()  # nothing of ours left
