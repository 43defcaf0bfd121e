"""Files deployed again, end to end on the test bed, both generations: an app exported from
Marathon, edited and deployed again, then `mesostack rollback` to its first version (the
stand-in keeps versions and answers `version` in an update as 0.11.1 and 1.10.26 do); a group
file with relative ids deployed twice with a change (the stand-in resolves them as each
version's GroupsResource does); `GET /v2/apps`'s answer deployed as a list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from test_deploy import MARATHON, master_tasks, up, write

from stackbed import Stack, one_error
from testbed import wait_until

pytestmark = pytest.mark.docker

FIRST = {"id": "exported", "cmd": "echo first; sleep 600", "cpus": 0.1, "mem": 16,
         "instances": 1}
REPORTED = {"version", "versionInfo", "tasks", "tasksRunning", "deployments"}


def shown(app_id: str) -> dict[str, Any]:
    """`GET /v2/apps/{id}` of the stack's Marathon, as a user would save it: wrapper and all."""
    answer = requests.get(f"{MARATHON}/v2/apps/{app_id}", timeout=5)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def versions(app_id: str) -> list[str]:
    answer = requests.get(f"{MARATHON}/v2/apps/{app_id}/versions", timeout=5)
    assert answer.status_code == 200, answer.text
    return sorted(answer.json()["versions"])


def running(stack: Stack, app_id: str) -> list[dict[str, Any]]:
    return [t for t in master_tasks(stack)
            if t["id"].startswith(f"{app_id}.") and t["state"] == "TASK_RUNNING"]


def test_an_exported_app_is_edited_deployed_and_rolled_back(stack: Stack, tmp_path: Path) -> None:
    up(stack)
    first = stack.cli("deploy", write(tmp_path, "first.json", FIRST))
    assert first.returncode == 0, first.stderr
    exported = shown("exported")
    assert exported["app"].keys() >= REPORTED
    first_version = exported["app"]["version"]

    # edited as saved, wrapper and reported fields included: Marathon would refuse its version
    exported["app"]["cmd"] = "echo second; sleep 600"
    path = write(tmp_path, "exported.json", exported)
    second = stack.cli("deploy", path)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "/exported: running\n"
    assert "updated /exported" in second.stderr
    warned = [line for line in second.stderr.splitlines() if line.startswith(
        f"mesostack: warning: {path}: dropped version, versionInfo, ")]
    assert len(warned) == 1 and "mesostack rollback" in warned[0], second.stderr
    now = shown("exported")["app"]
    assert now["cmd"] == "echo second; sleep 600" and now["version"] != first_version
    assert len(versions("exported")) == 2
    assert [t["id"] for t in running(stack, "exported")] == [now["tasks"][0]["id"]]

    listed = stack.cli("rollback", "exported", "--list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [now["version"], first_version]
    assert lines[0].endswith("  current") and not lines[1].endswith("current")

    back = stack.cli("rollback", "exported")
    assert back.returncode == 0, back.stderr
    assert back.stdout == "/exported: running\n"
    assert f"rolling back /exported to version {first_version}" in back.stderr
    rolled = shown("exported")["app"]
    assert rolled["cmd"] == FIRST["cmd"]
    assert rolled["version"] not in (first_version, now["version"])  # a new version
    assert [t["version"] for t in rolled["tasks"]] == [rolled["version"]]
    assert len(running(stack, "exported")) == 1
    assert len(versions("exported")) == 3
    again = stack.cli("rollback", "exported", "--list").stdout.splitlines()
    assert len(again) == 3 and again[0].startswith(rolled["version"])

    unknown = stack.cli("rollback", "exported", "2015-09-25T15:13:48.343Z")
    assert unknown.returncode == 2
    assert one_error(unknown.stderr).startswith(
        "mesostack: error: app /exported: Marathon keeps no version 2015-09-25T15:13:48.343Z")
    missing = stack.cli("rollback", "nope")
    assert missing.returncode == 1
    assert "has no app /nope" in one_error(missing.stderr)

    down = stack.cli("down")
    assert down.returncode == 0, down.stderr


def group(cmd_b: str) -> dict[str, Any]:
    """The id structure of Marathon's examples/Group.json (v0.11.1): a group with relative ids
    and a relative subgroup, its (absolute, as there) dependencies inside the file, commands
    the agents can run."""
    def app(name: str, cmd: str, *depends: str) -> dict[str, Any]:
        return {"id": name, "cmd": cmd, "cpus": 0.1, "mem": 16, "instances": 1,
                "dependencies": list(depends)}
    return {"id": "department-a",
            "apps": [app("service-common", "sleep 600")],
            "groups": [{"id": "product-a", "apps": [
                app("service-a", "sleep 600", "/department-a/service-common"),
                app("service-b", cmd_b, "/department-a/product-a/service-a")]}]}


GROUP_APPS = ["/department-a/product-a/service-a", "/department-a/product-a/service-b",
              "/department-a/service-common"]


def test_listings_and_relative_group_files_deploy_again_in_place(
        stack: Stack, tmp_path: Path) -> None:
    up(stack)
    deployed = stack.cli("deploy", write(tmp_path, "first.json", FIRST))
    assert deployed.returncode == 0, deployed.stderr
    listing = requests.get(f"{MARATHON}/v2/apps", timeout=5).json()
    listing["apps"][0]["instances"] = 2
    scaled = stack.cli("deploy", write(tmp_path, "apps.json", listing))
    assert scaled.returncode == 0, scaled.stderr
    assert scaled.stdout == "/exported: running\n"
    assert shown("exported")["app"]["instances"] == 2
    assert len(running(stack, "exported")) == 2
    dry = stack.cli("deploy", "--dry-run", write(tmp_path, "apps.json", listing))
    assert dry.returncode == 0, dry.stderr
    (line,) = dry.stdout.splitlines()
    assert not REPORTED & json.loads(line)["body"].keys()

    path = write(tmp_path, "group.json", group("sleep 600"))
    first = stack.cli("deploy", path)
    assert first.returncode == 0, first.stderr
    assert sorted(first.stdout.splitlines()) == [f"{a}: running" for a in GROUP_APPS]
    path = write(tmp_path, "group.json", group("echo changed; sleep 600"))
    again = stack.cli("deploy", path)
    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr, again.stderr
    apps = requests.get(f"{MARATHON}/v2/apps", timeout=5).json()["apps"]
    assert sorted(a["id"] for a in apps) == sorted([*GROUP_APPS, "/exported"])  # none nested
    changed = {a["id"]: a["cmd"] for a in apps}
    assert changed["/department-a/product-a/service-b"] == "echo changed; sleep 600"
    assert changed["/department-a/service-common"] == "sleep 600"

    def one_task_each() -> bool:  # the replaced task's kill may still be on its way
        tasks = master_tasks(stack)
        return all(len([t for t in tasks if t["state"] == "TASK_RUNNING" and t["id"].startswith(
            app_id.strip("/").replace("/", "_") + ".")]) == 1 for app_id in GROUP_APPS)
    wait_until(lambda: one_task_each() or None, timeout=30, what="one task per group app")
