"""The CI smoke job's files: the GitHub Actions workflow (valid against GitHub's workflow schema,
offline), its stack file, and examples/ci/smoke.sh (syntax, shellcheck, its SMOKE_* variables
mapped onto `mesostack smoke` against a fake `mesostack`, and a real one's first step)."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mesostack.config import StackConfig, load

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
WORKFLOW = CI / "github-actions-smoke.yml"
SMOKE = CI / "smoke.sh"


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


def test_the_workflow_installs_mesostack_and_runs_the_smoke_command() -> None:
    flow = workflow()
    assert set(flow[True]) == {"push", "pull_request", "workflow_dispatch"}  # YAML 1.1: on → True
    job = flow["jobs"]["smoke"]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert tuple(map(int, python["with"]["python-version"].split("."))) >= (3, 11)
    runs = [s.get("run", "") for s in steps]
    assert any("pip install ." in r for r in runs)
    smoke = next(i for i, r in enumerate(runs) if r.startswith("mesostack smoke "))
    assert smoke > next(i for i, r in enumerate(runs) if "pip install" in r)
    command = shlex.split(runs[smoke])
    assert command == ["mesostack", "smoke", "examples/basic-0.json=Hello Marathon",
                       "--timeout", "300", "--junit-xml", "$SMOKE_JUNIT",
                       "--bundle", "$SMOKE_BUNDLE"]
    assert (REPO / command[2].split("=", 1)[0]).is_file()
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "failure()"
    assert upload["with"]["path"].splitlines() == ["${{ env.SMOKE_JUNIT }}",
                                                   "${{ env.SMOKE_BUNDLE }}"]
    assert {"MESOSTACK_FILE", "SMOKE_JUNIT", "SMOKE_BUNDLE"} <= set(job["env"])


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


# A stand-in `mesostack`: writes its pid and each argument (one a line) to $FAKE_LOG, then
# exits with $FAKE_EXIT.
FAKE = r"""#!/usr/bin/env bash
{ echo "$$"; printf '%s\n' "$@"; } >"$FAKE_LOG"
exit "${FAKE_EXIT:-0}"
"""


def fake_env(tmp_path: Path, **env: str) -> dict[str, str]:
    fake = tmp_path / "mesostack"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    return {"PATH": os.environ["PATH"], "MESOSTACK": str(fake), "FAKE_LOG": str(tmp_path / "calls"),
            "SMOKE_BUNDLE": str(tmp_path / "bundle.tar.gz"), **env}


def called(tmp_path: Path) -> tuple[int, list[str]]:
    """The fake's pid and arguments, when it ran."""
    if not (tmp_path / "calls").exists():
        return 0, []
    pid, *args = (tmp_path / "calls").read_text().splitlines()
    return int(pid), args


def smoke(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    result = subprocess.run(["bash", str(SMOKE)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env=fake_env(tmp_path, **env))
    return result, called(tmp_path)[1]


def test_the_variables_become_the_smoke_commands_arguments(tmp_path: Path) -> None:
    result, args = smoke(tmp_path)
    assert result.returncode == 0, result.stderr
    basic = REPO / "examples" / "basic-0.json"  # the default, found in this repository
    assert args == ["smoke", f"{basic}=Hello Marathon", "--timeout", "120",
                    "--bundle", str(tmp_path / "bundle.tar.gz")]
    (tmp_path / "mine.json").write_text("{}")
    result, args = smoke(tmp_path, SMOKE_APP="mine.json", SMOKE_EXPECT="", SMOKE_TIMEOUT="9",
                         SMOKE_JUNIT="out/smoke.xml")
    assert result.returncode == 0, result.stderr
    assert args == ["smoke", "mine.json=", "--timeout", "9",  # empty: any output
                    "--bundle", str(tmp_path / "bundle.tar.gz"), "--junit-xml", "out/smoke.xml"]


def test_the_commands_exit_code_is_the_scripts(tmp_path: Path) -> None:
    for code in ("1", "2", "130", "143"):
        result, _ = smoke(tmp_path, FAKE_EXIT=code)
        assert result.returncode == int(code)


def test_the_script_becomes_the_command_so_that_a_signal_reaches_it(tmp_path: Path) -> None:
    """Ctrl-C and a CI runner's SIGTERM go to `mesostack smoke` itself, which takes the stack
    down (its own tests show that): the script execs it."""
    process = subprocess.Popen(["bash", str(SMOKE)], cwd=tmp_path, env=fake_env(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert process.wait(timeout=60) == 0
    assert called(tmp_path)[0] == process.pid


def test_bad_inputs_stop_before_anything_runs(tmp_path: Path) -> None:
    result, calls = smoke(tmp_path, SMOKE_TIMEOUT="soon")
    assert result.returncode == 2
    assert calls == []
    assert "SMOKE_TIMEOUT=soon is not whole seconds" in result.stderr.splitlines()[-1]
    result, calls = smoke(tmp_path, MESOSTACK=str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "install mesostack, or set MESOSTACK" in result.stderr.splitlines()[-1]


def test_a_group_is_not_a_smoke_app(tmp_path: Path, need_tool: Callable[[str], str]) -> None:
    """A real `mesostack smoke` stops at its first step, before anything reaches the engine."""
    mesostack = need_tool("mesostack")
    result = subprocess.run(
        ["bash", str(SMOKE)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "MESOSTACK": mesostack, "NO_COLOR": "1",
             "SMOKE_APP": str(REPO / "examples" / "group.json"), "SMOKE_JUNIT": "smoke.xml",
             "MESOSTACK_FILE": str(REPO / "examples" / "testbed.yaml")})
    assert result.returncode == 2  # input to fix
    assert "expected one app (not a group or a list), found a group" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("smoke: FAILED at step 'app files'")
    assert "==> down" not in result.stderr  # nothing reached the engine: nothing to take down
    assert '<skipped message="not run: app files failed"' in (tmp_path / "smoke.xml").read_text()
