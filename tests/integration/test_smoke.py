"""`mesostack smoke` on the test bed (examples/testbed.yaml): it passes with a JUnit report that
junitparser reads, and leaves nothing behind; a broken app fails the `deploy` testcase with
exit 1, still writing the bundle and taking the stack down; examples/ci/smoke.sh, its thin
wrapper, names the app whose text never comes; the GitHub Action's script installs mesostack
from this checkout into a virtualenv of its own and passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from conftest import ENGINE26
from stackbed import all_container_ids, cli_env

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "examples" / "ci" / "smoke.sh"
ACTION_SCRIPT = REPO / "scripts" / "action-smoke"
TESTBED = REPO / "examples" / "testbed.yaml"
BASIC = REPO / "examples" / "basic-0.json"
STACK = "testbed"  # examples/testbed.yaml's name
BIN = Path(sys.executable).parent  # the virtualenv's bin, with its `mesostack`


@dataclass(frozen=True)
class On:
    """An engine the smoke test runs on: docker-py's client and its DOCKER_HOST (None: the
    machine's)."""

    client: docker.DockerClient
    host: str | None

    def ids(self) -> set[str]:
        return all_container_ids(self.client, host=self.host)

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host} if self.host else {}


def _cleaned(on: On) -> Iterator[On]:
    """`on`, with the test bed's stack removed whatever the run left."""
    try:
        yield on
    finally:
        for container in on.client.containers.list(
                all=True, ignore_removed=True, filters={"label": f"io.mesostack.stack={STACK}"}):
            container.remove(force=True)


@pytest.fixture(params=[None, ENGINE26], ids=["docker20", "docker26"])
def engine(request: pytest.FixtureRequest, docker_client: docker.DockerClient) -> Iterator[On]:
    """The machine's engine, then Docker 26.1."""
    client = request.getfixturevalue("client26") if request.param else docker_client
    yield from _cleaned(On(client, request.param))


@pytest.fixture
def engine20(docker_client: docker.DockerClient) -> Iterator[On]:
    yield from _cleaned(On(docker_client, None))


def timed(command: list[str], *, cwd: Path, env: dict[str, str],
          timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env=env)
    return result, time.monotonic() - started


def smoke_command(tmp_path: Path, *args: str, **env: str
                  ) -> tuple[subprocess.CompletedProcess[str], float]:
    """`mesostack -f examples/testbed.yaml smoke ARGS`."""
    return timed([str(BIN / "mesostack"), "-f", str(TESTBED), "smoke", *args], cwd=tmp_path,
                 env=cli_env(**env))


def run_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environment = {**cli_env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   "MESOSTACK_FILE": str(TESTBED),
                   "SMOKE_BUNDLE": str(tmp_path / "bundle.tar.gz"), **env}
    return timed(["bash", str(SMOKE)], cwd=tmp_path, env=environment)


def suite_of(path: Path) -> tuple[TestSuite, list[TestCase]]:
    """The report's one testsuite and its testcases, as a CI reporter reads them."""
    xml = JUnitXml.fromfile(str(path))
    (suite,) = list(xml) if isinstance(xml, JUnitXml) else [xml]
    assert isinstance(suite, TestSuite)
    return suite, list(suite)


def how(case: TestCase) -> str:
    kinds = {Failure: "failed", Skipped: "skipped"}
    return next((kinds[type(r)] for r in case.result if type(r) in kinds),
                "error" if case.result else "passed")


def test_the_smoke_command_passes_with_a_junit_report_and_leaves_nothing(
        engine: On, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """Two apps: one whose text is waited for, one that only has to be deployed and healthy."""
    idle = tmp_path / "idle.json"
    idle.write_text(json.dumps({"id": "smoke-idle", "cmd": "sleep 600", "cpus": 0.1,
                                "mem": 16}))
    before = engine.ids()
    result, seconds = smoke_command(tmp_path, f"{BASIC}=Hello Marathon", str(idle),
                                    "--junit-xml", "reports/smoke.xml", **engine.env())
    record_property("smoke_seconds", round(seconds, 2))
    print(f"smoke run: {seconds:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hello Marathon" in result.stdout
    assert "smoke-idle: 1/1 running" in result.stdout
    for step in ("app files", "doctor", "up", "deploy", "app basic-0", "app smoke-idle",
                 "status", "down"):
        assert f"smoke: <== {step}: ok (" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("smoke: passed in ")
    suite, cases = suite_of(tmp_path / "reports" / "smoke.xml")
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == (
        "mesostack smoke", 8, 0, 0, 0)
    assert 0 < suite.time <= seconds
    assert [(c.classname, c.name, how(c)) for c in cases] == [
        ("mesostack.smoke", "app files", "passed"), ("mesostack.smoke", "doctor", "passed"),
        ("mesostack.smoke", "up", "passed"), ("mesostack.smoke", "deploy", "passed"),
        ("mesostack.smoke.apps", "basic-0", "passed"),
        ("mesostack.smoke.apps", "smoke-idle", "passed"),
        ("mesostack.smoke", "status", "passed"), ("mesostack.smoke", "down", "passed")]
    assert all(case.time >= 0 for case in cases)
    assert cases[2].time > 0  # up took a while
    assert engine.ids() == before
    assert not list(tmp_path.glob("mesostack-bundle-*"))


def test_a_broken_app_fails_the_deploy_testcase_with_exit_1(engine20: On, tmp_path: Path) -> None:
    crash = tmp_path / "crash.json"
    crash.write_text(json.dumps({"id": "crash", "cmd": "echo boom >&2; exit 3", "cpus": 0.1,
                                 "mem": 10, "backoffSeconds": 0.2}))
    before = engine20.ids()
    result, seconds = smoke_command(tmp_path, f"{crash}=never", "--junit-xml", "smoke.xml",
                                    "--bundle", "bundle.tar.gz", "--timeout", "60")
    print(f"broken app's smoke run: {seconds:.1f} s")
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line.removeprefix("mesostack: error: ") for line in result.stderr.splitlines()
              if line.startswith("mesostack: error: ")]
    assert errors and errors[0].startswith("app /crash: "), result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"smoke: FAILED at step 'deploy': {errors[0]} (exit 1, "), last
    assert "smoke: <== bundle: ok (" in result.stderr
    assert "smoke: <== down: ok (" in result.stderr
    _, cases = suite_of(tmp_path / "smoke.xml")
    assert [(c.name, how(c)) for c in cases] == [
        ("app files", "passed"), ("doctor", "passed"), ("up", "passed"), ("deploy", "failed"),
        ("crash", "skipped"), ("status", "skipped"), ("bundle", "passed"), ("down", "passed")]
    (failure,) = cases[3].result
    assert isinstance(failure, Failure)
    assert failure.message == errors[0]
    assert failure.text  # the log tail, or the message when nothing could be read
    assert (tmp_path / "bundle.tar.gz").stat().st_size > 0
    assert engine20.ids() == before


def test_the_wrapper_names_the_app_whose_text_never_comes(
        engine20: On, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    before = engine20.ids()
    result, seconds = run_script(tmp_path, SMOKE_EXPECT="text no task prints", SMOKE_TIMEOUT="3",
                                 SMOKE_JUNIT=str(tmp_path / "smoke.xml"),
                                 MESOSTACK=str(BIN / "mesostack"))
    record_property("failing_smoke_seconds", round(seconds, 2))
    print(f"failing smoke run: {seconds:.1f} s")
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("smoke: FAILED at step 'app basic-0': no \"text no task prints\" in "
                           "basic-0's output within 3 s"), last
    assert "Hello Marathon" in result.stderr  # the output it saw, in the log tail
    assert "smoke: <== bundle: ok (" in result.stderr
    assert "smoke: <== down: ok (" in result.stderr
    assert (tmp_path / "bundle.tar.gz").stat().st_size > 0
    _, cases = suite_of(tmp_path / "smoke.xml")
    assert [c.name for c in cases if how(c) == "failed"] == ["basic-0"]
    assert engine20.ids() == before


def test_the_actions_script_installs_the_checkout_and_passes(
        engine20: On, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """As action.yml runs it, with install-from left empty: this checkout."""
    before = engine20.ids()
    env = {**cli_env(), "MESOSTACK_FILE": str(TESTBED), "SMOKE_PYTHON": sys.executable,
           "SMOKE_VENV": str(tmp_path / "venv"), "SMOKE_APPS": f"{BASIC}=Hello Marathon\n",
           "SMOKE_TIMEOUT": "120", "SMOKE_JUNIT": str(tmp_path / "smoke.xml"),
           "SMOKE_BUNDLE": str(tmp_path / "bundle.tar.gz"),
           "GITHUB_OUTPUT": str(tmp_path / "outputs")}
    env.pop("MESOSTACK_INSTALL", None)
    result, seconds = timed(["bash", str(ACTION_SCRIPT)], cwd=tmp_path, env=env, timeout=900)
    record_property("action_seconds", round(seconds, 2))
    print(f"action script: {seconds:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"action-smoke: installing mesostack from {REPO} into {tmp_path / 'venv'}" in (
        result.stderr)
    assert (tmp_path / "venv" / "bin" / "mesostack").exists()
    assert result.stderr.splitlines()[-1].startswith("smoke: passed in ")
    suite, cases = suite_of(tmp_path / "smoke.xml")
    assert (suite.tests, suite.failures, suite.errors) == (7, 0, 0)
    assert [c.name for c in cases if c.classname == "mesostack.smoke.apps"] == ["basic-0"]
    assert (tmp_path / "outputs").read_text() == (
        f"junit-xml={tmp_path / 'smoke.xml'}\nbundle={tmp_path / 'bundle.tar.gz'}\n")
    assert engine20.ids() == before
