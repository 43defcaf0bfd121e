"""The pytest plugin on the test bed (examples/testbed.yaml): tests/pytest_project run by
pytester. Its two tests pass on one stack brought up once, and a failing one leaves its bundle;
a run killed (SIGKILL) while its test sleeps after deploying, then a new run: the killed run's
app is gone before the new run's tests, and at its end nothing is left (an unfiltered
`docker ps -a` as before the first run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from stackbed import all_container_ids
from testbed import wait_until

pytestmark = pytest.mark.docker
pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "pytest_project"
TESTBED = REPO / "examples" / "testbed.yaml"
STACK = "testbed"  # examples/testbed.yaml's name
MARATHON = "http://127.0.0.1:8080"  # examples/testbed.yaml's
LABEL = "io.mesostack.pytest"


@dataclass(frozen=True)
class Project:
    """tests/pytest_project, copied where pytester runs it."""

    pytester: pytest.Pytester
    client: docker.DockerClient

    @property
    def path(self) -> Path:
        return self.pytester.path

    def run(self, *args: str) -> pytest.RunResult:
        # `=`: pytest finds its rootdir before it knows the plugin's options, taking a value
        # given apart for a path to test
        return self.pytester.runpytest_subprocess(f"--mesostack-file={TESTBED}", *args,
                                                  timeout=600)

    def records(self) -> list[dict[str, Any]]:
        path = self.path / "record.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def ids(self) -> set[str]:
        return all_container_ids(self.client)


@pytest.fixture
def project(pytester: pytest.Pytester, docker_client: docker.DockerClient,
            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Project]:
    for source in PROJECT.iterdir():
        if source.is_file():
            (pytester.path / source.name).write_text(source.read_text())
    shared = tmp_path / "tmp"  # the plugin's seats and locks: this test's own
    shared.mkdir()
    for name, value in {"NO_COLOR": "1", "MESOSTACK_FILE": "", "TMPDIR": str(shared),
                        "MESOSTACK_PROJECT_RECORD": str(pytester.path / "record.jsonl"),
                        "MESOSTACK_PROJECT_DEPLOYED": str(pytester.path / "deployed")}.items():
        monkeypatch.setenv(name, value)
    try:
        yield Project(pytester, docker_client)
    finally:
        for container in docker_client.containers.list(
                all=True, ignore_removed=True, filters={"label": f"io.mesostack.stack={STACK}"}):
            container.remove(force=True)


def test_two_tests_share_one_stack_and_a_failed_one_leaves_its_bundle(project: Project) -> None:
    before = project.ids()
    result = project.run("check_stack.py", "check_fails.py", "--mesostack-bundle-dir=bundles",
                         "--log-file=mesostack.log", "--log-file-level=INFO")
    result.assert_outcomes(passed=2, failed=1)
    log = (project.path / "mesostack.log").read_text()
    assert log.count("stack testbed: bringing it up") == 1, log
    assert log.count("stack testbed: taking it down") == 1, log
    seen = project.records()
    assert [r["test"] for r in seen] == ["test_an_app_runs", "test_the_stack_is_ready"]
    assert seen[0]["containers"] and seen[0]["containers"] == seen[1]["containers"]
    assert seen[1]["apps"] == {}  # the first test's app removed after it
    bundles = list((project.path / "bundles").iterdir())
    assert [b.name for b in bundles] == ["check_fails.py__test_fails_on_purpose.tar.gz"]
    with tarfile.open(bundles[0]) as bundle:
        assert any(name.endswith("/manifest.json") for name in bundle.getnames())
    result.stdout.fnmatch_lines(["*- mesostack bundle -*", f"{bundles[0]}"])
    assert project.ids() == before


def marathon_apps() -> dict[str, dict[str, str]]:
    answer = requests.get(f"{MARATHON}/v2/apps", timeout=5)
    answer.raise_for_status()
    return {a["id"]: a.get("labels") or {} for a in answer.json()["apps"]}


def test_a_killed_run_leaves_nothing_once_a_new_run_is_done(project: Project) -> None:
    before = project.ids()
    with (project.path / "killed.log").open("w") as out:
        killed = subprocess.Popen(
            [sys.executable, "-m", "pytest", f"--mesostack-file={TESTBED}", "check_killed.py"],
            cwd=project.path, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        wait_until((project.path / "deployed").exists, timeout=400, interval=0.5,
                   what="the killed run's test to deploy its app")
    finally:
        killed.kill()  # SIGKILL: no teardown, no down
        killed.wait(timeout=30)
    left = marathon_apps()
    assert LABEL in left["/pytest-killed"], left
    result = project.run("check_stack.py")
    result.assert_outcomes(passed=2)
    first = project.records()[0]
    assert "/pytest-killed" not in first["apps"], first  # gone before the new run's tests
    assert not [a for a, labels in first["apps"].items() if LABEL in labels], first
    assert project.ids() == before
