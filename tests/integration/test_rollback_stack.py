"""An app exported from Marathon, edited and deployed again, then `mesostack rollback` to its
first version, end to end on the test bed, both generations (the stand-in keeps versions and
answers `version` in an update as 0.11.1 and 1.10.26 do)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from test_deploy import MARATHON, master_tasks, up, write

from stackbed import Stack, one_error

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


def test_the_apps_of_get_v2_apps_are_read_as_a_list(stack: Stack, tmp_path: Path) -> None:
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
