"""The CI smoke job's files: the GitHub Actions workflow (valid against GitHub's workflow schema,
offline), its stack file, and examples/ci/smoke.sh (syntax, shellcheck, and its steps against a
fake `mesostack`)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesostack.config import StackConfig, load
from testbed import wait_until

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
WORKFLOW = CI / "github-actions-smoke.yml"
SMOKE = CI / "smoke.sh"
STEPS = ["doctor", "up", "deploy", "task-logs", "status"]


def check_workflow(need_tool: Callable[[str], str],
                   path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=60)


def workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def test_the_workflow_is_valid_against_githubs_schema(need_tool: Callable[[str], str]) -> None:
    result = check_workflow(need_tool, WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path,
                                                     need_tool: Callable[[str], str]) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("if: failure()", "iff: failure()"))
    result = check_workflow(need_tool, broken)
    assert result.returncode == 1
    assert "iff" in result.stdout


def test_the_workflow_installs_mesostack_and_runs_the_smoke_script() -> None:
    flow = workflow()
    assert set(flow[True]) == {"push", "pull_request", "workflow_dispatch"}  # YAML 1.1: on → True
    job = flow["jobs"]["smoke"]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert tuple(map(int, python["with"]["python-version"].split("."))) >= (3, 11)
    runs = [s.get("run", "") for s in steps]
    assert any("pip install ." in r for r in runs)
    assert runs.index("bash examples/ci/smoke.sh") > next(
        i for i, r in enumerate(runs) if "pip install" in r)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "failure()"
    assert upload["with"]["path"] == "${{ env.SMOKE_BUNDLE }}"
    assert {"MESOSTACK_FILE", "SMOKE_APP", "SMOKE_EXPECT", "SMOKE_TIMEOUT",
            "SMOKE_BUNDLE"} <= set(job["env"])
    assert (REPO / job["env"]["SMOKE_APP"]).is_file()


def workflow_stack() -> StackConfig:
    return load(str(REPO / workflow()["jobs"]["smoke"]["env"]["MESOSTACK_FILE"])).config


def test_the_workflows_stack_starts_an_agent_without_cgroup_v1() -> None:
    from mesostack.plan import Role, build

    agent = build(workflow_stack(), "127.0.0.1").spec(Role.SLAVE)
    assert agent.privileged is False and agent.mounts == ()
    assert {k: v for k, v in agent.env if k in (
        "MESOS_CONTAINERIZERS", "MESOS_LAUNCHER", "MESOS_ISOLATION",
        "MESOS_SYSTEMD_ENABLE_SUPPORT")} == {
        "MESOS_CONTAINERIZERS": "mesos",  # the Docker containerizer needs the v1 `cpu` hierarchy
        "MESOS_LAUNCHER": "posix",  # the Linux launcher needs the v1 `freezer` hierarchy
        "MESOS_ISOLATION": "posix/cpu,posix/mem",
        "MESOS_SYSTEMD_ENABLE_SUPPORT": "false",
    }


def test_the_workflows_stack_has_the_default_images() -> None:
    stack = workflow_stack()
    images = {role: stack.component(role).image
              for role in ("zookeeper", "master", "slave", "marathon")}
    assert not any(i.startswith("mesoscloud/") for i in images.values())  # schema 1: refused
    from mesostack.config import StackConfig

    assert images == {role: StackConfig().component(role).image for role in images}  # default


def test_the_smoke_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(SMOKE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_smoke_script_is_shellcheck_clean(need_tool: Callable[[str], str]) -> None:
    result = subprocess.run([need_tool("shellcheck"), str(SMOKE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# A stand-in `mesostack`: logs each call, answers `deploy --dry-run` as mesostack does, fails the
# command named by FAKE_FAIL, has a `bundle` command only with FAKE_BUNDLE=1.
FAKE = r"""#!/usr/bin/env bash
echo "$*" >>"$FAKE_LOG"
case "$1 ${2:-}" in
    "deploy --dry-run")
        echo '{"method": "POST", "url": "http://h:8080/v2/apps", "body": {"id": "basic-0"}}'
        exit 0 ;;
    "bundle --help") [ "${FAKE_BUNDLE:-}" = 1 ]; exit ;;
esac
if [ "$1" = "${FAKE_HANG:-}" ]; then echo hanging >"$FAKE_LOG.hang"; exec sleep 60; fi
if [ "$1" = "${FAKE_FAIL:-}" ]; then echo "mesostack: error: $1 failed" >&2; exit 3; fi
case $1 in
    task-logs) echo "${FAKE_OUTPUT-Hello Marathon}" ;;
    bundle) echo bundle >"$3" ;;
esac
"""


def fake_env(tmp_path: Path, **env: str) -> dict[str, str]:
    fake = tmp_path / "mesostack"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    (tmp_path / "calls").touch()
    return {"PATH": os.environ["PATH"], "MESOSTACK": str(fake), "FAKE_LOG": str(tmp_path / "calls"),
            "SMOKE_BUNDLE": str(tmp_path / "bundle.tar.gz"), **env}


def calls_of(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "calls").read_text().splitlines()
    return [line.split()[0] for line in lines if line != "bundle --help"]


def smoke(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    result = subprocess.run(["bash", str(SMOKE)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env=fake_env(tmp_path, **env))
    return result, calls_of(tmp_path)


def test_a_passing_smoke_run_goes_through_every_step_then_down(tmp_path: Path) -> None:
    result, calls = smoke(tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == ["deploy", *STEPS, "down"]  # the first deploy is the app file's --dry-run
    for name in ("app file", "doctor", "up", "deploy", "task output", "status", "down"):
        assert f"==> {name}" in result.stderr
        assert f"<== {name}: ok (" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("smoke: passed in ")
    assert not (tmp_path / "bundle.tar.gz").exists()


@pytest.mark.parametrize("command", ["doctor", "up", "deploy", "status"])
def test_a_failed_step_is_named_bundled_and_the_stack_goes_down(tmp_path: Path,
                                                                 command: str) -> None:
    result, calls = smoke(tmp_path, FAKE_FAIL=command, FAKE_BUNDLE="1")
    assert result.returncode == 3
    assert calls[-3:] == [command, "bundle", "down"]
    assert "bundle" not in calls[:-2]
    assert result.stderr.splitlines()[-1].startswith(
        f"smoke: FAILED at step '{command}': {command} failed (exit 3")  # mesostack's reason
    assert (tmp_path / "bundle.tar.gz").read_text() == "bundle\n"


def test_without_a_bundle_command_it_still_goes_down_and_names_the_step(tmp_path: Path) -> None:
    result, calls = smoke(tmp_path, FAKE_FAIL="up")
    assert result.returncode == 3
    assert calls[-2:] == ["up", "down"]  # `bundle --help` answered no: no bundle
    assert "no `bundle` command" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("smoke: FAILED at step 'up'")


def test_task_output_without_the_expected_text_fails_after_the_timeout(tmp_path: Path) -> None:
    result, calls = smoke(tmp_path, SMOKE_EXPECT="never printed", SMOKE_TIMEOUT="0")
    assert result.returncode == 1
    assert calls[-2:] == ["task-logs", "down"]
    assert result.stderr.splitlines()[-1].startswith(
        "smoke: FAILED at step 'task output': no \"never printed\" in basic-0's output within 0 s")
    assert "Hello Marathon" in result.stderr  # the last output it saw


def test_a_failing_down_fails_a_passing_run(tmp_path: Path) -> None:
    result, _ = smoke(tmp_path, FAKE_FAIL="down")
    assert result.returncode == 3
    assert result.stderr.splitlines()[-1].startswith("smoke: FAILED at step 'down'")


def test_ctrl_c_during_a_step_still_takes_the_stack_down(tmp_path: Path) -> None:
    process = subprocess.Popen(["bash", str(SMOKE)], stderr=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL, cwd=tmp_path, start_new_session=True,
                               env=fake_env(tmp_path, FAKE_HANG="up", FAKE_BUNDLE="1"))

    def hanging() -> bool:
        assert process.poll() is None, f"smoke.sh exited {process.returncode} before `up` hung"
        return (tmp_path / "calls.hang").exists()

    try:
        wait_until(hanging, timeout=30, what="the fake `mesostack up` to hang")
    except AssertionError:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        raise
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert calls_of(tmp_path)[-3:] == ["up", "bundle", "down"]
    assert stderr.splitlines()[-1].startswith("smoke: FAILED at step 'up (interrupted)' (exit 130")


def test_bad_inputs_stop_before_anything_runs(tmp_path: Path) -> None:
    result, calls = smoke(tmp_path, SMOKE_TIMEOUT="soon")
    assert result.returncode == 2
    assert calls == []
    assert "SMOKE_TIMEOUT=soon is not whole seconds" in result.stderr.splitlines()[-1]
    result, calls = smoke(tmp_path, MESOSTACK=str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "install mesostack, or set MESOSTACK" in result.stderr.splitlines()[-1]


def test_a_group_is_not_a_smoke_app(tmp_path: Path, need_tool: Callable[[str], str]) -> None:
    mesostack = need_tool("mesostack")
    result = subprocess.run(
        ["bash", str(SMOKE)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "MESOSTACK": mesostack, "NO_COLOR": "1",
             "SMOKE_APP": str(REPO / "examples" / "group.json"),
             "MESOSTACK_FILE": str(REPO / "examples" / "testbed.yaml")})
    assert result.returncode == 1
    assert "expected one app (not a group or a list)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("smoke: FAILED at step 'app file'")
    assert "==> down" not in result.stderr  # nothing reached the engine: nothing to take down
