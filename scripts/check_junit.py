"""Fail unless the JUnit report shows docker-marked tests that ran and none that were skipped.

tests/conftest.py tags every `docker`-marked test with the JUnit property `docker`.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(path: str) -> int:
    cases = ET.parse(path).getroot().iter("testcase")
    total = ran = 0
    skipped: list[str] = []
    for case in cases:
        total += 1
        props = {p.get("name") for p in case.iter("property")}
        if "docker" not in props:
            continue
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("skipped") is not None:
            skipped.append(name)
        else:
            ran += 1
    if total == 0:
        print(f"check_junit: {path} lists no tests", file=sys.stderr)
        return 1
    if skipped:
        print(f"check_junit: {len(skipped)} docker test(s) skipped:", file=sys.stderr)
        for name in skipped:
            print(f"  {name}", file=sys.stderr)
        return 1
    if ran == 0:
        print("check_junit: no docker-marked test ran", file=sys.stderr)
        return 1
    print(f"check_junit: {total} tests, {ran} docker tests ran, none skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
