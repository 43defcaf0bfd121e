"""Fail unless the JUnit report shows docker-marked tests that ran and none that were skipped.

With CI=true no test at all may be skipped: CI installs every tool a test needs, so a skip there
hides a test that did not run. Elsewhere only a skipped docker test fails the report.
tests/conftest.py tags every `docker`-marked test with the JUnit property `docker`.
Usage: python scripts/check_junit.py REPORT.xml
"""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One test of the report: its name, whether it is docker-marked, why it was skipped."""

    name: str
    docker: bool
    skipped: str | None


def read(path: str) -> list[Case]:
    """Every test case of the report, in its order."""
    found = []
    for case in ET.parse(path).getroot().iter("testcase"):
        skipped = case.find("skipped")
        reason = None if skipped is None else (skipped.get("message") or "no reason given")
        found.append(Case(name=f"{case.get('classname')}::{case.get('name')}",
                          docker="docker" in {p.get("name") for p in case.iter("property")},
                          skipped=reason))
    return found


def check(path: str, cases: list[Case], *, in_ci: bool) -> tuple[bool, list[str]]:
    """Whether the report passes, and the lines that say so or why not."""
    if not cases:
        return False, [f"check_junit: {path} lists no tests"]
    skipped = [c for c in cases if c.skipped is not None]
    failing = [c for c in skipped if in_ci or c.docker]
    if failing:
        what = "test(s) skipped with CI=true" if in_ci else "docker test(s) skipped"
        return False, [f"check_junit: {len(failing)} {what}:",
                       *(f"  {c.name}: {c.skipped}" for c in failing)]
    ran = sum(1 for c in cases if c.docker and c.skipped is None)
    if ran == 0:
        return False, ["check_junit: no docker-marked test ran"]
    others = f"{len(skipped)} other(s) skipped" if skipped else "none skipped"
    return True, [f"check_junit: {len(cases)} tests, {ran} docker tests ran, {others}"]


def main(path: str) -> int:
    passed, lines = check(path, read(path), in_ci=os.environ.get("CI") == "true")
    for line in lines:
        print(line, file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
