"""scripts/check_junit.py on small JUnit reports: with CI=true any skipped test fails the report,
named with its reason; elsewhere only a skipped docker test does, and some docker test must run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_junit.py"
DOCKER = '<properties><property name="docker" value="1" /></properties>'


def case(name: str, *, docker: bool = False, skipped: str | None = None) -> str:
    """One <testcase> as pytest writes it (junit_family xunit1)."""
    inner = DOCKER if docker else ""
    if skipped is not None:
        inner += (f'<skipped type="pytest.skip" message="{skipped}">'
                  f"tests/x.py:1: {skipped}</skipped>")
    return f'<testcase classname="tests.unit.test_x" name="{name}" time="0.1">{inner}</testcase>'


def check(tmp_path: Path, *cases: str, ci: bool) -> tuple[int, list[str]]:
    """Run the script on a report of `cases`, with CI=true or without CI; exit code and stderr."""
    report = tmp_path / "junit.xml"
    report.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
                      + "".join(cases) + "</testsuite></testsuites>")
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "true"
    done = subprocess.run([sys.executable, str(SCRIPT), str(report)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert done.stdout == ""
    return done.returncode, done.stderr.splitlines()


def test_a_skipped_test_fails_in_ci_by_name_and_reason(tmp_path: Path) -> None:
    cases = (case("test_up", docker=True), case("test_plain"),
             case("test_shellcheck", skipped="`shellcheck` is not installed"),
             case("test_schema", skipped="no jsonschema"))
    assert check(tmp_path, *cases, ci=True) == (1, [
        "check_junit: 2 test(s) skipped with CI=true:",
        "  tests.unit.test_x::test_shellcheck: `shellcheck` is not installed",
        "  tests.unit.test_x::test_schema: no jsonschema"])


def test_outside_ci_only_docker_tests_must_not_skip(tmp_path: Path) -> None:
    cases = (case("test_up", docker=True),
             case("test_shellcheck", skipped="`shellcheck` is not installed"))
    assert check(tmp_path, *cases, ci=False) == (
        0, ["check_junit: 2 tests, 1 docker tests ran, 1 other(s) skipped"])


@pytest.mark.parametrize("ci", [True, False])
def test_a_skipped_docker_test_fails_either_way(tmp_path: Path, ci: bool) -> None:
    code, lines = check(tmp_path, case("test_up", docker=True),
                        case("test_down", docker=True, skipped="no Docker engine answers"), ci=ci)
    assert code == 1
    assert lines[1:] == ["  tests.unit.test_x::test_down: no Docker engine answers"]


@pytest.mark.parametrize("ci", [True, False])
def test_nothing_skipped_passes_either_way(tmp_path: Path, ci: bool) -> None:
    assert check(tmp_path, case("test_up", docker=True), case("test_plain"), ci=ci) == (
        0, ["check_junit: 2 tests, 1 docker tests ran, none skipped"])


@pytest.mark.parametrize("ci", [True, False])
def test_no_docker_test_or_no_test_at_all_fails(tmp_path: Path, ci: bool) -> None:
    assert check(tmp_path, case("test_plain"), ci=ci) == (
        1, ["check_junit: no docker-marked test ran"])
    code, lines = check(tmp_path, ci=ci)
    assert (code, lines) == (1, [f"check_junit: {tmp_path / 'junit.xml'} lists no tests"])
